package scanner

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
)

// fakeServer implements the upload contract of POST /v1/transactions and
// GET /v1/transactions/{id} faithfully enough to hold the device to it:
// bearer tokens bound to a scanner id (401, 403 SCANNER_MISMATCH),
// idempotency by transactionId over the transaction's fields and the
// scannerId (duplicate; IDEMPOTENCY_MISMATCH for another body), at most
// 1000 transactions and maxBody bytes a request (413), ?wait=applied
// outcomes. Hooks inject rejections, outcomes and failures.
type fakeServer struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	tokens  map[string]string // token -> the scanner id it may upload as
	maxBody int
	stored  map[string]string // transactionId -> canonical body
	applied map[string]*outcome
	writes  map[string]int // transactionId -> times written (accepted)
	byUser  map[string]int // userId -> transactions written (the tests give each scan its own)
	order   []string       // transactionIds in order of acceptance
	reqs    []recordedRequest
	gets    int
	dups    int // results answered duplicate

	// reject decides an ingest rejection (code, message) or "".
	reject func(tx map[string]any) (string, string)
	// outcomeOf decides the ?wait=applied outcome; nil means applied.
	outcomeOf func(tx map[string]any) *outcome
	// fail decides, per request number (from 1), a failure: "503",
	// "500-after" (processed, then 500), "429:N" (Retry-After N s),
	// "drop-before" (connection closed unread), "drop-after" (processed,
	// then connection closed without an answer), "garbage-after".
	fail func(n int) string
	// delay is slept before answering.
	delay time.Duration
	// beats are the heartbeat bodies received, in order.
	beats []deviceReport
}

type recordedRequest struct {
	status    int
	scannerID string
	sentAt    string
	txs       []json.RawMessage
	size      int
	device    *deviceReport
}

func newFakeServer(t *testing.T) *fakeServer {
	f := &fakeServer{t: t, tokens: map[string]string{"tok-1": "SCANNER-1"}, maxBody: MaxBodyBytes,
		stored: map[string]string{}, applied: map[string]*outcome{}, writes: map[string]int{}, byUser: map[string]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) URL() string { return f.srv.URL }

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	f.mu.Lock()
	scanner, ok := f.tokens[strings.TrimPrefix(auth, "Bearer ")]
	f.mu.Unlock()
	if !strings.HasPrefix(auth, "Bearer ") || !ok {
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeErr(w, http.StatusUnauthorized, "UNAUTHENTICATED", "missing, invalid, expired or revoked token")
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/transactions":
		f.post(w, r, scanner)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/scanners/"+scanner+"/heartbeat":
		f.heartbeat(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/transactions/"):
		f.get(w, strings.TrimPrefix(r.URL.Path, "/v1/transactions/"))
	default:
		writeErr(w, http.StatusNotFound, "NOT_FOUND", "no such endpoint")
	}
}

func (f *fakeServer) get(w http.ResponseWriter, id string) {
	f.mu.Lock()
	f.gets++
	o, ok := f.applied[id]
	f.mu.Unlock()
	if !ok {
		writeErr(w, http.StatusNotFound, "TRANSACTION_NOT_FOUND", "never accepted")
		return
	}
	json.NewEncoder(w).Encode(o)
}

func hijackClose(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func (f *fakeServer) post(w http.ResponseWriter, r *http.Request, tokenScanner string) {
	f.mu.Lock()
	n := len(f.reqs) + 1
	f.reqs = append(f.reqs, recordedRequest{})
	mode := ""
	if f.fail != nil {
		mode = f.fail(n)
	}
	maxBody, delay := f.maxBody, f.delay
	f.mu.Unlock()
	record := func(rr recordedRequest) {
		f.mu.Lock()
		f.reqs[n-1] = rr
		f.mu.Unlock()
	}
	if mode == "drop-before" {
		hijackClose(w)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, int64(maxBody)+1))
	rr := recordedRequest{size: len(body)}
	if len(body) > maxBody {
		rr.status = 413
		record(rr)
		writeErr(w, http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE", "request body over the limit")
		return
	}
	var env struct {
		ScannerID    *string           `json:"scannerId"`
		SentAt       *string           `json:"sentAt"`
		Transactions []json.RawMessage `json:"transactions"`
		Device       *deviceReport     `json:"device"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil || env.ScannerID == nil || env.SentAt == nil || len(env.Transactions) == 0 {
		rr.status = 400
		record(rr)
		writeErr(w, http.StatusBadRequest, "INVALID_REQUEST", fmt.Sprintf("malformed request body: %v", err))
		return
	}
	if _, err := time.Parse(time.RFC3339Nano, *env.SentAt); err != nil {
		rr.status = 400
		record(rr)
		writeErr(w, http.StatusBadRequest, "INVALID_REQUEST", "sentAt: "+err.Error())
		return
	}
	rr.scannerID, rr.sentAt, rr.txs, rr.device = *env.ScannerID, *env.SentAt, env.Transactions, env.Device
	switch {
	case mode == "503":
		rr.status = 503
		record(rr)
		writeErr(w, http.StatusServiceUnavailable, "KAFKA_UNAVAILABLE", "nothing was accepted; retry")
		return
	case strings.HasPrefix(mode, "429:"):
		rr.status = 429
		record(rr)
		w.Header().Set("Retry-After", strings.TrimPrefix(mode, "429:"))
		writeErr(w, http.StatusTooManyRequests, "RATE_LIMITED", "slow down")
		return
	}
	if *env.ScannerID != tokenScanner {
		rr.status = 403
		record(rr)
		writeErr(w, http.StatusForbidden, "SCANNER_MISMATCH", "this token uploads as "+tokenScanner)
		return
	}
	if len(env.Transactions) > MaxBatch {
		rr.status = 413
		record(rr)
		writeErr(w, http.StatusRequestEntityTooLarge, "TOO_MANY_TRANSACTIONS", "over 1000 transactions")
		return
	}
	rr.status = 200
	record(rr)
	results := f.process(*env.ScannerID, env.Transactions)
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
		writeErr(w, http.StatusInternalServerError, "INTERNAL", "internal error; the request may be retried")
		return
	case "garbage-after":
		w.Write([]byte(`{"resu`))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"results": results})
}

// process applies the idempotency contract to each transaction.
func (f *fakeServer) process(scannerID string, txs []json.RawMessage) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var results []map[string]any
	for _, raw := range txs {
		var tx map[string]any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&tx); err != nil {
			results = append(results, map[string]any{"transactionId": "", "status": "rejected", "code": "INVALID_TRANSACTION", "message": err.Error()})
			continue
		}
		id, _ := tx["transactionId"].(string)
		res := map[string]any{"transactionId": id, "code": nil, "message": nil}
		results = append(results, res)
		if _, ok := tx["timestamp"].(string); !ok || id == "" {
			res["status"], res["code"], res["message"] = "rejected", "INVALID_TRANSACTION", "transactionId and timestamp are required"
			continue
		}
		canon, _ := json.Marshal(tx) // sorted keys: the fields, not their order
		key := scannerID + "\x00" + string(canon)
		if prev, seen := f.stored[id]; seen {
			if prev != key {
				res["status"], res["code"], res["message"] = "rejected", "IDEMPOTENCY_MISMATCH", "transactionId "+id+" was already accepted with a different body"
				continue
			}
			res["status"], res["outcome"] = "duplicate", f.applied[id]
			f.dups++
			continue
		}
		if f.reject != nil {
			if code, msg := f.reject(tx); code != "" {
				res["status"], res["code"], res["message"] = "rejected", code, msg
				continue
			}
		}
		f.stored[id] = key
		f.writes[id]++
		if u, ok := tx["userId"].(string); ok {
			f.byUser[u]++
		}
		f.order = append(f.order, id)
		o := &outcome{Status: outcomeApplied, Warnings: []string{}}
		if f.outcomeOf != nil {
			if x := f.outcomeOf(tx); x != nil {
				o = x
			}
		}
		f.applied[id] = o
		res["status"], res["outcome"] = "accepted", o
	}
	return results
}

// accepted returns the transactionIds written, in order.
func (f *fakeServer) accepted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.order...)
}

func (f *fakeServer) requests() []recordedRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recordedRequest(nil), f.reqs...)
}

// assertWrittenOnce fails unless every id in want was written exactly once
// and nothing else was written.
func (f *fakeServer) assertWrittenOnce(t *testing.T, want []string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	wantSet := map[string]bool{}
	for _, id := range want {
		wantSet[id] = true
		if n := f.writes[id]; n != 1 {
			t.Errorf("transaction %s written %d times at the server, want once", id, n)
		}
	}
	for id, n := range f.writes {
		if !wantSet[id] {
			t.Errorf("transaction %s written %d times at the server but never queued", id, n)
		}
	}
}

// writesByUser returns how many transactions were written per userId.
func (f *fakeServer) writesByUser() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[string]int, len(f.byUser))
	for k, v := range f.byUser {
		m[k] = v
	}
	return m
}

func (f *fakeServer) dupCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dups
}

func (f *fakeServer) getCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gets
}

func strp(s string) *string { return &s }
