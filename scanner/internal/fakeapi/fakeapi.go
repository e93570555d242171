// Package fakeapi is an in-process fake of the upload part of invsync's
// HTTP API (POST /v1/transactions, GET /v1/transactions/{id}), for the
// scanner's tests and its command's: hooks inject rejections, outcomes
// and failures that a real server cannot be made to produce on cue. The
// contract suite (api/apitest) holds it to the real server's answers.
package fakeapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/api/apitest"
)

// Server implements the upload contract of POST /v1/transactions and
// GET /v1/transactions/{id} faithfully enough to hold the device to it:
// bearer tokens bound to a scanner id (401, 403 SCANNER_MISMATCH),
// idempotency by transactionId over the transaction's fields and the
// scannerId (duplicate; IDEMPOTENCY_MISMATCH for another body), at most
// 1000 transactions and MaxBody bytes a request (413), ?wait=applied
// outcomes. Hooks inject rejections, outcomes and failures.
type Server struct {
	HTTP *httptest.Server

	// Mu guards the fields below; a test holds it to read or change them.
	Mu      sync.Mutex
	Tokens  map[string]string // token -> the scanner id it may upload as
	MaxBody int
	Stored  map[string]string // transactionId -> canonical body
	Applied map[string]*api.Outcome
	Writes  map[string]int    // transactionId -> times written (accepted)
	byUser  map[string]int    // userId -> transactions written (the tests give each scan its own)
	stock   map[string]*stock // warehouse|item|location|lot -> what was applied there
	order   []string          // transactionIds in order of acceptance
	reqs    []Request
	gets    int
	dups    int // results answered duplicate

	// Reject decides an ingest rejection (code, message) or "".
	Reject func(tx map[string]any) (string, string)
	// OutcomeOf decides the ?wait=applied outcome; nil means applied.
	OutcomeOf func(tx map[string]any) *api.Outcome
	// Fail decides, per request number (from 1), a failure: "503",
	// "500-after" (processed, then 500), "429:N" (Retry-After N s),
	// "drop-before" (connection closed unread), "drop-after" (processed,
	// then connection closed without an answer), "garbage-after".
	Fail func(n int) string
	// Delay is slept before answering.
	Delay time.Duration
	// Beats are the heartbeats received, in order.
	Beats []api.DeviceReport
}

// Request is a request as the fake received it.
type Request struct {
	Status      int
	Traceparent string
	ScannerID   string
	SentAt      string
	Txs         []json.RawMessage
	Size        int
	Device      *api.DeviceReport // the upload's device object, if any
}

// New starts a fake that knows one token, tok-1, of scanner SCANNER-1.
func New(t testing.TB) *Server {
	f := &Server{Tokens: map[string]string{"tok-1": "SCANNER-1"}, MaxBody: api.MaxBodyBytes,
		Stored: map[string]string{}, Applied: map[string]*api.Outcome{}, Writes: map[string]int{}, byUser: map[string]int{}, stock: map[string]*stock{}}
	f.HTTP = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.HTTP.Close)
	return f
}

// RejectWhere is a Reject hook that rejects, with code and message, every
// transaction whose field holds value, and accepts the others.
func RejectWhere(field, value, code, message string) func(tx map[string]any) (string, string) {
	return func(tx map[string]any) (string, string) {
		if tx[field] == value {
			return code, message
		}
		return "", ""
	}
}

// FailFirst is a Fail hook that fails the first request with mode and
// none after it.
func FailFirst(mode string) func(n int) string {
	return func(n int) string {
		if n == 1 {
			return mode
		}
		return ""
	}
}

// URL is the fake's base URL.
func (f *Server) URL() string { return f.HTTP.URL }

// stock is a record's quantity and version, as the processors keep them.
type stock struct{ onHand, version int64 }

// apply is the processors' part, much simplified: a transaction changes
// its record's quantity and version. f.Mu is held.
func (f *Server) apply(tx map[string]any) *api.Outcome {
	str := func(k string) string { s, _ := tx[k].(string); return s }
	n, _ := tx["quantity"].(json.Number)
	q, _ := n.Int64()
	st := f.stock[str("warehouseId")+"|"+str("itemId")+"|"+str("locationId")+"|"+str("lotNumber")]
	if st == nil {
		st = &stock{}
		f.stock[str("warehouseId")+"|"+str("itemId")+"|"+str("locationId")+"|"+str("lotNumber")] = st
	}
	st.onHand = apitest.OnHandAfter(str("type"), st.onHand, q)
	st.version++
	onHand, version := st.onHand, st.version
	return &api.Outcome{Status: api.OutcomeApplied, ResultingOnHand: &onHand, Version: &version, Warnings: []string{}}
}

func (f *Server) serve(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	f.Mu.Lock()
	scanner, ok := f.Tokens[strings.TrimPrefix(auth, "Bearer ")]
	f.Mu.Unlock()
	if !strings.HasPrefix(auth, "Bearer ") || !ok {
		w.Header().Set("WWW-Authenticate", "Bearer")
		apitest.WriteError(w, http.StatusUnauthorized, api.CodeUnauthenticated, "missing, invalid, expired or revoked token")
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/transactions":
		f.post(w, r, scanner)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/transactions/"):
		f.get(w, strings.TrimPrefix(r.URL.Path, "/v1/transactions/"))
	case r.Method == http.MethodPost && r.URL.Path == "/v1/scanners/"+scanner+"/heartbeat":
		f.heartbeat(w, r)
	default:
		apitest.WriteError(w, http.StatusNotFound, api.CodeNotFound, "no such endpoint")
	}
}

func (f *Server) get(w http.ResponseWriter, id string) {
	f.Mu.Lock()
	f.gets++
	o, ok := f.Applied[id]
	f.Mu.Unlock()
	if !ok {
		apitest.WriteError(w, http.StatusNotFound, api.CodeTransactionNotFound, "never accepted")
		return
	}
	answer := *o
	answer.TransactionID = id
	apitest.WriteJSON(w, http.StatusOK, answer)
}

func hijackClose(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func (f *Server) post(w http.ResponseWriter, r *http.Request, tokenScanner string) {
	f.Mu.Lock()
	n := len(f.reqs) + 1
	f.reqs = append(f.reqs, Request{})
	mode := ""
	if f.Fail != nil {
		mode = f.Fail(n)
	}
	maxBody, delay := f.MaxBody, f.Delay
	f.Mu.Unlock()
	record := func(rr Request) {
		f.Mu.Lock()
		f.reqs[n-1] = rr
		f.Mu.Unlock()
	}
	if mode == "drop-before" {
		hijackClose(w)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, int64(maxBody)+1))
	rr := Request{Size: len(body), Traceparent: r.Header.Get("traceparent")}
	if len(body) > maxBody {
		rr.Status = 413
		record(rr)
		apitest.WriteError(w, http.StatusRequestEntityTooLarge, api.CodeBodyTooLarge, "request body over the limit")
		return
	}
	var env api.UploadRequestFields
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil || env.ScannerID == nil || env.SentAt == nil || len(env.Transactions) == 0 {
		rr.Status = 400
		record(rr)
		apitest.WriteError(w, http.StatusBadRequest, api.CodeInvalidRequest, fmt.Sprintf("malformed request body: %v", err))
		return
	}
	if _, err := time.Parse(time.RFC3339Nano, *env.SentAt); err != nil {
		rr.Status = 400
		record(rr)
		apitest.WriteError(w, http.StatusBadRequest, api.CodeInvalidRequest, "sentAt: "+err.Error())
		return
	}
	rr.ScannerID, rr.SentAt, rr.Txs = *env.ScannerID, *env.SentAt, env.Transactions
	if env.Device != nil {
		var dev api.DeviceReport
		if err := strictDevice(env.Device, &dev); err != nil {
			rr.Status = 400
			record(rr)
			apitest.WriteError(w, http.StatusBadRequest, api.CodeInvalidRequest, "device: "+err.Error())
			return
		}
		rr.Device = &dev
	}
	switch {
	case mode == "503":
		rr.Status = 503
		record(rr)
		apitest.WriteError(w, http.StatusServiceUnavailable, api.CodeKafkaUnavailable, "nothing was accepted; retry")
		return
	case strings.HasPrefix(mode, "429:"):
		rr.Status = 429
		record(rr)
		w.Header().Set("Retry-After", strings.TrimPrefix(mode, "429:"))
		apitest.WriteError(w, http.StatusTooManyRequests, api.CodeRateLimited, "slow down")
		return
	}
	if *env.ScannerID != tokenScanner {
		rr.Status = 403
		record(rr)
		apitest.WriteError(w, http.StatusForbidden, api.CodeScannerMismatch, "this token uploads as "+tokenScanner)
		return
	}
	if len(env.Transactions) > api.MaxTransactions {
		rr.Status = 413
		record(rr)
		apitest.WriteError(w, http.StatusRequestEntityTooLarge, api.CodeTooManyTransactions, "over 1000 transactions")
		return
	}
	rr.Status = 200
	record(rr)
	results := f.process(*env.ScannerID, env.Transactions, r.URL.Query().Get("wait") == "applied")
	select { // written, not yet answered: a client gone now never learns
	case <-time.After(delay):
	case <-r.Context().Done():
		return
	}
	switch mode {
	case "drop-after":
		hijackClose(w)
		return
	case "500-after":
		apitest.WriteError(w, http.StatusInternalServerError, api.CodeInternal, "internal error; the request may be retried")
		return
	case "garbage-after":
		w.Write([]byte(`{"resu`))
		return
	}
	apitest.WriteJSON(w, http.StatusOK, map[string]any{"results": results})
}

// process applies the idempotency contract to each transaction.
func (f *Server) process(scannerID string, txs []json.RawMessage, wait bool) []map[string]any {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	var results []map[string]any
	for _, raw := range txs {
		var tx map[string]any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&tx); err != nil {
			results = append(results, map[string]any{"transactionId": "", "status": api.StatusRejected, "code": api.CodeInvalidTransaction, "message": err.Error()})
			continue
		}
		id, _ := tx["transactionId"].(string)
		res := map[string]any{"transactionId": id, "code": nil, "message": nil}
		results = append(results, res)
		if _, ok := tx["timestamp"].(string); !ok || id == "" {
			res["status"], res["code"], res["message"] = api.StatusRejected, api.CodeInvalidTransaction, "transactionId and timestamp are required"
			continue
		}
		canon, _ := json.Marshal(tx) // sorted keys: the fields, not their order
		key := scannerID + "\x00" + string(canon)
		if prev, seen := f.Stored[id]; seen {
			if prev != key {
				res["status"], res["code"], res["message"] = api.StatusRejected, api.CodeIdempotencyMismatch, "transactionId "+id+" was already accepted with a different body"
				continue
			}
			res["status"] = api.StatusDuplicate
			if wait {
				res["outcome"] = f.Applied[id]
			}
			f.dups++
			continue
		}
		if f.Reject != nil {
			if code, msg := f.Reject(tx); code != "" {
				res["status"], res["code"], res["message"] = api.StatusRejected, code, msg
				continue
			}
		}
		f.Stored[id] = key
		f.Writes[id]++
		if u, ok := tx["userId"].(string); ok {
			f.byUser[u]++
		}
		f.order = append(f.order, id)
		o := f.apply(tx)
		if f.OutcomeOf != nil {
			if x := f.OutcomeOf(tx); x != nil {
				o = x
			}
		}
		f.Applied[id] = o
		res["status"] = api.StatusAccepted
		if wait {
			res["outcome"] = o
		}
	}
	return results
}

// Accepted returns the transactionIds written, in order.
func (f *Server) Accepted() []string {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return append([]string(nil), f.order...)
}

func (f *Server) Requests() []Request {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return append([]Request(nil), f.reqs...)
}

// AssertWrittenOnce fails unless every id in want was written exactly once
// and nothing else was written.
func (f *Server) AssertWrittenOnce(t testing.TB, want []string) {
	t.Helper()
	f.Mu.Lock()
	defer f.Mu.Unlock()
	wantSet := map[string]bool{}
	for _, id := range want {
		wantSet[id] = true
		if n := f.Writes[id]; n != 1 {
			t.Errorf("transaction %s written %d times at the server, want once", id, n)
		}
	}
	for id, n := range f.Writes {
		if !wantSet[id] {
			t.Errorf("transaction %s written %d times at the server but never queued", id, n)
		}
	}
}

// WritesByUser returns how many transactions were written per userId.
func (f *Server) WritesByUser() map[string]int {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	m := make(map[string]int, len(f.byUser))
	for k, v := range f.byUser {
		m[k] = v
	}
	return m
}

func (f *Server) DupCount() int {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return f.dups
}

func (f *Server) GetCount() int {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return f.gets
}

// strictDevice decodes a device report, refusing unknown fields and a
// missing sentAt, queued or rejected, as the server does.
func strictDevice(raw []byte, dev *api.DeviceReport) error {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return err
	}
	for _, k := range []string{"sentAt", "queued", "rejected"} {
		if _, ok := probe[k]; !ok {
			return fmt.Errorf("%s is required", k)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	return dec.Decode(dev)
}

// heartbeat records POST /v1/scanners/{id}/heartbeat (the token's own id).
func (f *Server) heartbeat(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var dev api.DeviceReport
	if err := strictDevice(body, &dev); err != nil {
		apitest.WriteError(w, http.StatusBadRequest, api.CodeInvalidRequest, "heartbeat: "+err.Error())
		return
	}
	f.Mu.Lock()
	f.Beats = append(f.Beats, dev)
	f.Mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// Heartbeats returns the heartbeats received, in order.
func (f *Server) Heartbeats() []api.DeviceReport {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	return append([]api.DeviceReport(nil), f.Beats...)
}
