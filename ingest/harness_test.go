package ingest_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/auth"
	"github.com/invsync/invsync/ingest"
	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/processors"
)

// serverNow is the server clock of every test; sentAt, the default device
// clock at upload, is 377 ms behind it.
var serverNow = time.Date(2026, time.November, 26, 10, 30, 0, 500_000_000, time.UTC)

const (
	sentAt      = "2026-11-26T10:30:00.123Z"
	scanTime    = "2026-11-26T10:00:02.000Z" // default transaction timestamp
	scannerID   = "SCANNER-08"
	plainItem   = "ITEM-20000" // not lot-tracked, default limit (100000)
	lotItem     = "ITEM-12345" // lot-tracked, limit 10000
	smallItem   = "ITEM-30000" // limit 50
	wh1, wh2    = "WH-001", "WH-002"
	locA, locB  = "A-05-02", "B-01-01"
	locC        = "C-01-01" // WH-002 only
	defaultUser = "warehouse_user_23"
)

func testCatalogDoc() processors.CatalogDoc {
	return processors.CatalogDoc{
		Warehouses: []processors.Warehouse{
			{WarehouseID: wh1, Locations: []string{locA, locB}},
			{WarehouseID: wh2, Locations: []string{locC}},
		},
		Items: []processors.Item{
			{ItemID: lotItem, Description: "Widget", LotTracked: true, MaxTransactionQuantity: 10000},
			{ItemID: plainItem, Description: "Bolt"},
			{ItemID: smallItem, Description: "Pallet", MaxTransactionQuantity: 50},
		},
	}
}

// harness is an ingest.Server behind httptest with fakes behind it.
type harness struct {
	t        *testing.T
	url      string
	pub      *fakePublisher
	cat      *fakeCatalog
	state    *fakeState
	outcomes *fakeOutcomes
	ready    *fakeReady
}

// newHarness returns an open server (master data loaded).
func newHarness(t *testing.T, tweaks ...func(*ingest.Config)) *harness {
	t.Helper()
	return newHarnessOpen(t, true, tweaks...)
}

func newHarnessOpen(t *testing.T, open bool, tweaks ...func(*ingest.Config)) *harness {
	t.Helper()
	st := newFakeState()
	h := &harness{
		t:        t,
		pub:      newFakePublisher(),
		cat:      newFakeCatalog(testCatalogDoc()),
		state:    st,
		outcomes: newFakeOutcomes(st),
		ready:    &fakeReady{ok: true},
	}
	cfg := ingest.Config{
		Publisher: h.pub,
		Catalog:   h.cat,
		State:     h.state,
		Outcomes:  h.outcomes,
		Ready:     h.ready,
		MaxWait:   2 * time.Second,
		Now:       func() time.Time { return serverNow },
		Auth:      testRegistry(),
	}
	for _, f := range tweaks {
		f(&cfg)
	}
	api, err := ingest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if open {
		api.Open()
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with the admin token.
func (h *harness) do(method, path string, body []byte) response {
	h.t.Helper()
	return request(h.t, h.url, testAdminToken, method, path, body)
}

// request sends a request to the server at url with the bearer secret
// (none when it is empty), body as JSON when it is not nil, and the header
// given as name, value pairs.
func request(t *testing.T, url, secret, method, path string, body []byte, header ...string) response {
	t.Helper()
	// Errorf, not Fatalf: requests are also sent from other goroutines.
	status, rh, data, err := testkit.Send(method, url+path, secret, testkit.HeaderOf(header...), body)
	if err != nil {
		t.Errorf("%s %s: %v", method, path, err)
	}
	return response{status: status, header: rh, body: data}
}

// post sends body (raw when []byte or string, else JSON-encoded) to
// POST /v1/transactions with the query (e.g. "?wait=applied").
func (h *harness) post(query string, body any) response {
	h.t.Helper()
	return h.do(http.MethodPost, "/v1/transactions"+query, encode(h.t, body))
}

// upload posts and requires a 200 with one result per transaction.
func (h *harness) upload(query string, body any) []api.Result {
	h.t.Helper()
	r := h.post(query, body)
	if r.status != http.StatusOK {
		h.t.Fatalf("POST /v1/transactions%s: status %d, want 200: %s", query, r.status, r.body)
	}
	var out api.UploadResponse
	if err := json.Unmarshal(r.body, &out); err != nil {
		h.t.Fatalf("decoding upload response %s: %v", r.body, err)
	}
	return out.Results
}

func encode(t *testing.T, body any) []byte {
	t.Helper()
	switch b := body.(type) {
	case nil:
		return nil
	case []byte:
		return b
	case string:
		return []byte(b)
	}
	out, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// absent deletes a key in tx and envelope overrides.
type absentT struct{}

var absent = absentT{}

// tx is a valid RECEIPT of 5 plainItem at WH-001/A-05-02 with the given
// field overrides (key, value pairs; absent deletes the key).
func tx(id string, kv ...any) map[string]any {
	m := map[string]any{
		"transactionId": id,
		"type":          "RECEIPT",
		"timestamp":     scanTime,
		"warehouseId":   wh1,
		"itemId":        plainItem,
		"locationId":    locA,
		"quantity":      5,
		"userId":        defaultUser,
	}
	return override(m, kv...)
}

// envelope is an upload of txs from scannerID sent at sentAt.
func envelope(txs ...any) map[string]any {
	if txs == nil {
		txs = []any{}
	}
	return map[string]any{"scannerId": scannerID, "sentAt": sentAt, "transactions": txs}
}

func override(m map[string]any, kv ...any) map[string]any {
	m = maps.Clone(m)
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == absent {
			delete(m, k)
			continue
		}
		m[k] = kv[i+1]
	}
	return m
}

// raw is a JSON value written verbatim (numbers Go cannot hold, etc.).
func raw(s string) json.RawMessage { return json.RawMessage(s) }

// assertError checks the status and that the body is exactly the API's
// error shape {"error":{"code":...,"message":...}} with the code and a
// message containing every part (case-insensitively).
func assertError(t *testing.T, r response, status int, code string, parts ...string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("error body is not a JSON object: %v: %s", err, r.body)
	}
	if _, ok := body["results"]; ok {
		t.Errorf("error body carries results: %s", r.body)
	}
	var e map[string]json.RawMessage
	if err := json.Unmarshal(body["error"], &e); err != nil || e == nil {
		t.Fatalf("error body has no \"error\" object: %s", r.body)
	}
	var gotCode, msg string
	if err := json.Unmarshal(e["code"], &gotCode); err != nil || gotCode == "" {
		t.Errorf("error.code missing or not a string: %s", r.body)
	}
	if err := json.Unmarshal(e["message"], &msg); err != nil || msg == "" {
		t.Errorf("error.message missing or not a string: %s", r.body)
	}
	if gotCode != code {
		t.Errorf("error.code %q, want %q (message %q)", gotCode, code, msg)
	}
	for _, p := range parts {
		if !strings.Contains(strings.ToLower(msg), strings.ToLower(p)) {
			t.Errorf("error.message %q does not mention %q", msg, p)
		}
	}
}

// assertRejected checks one result.
func assertRejected(t *testing.T, r api.Result, id, code string, parts ...string) {
	t.Helper()
	if r.TransactionID != id {
		t.Errorf("transactionId %q, want %q", r.TransactionID, id)
	}
	if r.Status != api.StatusRejected {
		t.Errorf("%s: status %q, want rejected (code %s)", id, r.Status, deref(r.Code))
		return
	}
	if deref(r.Code) != code {
		t.Errorf("%s: code %q, want %q (message %q)", id, deref(r.Code), code, deref(r.Message))
	}
	msg := deref(r.Message)
	if msg == "" {
		t.Errorf("%s: rejected without a message", id)
	}
	for _, p := range parts {
		if !strings.Contains(strings.ToLower(msg), strings.ToLower(p)) {
			t.Errorf("%s: message %q does not mention %q", id, msg, p)
		}
	}
}

// assertStatuses checks the ids and statuses of results, in order.
func assertStatuses(t *testing.T, got []api.Result, want ...string) {
	t.Helper()
	if len(got) != len(want)/2 {
		t.Fatalf("%d results, want %d: %+v", len(got), len(want)/2, got)
	}
	for i := range got {
		id, st := want[2*i], want[2*i+1]
		if got[i].TransactionID != id || string(got[i].Status) != st {
			t.Errorf("result %d = %s %s (code %s: %s), want %s %s", i, got[i].TransactionID, got[i].Status,
				deref(got[i].Code), deref(got[i].Message), id, st)
		}
		if st == string(api.StatusAccepted) || st == string(api.StatusDuplicate) {
			if got[i].Code != nil || got[i].Message != nil {
				t.Errorf("result %d (%s) has code %q message %q", i, st, deref(got[i].Code), deref(got[i].Message))
			}
		}
	}
}

// assertPublished checks the ids written to Kafka, in order.
func (h *harness) assertPublished(t *testing.T, ids ...string) {
	t.Helper()
	got := h.pub.ids()
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Errorf("published %q, want %q", got, ids)
	}
}

// assertUntouched: nothing written to Kafka, no catalog published, no
// outcome stored, no subscription left open, and none of ids is known
// (a rejection must not leave a pending reservation behind).
func (h *harness) assertUntouched(t *testing.T, ids ...string) {
	t.Helper()
	if got := h.pub.ids(); len(got) != 0 {
		t.Errorf("published %q, want nothing", got)
	}
	if d := h.cat.publishedDocs(); len(d) != 0 {
		t.Errorf("catalog published %d documents, want none", len(d))
	}
	if o := h.state.snapshot(); len(o) != 0 {
		t.Errorf("state holds %d outcomes, want none", len(o))
	}
	if n := h.outcomes.open(); n != 0 {
		t.Errorf("%d subscriptions left open", n)
	}
	for _, id := range ids {
		if id == "" {
			continue
		}
		r := h.do(http.MethodGet, "/v1/transactions/"+id, nil)
		if r.status != http.StatusNotFound {
			t.Errorf("GET /v1/transactions/%s after a rejection: status %d, want 404: %s", id, r.status, r.body)
		}
	}
}

func deref[S ~string](s *S) string {
	if s == nil {
		return ""
	}
	return string(*s)
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// appliedOutcome is what a processor would store for tx.
func appliedOutcome(tx processors.Transaction, onHand, version int64, warnings ...string) processors.Outcome {
	return processors.Outcome{TransactionID: tx.TransactionID, Status: processors.StatusApplied,
		ResultingOnHand: onHand, Version: version, Warnings: warnings, BodyHash: tx.BodyHash,
		AppliedAt: serverNow.UnixMilli()}
}

// decodeAs decodes one raw transaction the way the server would, to
// precompute hashes of stored outcomes.
func decodeAs(t *testing.T, txm map[string]any) processors.Transaction {
	t.Helper()
	up := ingest.Upload{ScannerID: scannerID, SentAt: mustTime(t, sentAt)}
	got, _, rej := ingest.DecodeTransaction(encode(t, txm), &up, serverNow, ingest.TimeBounds{})
	if rej != nil {
		t.Fatalf("decoding %v: %v", txm, rej)
	}
	return got
}

// testAdminToken is the admin credential of every harness (the
// --admin-token kind); the security suite makes tokens of every role.
const testAdminToken = "test-admin-token-0123456789abcdef0123456789"

func testRegistry() *auth.Registry {
	r := auth.NewRegistry()
	r.SetAdmin(testAdminToken)
	return r
}

// testToken is a token a harness issues: its name, role and warehouses.
type testToken struct {
	name string
	role auth.Role
	whs  []string
}

// issueTokens issues toks into reg, created by createdBy at created, and
// returns each one's secret and token id by its name.
func issueTokens(t *testing.T, reg *auth.Registry, createdBy string, created time.Time, toks ...testToken) (secrets, ids map[string]string) {
	t.Helper()
	secrets, ids = map[string]string{}, map[string]string{}
	for _, tok := range toks {
		tk, secret, err := auth.New(auth.Request{Name: tok.name, Role: tok.role, Warehouses: tok.whs, CreatedBy: createdBy}, created)
		if err != nil {
			t.Fatal(err)
		}
		reg.Apply(tk)
		secrets[tok.name], ids[tok.name] = secret, tk.TokenID
	}
	return secrets, ids
}

// assertInternalHidden checks a 500 that must not show the internal error
// (errDisk's text) but a reference to the log line that does.
func assertInternalHidden(t *testing.T, r response) {
	t.Helper()
	assertError(t, r, http.StatusInternalServerError, "INTERNAL", "reference")
	if strings.Contains(string(r.body), "disk") || strings.Contains(string(r.body), "pebble") {
		t.Errorf("a 500 leaks the internal error: %s", r.body)
	}
}
