package ingest_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/auth"
	"github.com/invsync/invsync/ingest"
	"github.com/invsync/invsync/processors"
)

var (
	pipelinePartitionRestoring = partitionErr{partition: 7}
	pipelinePartitionNotOwned  = partitionErr{partition: 3, elsewhere: true}
	errDisk                    = errors.New("reading pebble: disk I/O error")
)

// TestWaitApplied: ?wait=applied answers with each accepted transaction's
// outcome, and with "pending" when the processors are slower than MaxWait.
func TestWaitApplied(t *testing.T) {
	t.Run("applied in time", func(t *testing.T) {
		h := newHarness(t)
		h.pub.setAfter(func(txs []processors.Transaction) {
			go func() {
				time.Sleep(10 * time.Millisecond)
				for _, tx := range txs {
					o := appliedOutcome(tx, 95, 18, processors.WarnNegativeOnHand)
					if tx.TransactionID == "t-3" {
						o = appliedOutcome(tx, 0, 0)
						o.Status, o.Code, o.Message = processors.StatusRejected, processors.CodeVersionConflict, "expected version 3, record is at 4"
					}
					h.outcomes.emit(o)
				}
			}()
		})
		res := h.upload("?wait=applied", envelope(tx("t-1"), tx("t-2", "itemId", "ITEM-99999"), tx("t-3", "expectedVersion", 3)))
		assertStatuses(t, res, "t-1", "accepted", "t-2", "rejected", "t-3", "accepted")
		if o := res[0].Outcome; o == nil || o.Status != "applied" || o.Code != nil || *o.ResultingOnHand != 95 || *o.Version != 18 ||
			len(o.Warnings) != 1 || o.Warnings[0] != processors.WarnNegativeOnHand {
			t.Errorf("t-1 outcome %+v, want applied 95 v18 [NEGATIVE_ON_HAND]", o)
		}
		if res[1].Outcome != nil {
			t.Errorf("t-2 was rejected at ingest but has an outcome %+v", res[1].Outcome)
		}
		if o := res[2].Outcome; o == nil || o.Status != "rejected" || deref(o.Code) != processors.CodeVersionConflict {
			t.Errorf("t-3 outcome %+v, want rejected VERSION_CONFLICT", o)
		}
		if n := h.outcomes.open(); n != 0 {
			t.Errorf("%d subscriptions left open", n)
		}
		// Visible afterwards, no longer pending.
		var got api.Outcome
		getJSON(t, h, "/v1/transactions/t-1", http.StatusOK, &got)
		if got.Status != "applied" || got.TransactionID != "t-1" {
			t.Errorf("GET t-1 = %+v, want applied", got)
		}
	})
	t.Run("times out as pending", func(t *testing.T) {
		h := newHarness(t, func(c *ingest.Config) { c.MaxWait = 50 * time.Millisecond })
		start := time.Now()
		res := h.upload("?wait=applied", envelope(tx("t-1"), tx("t-2")))
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("wait took %v with MaxWait 50ms", d)
		}
		assertStatuses(t, res, "t-1", "accepted", "t-2", "accepted")
		for _, r := range res {
			if r.Outcome == nil || r.Outcome.Status != "pending" || r.Outcome.Warnings == nil {
				t.Errorf("%s outcome %+v, want pending with warnings []", r.TransactionID, r.Outcome)
			}
		}
		h.assertPublished(t, "t-1", "t-2")
		if n := h.outcomes.open(); n != 0 {
			t.Errorf("%d subscriptions left open", n)
		}
		// Applied later: GET reports it.
		published, _ := h.pub.byID("t-1")
		h.outcomes.emit(appliedOutcome(published, 5, 1))
		var got api.Outcome
		getJSON(t, h, "/v1/transactions/t-1", http.StatusOK, &got)
		if got.Status != "applied" {
			t.Errorf("GET t-1 after its outcome: %+v", got)
		}
	})
	t.Run("duplicates get their stored outcome", func(t *testing.T) {
		h := newHarness(t, func(c *ingest.Config) { c.MaxWait = 50 * time.Millisecond })
		h.state.put(appliedOutcome(decodeAs(t, tx("t-1")), 42, 9))
		res := h.upload("?wait=applied", envelope(tx("t-1")))
		assertStatuses(t, res, "t-1", "duplicate")
		if o := res[0].Outcome; o == nil || o.Status != "applied" || *o.ResultingOnHand != 42 || *o.Version != 9 {
			t.Errorf("duplicate outcome %+v, want applied 42 v9", o)
		}
		h.assertPublished(t)
	})
	t.Run("without wait no outcome field", func(t *testing.T) {
		h := newHarness(t)
		r := h.post("", envelope(tx("t-1")))
		var body struct {
			Results []map[string]json.RawMessage `json:"results"`
		}
		if err := json.Unmarshal(r.body, &body); err != nil || len(body.Results) != 1 {
			t.Fatalf("%v: %s", err, r.body)
		}
		res := body.Results[0]
		if _, ok := res["outcome"]; ok {
			t.Errorf("outcome present without wait: %s", r.body)
		}
		for _, k := range []string{"code", "message"} {
			if string(res[k]) != "null" {
				t.Errorf("%s = %s, want null", k, res[k])
			}
		}
	})
}

// TestWaitAppliedReportsOutcomesThatArrived: when the first transaction of
// a batch is not applied within MaxWait, the others that were applied in
// time must still be reported applied, not "pending" at random.
func TestWaitAppliedReportsOutcomesThatArrived(t *testing.T) {
	h := newHarness(t, func(c *ingest.Config) { c.MaxWait = 50 * time.Millisecond })
	txs := []any{tx("late")}
	for i := range 20 {
		txs = append(txs, tx(fmt.Sprintf("t-%02d", i)))
	}
	h.pub.setAfter(func(txs []processors.Transaction) {
		for _, tx := range txs[1:] {
			h.outcomes.emit(appliedOutcome(tx, 7, 2))
		}
	})
	res := h.upload("?wait=applied", envelope(txs...))
	if res[0].Outcome == nil || res[0].Outcome.Status != "pending" {
		t.Errorf("late outcome %+v, want pending", res[0].Outcome)
	}
	var pending []string
	for _, r := range res[1:] {
		if r.Outcome == nil || r.Outcome.Status != "applied" {
			pending = append(pending, r.TransactionID)
		}
	}
	if len(pending) > 0 {
		t.Errorf("applied before the deadline but reported pending: %v", pending)
	}
}

func getJSON(t *testing.T, h *harness, path string, status int, v any) response {
	t.Helper()
	r := h.do(http.MethodGet, path, nil)
	if r.status != status {
		t.Fatalf("GET %s: status %d, want %d: %s", path, r.status, status, r.body)
	}
	if v != nil {
		if err := json.Unmarshal(r.body, v); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, r.body)
		}
	}
	return r
}

// TestGetTransaction: 404 when never accepted, pending, applied, rejected.
func TestGetTransaction(t *testing.T) {
	h := newHarness(t)
	assertError(t, h.do(http.MethodGet, "/v1/transactions/never-sent", nil), http.StatusNotFound, "TRANSACTION_NOT_FOUND", "never-sent")

	h.upload("", envelope(tx("t-1"), tx("t-2", "itemId", "ITEM-99999")))
	var o api.Outcome
	getJSON(t, h, "/v1/transactions/t-1", http.StatusOK, &o)
	if o.TransactionID != "t-1" || o.Status != "pending" || o.Code != nil || o.Warnings == nil {
		t.Errorf("pending = %+v", o)
	}
	assertError(t, h.do(http.MethodGet, "/v1/transactions/t-2", nil), http.StatusNotFound, "TRANSACTION_NOT_FOUND", "t-2")

	published, _ := h.pub.byID("t-1")
	h.outcomes.emit(appliedOutcome(published, 95, 18))
	var raw map[string]json.RawMessage
	getJSON(t, h, "/v1/transactions/t-1", http.StatusOK, &raw)
	for k, want := range map[string]string{"transactionId": `"t-1"`, "status": `"applied"`, "code": "null",
		"resultingOnHand": "95", "version": "18", "warnings": "[]"} {
		if string(raw[k]) != want {
			t.Errorf("applied: %s = %s, want %s", k, raw[k], want)
		}
	}

	rej := appliedOutcome(decodeAs(t, tx("t-9")), 10, 4)
	rej.Status, rej.Code, rej.Message, rej.Warnings = processors.StatusRejected, processors.CodeLocationLocked, "A-05-02 is locked by SCANNER-03", nil
	h.state.put(rej)
	getJSON(t, h, "/v1/transactions/t-9", http.StatusOK, &o)
	if o.Status != "rejected" || deref(o.Code) != processors.CodeLocationLocked || o.Warnings == nil {
		t.Errorf("rejected = %+v", o)
	}

	// State unreadable: pending ones are still known, others are a 503.
	h.upload("", envelope(tx("t-3")))
	h.state.setErr(&pipelinePartitionRestoring)
	getJSON(t, h, "/v1/transactions/t-3", http.StatusOK, &o)
	if o.Status != "pending" {
		t.Errorf("pending while restoring = %+v", o)
	}
	r := h.do(http.MethodGet, "/v1/transactions/t-9", nil)
	assertError(t, r, http.StatusServiceUnavailable, "PARTITION_RESTORING", "partition 7", "restored")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	h.state.setErr(&pipelinePartitionNotOwned)
	assertError(t, h.do(http.MethodGet, "/v1/transactions/t-9", nil), http.StatusServiceUnavailable, "PARTITION_NOT_OWNED", "partition 3")
	h.state.setErr(errDisk)
	assertInternalHidden(t, h.do(http.MethodGet, "/v1/transactions/t-9", nil))
}

// TestPositions: required parameters, partition errors, the answer's shape.
func TestPositions(t *testing.T) {
	t.Run("bad requests", func(t *testing.T) {
		h := newHarness(t)
		for _, q := range []string{"", "?itemId=ITEM-12345", "?warehouseId=WH-001", "?warehouseId=&itemId=ITEM-12345", "?warehouseid=WH-001&itemid=ITEM-12345"} {
			assertError(t, h.do(http.MethodGet, "/v1/positions"+q, nil), http.StatusBadRequest, "INVALID_REQUEST", "warehouseId", "itemId", "required")
		}
	})
	t.Run("partition errors", func(t *testing.T) {
		for _, c := range []struct {
			err  error
			code string
		}{{&pipelinePartitionRestoring, "PARTITION_RESTORING"}, {&pipelinePartitionNotOwned, "PARTITION_NOT_OWNED"},
			{fmtWrap(&pipelinePartitionNotOwned), "PARTITION_NOT_OWNED"}} {
			h := newHarness(t)
			h.state.setErr(c.err)
			r := h.do(http.MethodGet, "/v1/positions?warehouseId=WH-001&itemId=ITEM-12345", nil)
			assertError(t, r, http.StatusServiceUnavailable, c.code, "partition", "retry")
			if r.header.Get("Retry-After") != "1" {
				t.Errorf("%s: Retry-After %q, want 1", c.code, r.header.Get("Retry-After"))
			}
		}
		h := newHarness(t)
		h.state.setErr(errDisk)
		assertInternalHidden(t, h.do(http.MethodGet, "/v1/positions?warehouseId=WH-001&itemId=ITEM-12345", nil))
	})
	t.Run("answer", func(t *testing.T) {
		h := newHarness(t)
		updated := serverNow.Add(-time.Minute)
		h.state.setRecords([]processors.Record{
			{WarehouseID: wh1, ItemID: lotItem, LocationID: locA, LotNumber: "LOT-1", OnHand: 95, Allocated: 100, Version: 18, UpdatedAt: updated.UnixMilli()},
			{WarehouseID: wh1, ItemID: lotItem, LocationID: locB, LotNumber: "LOT-1", OnHand: 10, Allocated: 0, Version: 2, UpdatedAt: updated.UnixMilli()},
		})
		var out struct {
			Positions []map[string]any `json:"positions"`
			Totals    map[string]int64 `json:"totals"`
		}
		getJSON(t, h, "/v1/positions?warehouseId=WH-001&itemId=ITEM-12345", http.StatusOK, &out)
		if len(out.Positions) != 2 || out.Totals["onHand"] != 105 || out.Totals["allocated"] != 100 || out.Totals["available"] != 5 {
			t.Errorf("positions %+v totals %+v", out.Positions, out.Totals)
		}
		p := out.Positions[0]
		if p["available"] != float64(-5) || p["version"] != float64(18) || p["lotNumber"] != "LOT-1" || p["updatedAt"] != updated.Format(time.RFC3339Nano) {
			t.Errorf("position %+v", p)
		}
		if loc, lot := h.state.lastFilters(); loc != nil || lot != nil {
			t.Errorf("filters passed without being asked: loc %v lot %v", loc, lot)
		}

		getJSON(t, h, "/v1/positions?warehouseId=WH-001&itemId=ITEM-12345&locationId=B-01-01&lotNumber=", http.StatusOK, &out)
		if loc, lot := h.state.lastFilters(); loc == nil || *loc != locB || lot == nil || *lot != "" {
			t.Errorf("filters: loc %v lot %v, want B-01-01 and \"\"", loc, lot)
		}
		r := getJSON(t, h, "/v1/positions?warehouseId=WH-001&itemId=ITEM-99999", http.StatusOK, nil)
		if !strings.Contains(string(r.body), `"positions":[]`) {
			t.Errorf("no records: %s, want positions []", r.body)
		}
	})
}

func fmtWrap(err error) error { return errors.Join(errors.New("querying positions"), err) }

// TestPutCatalogInvalid: an invalid document is a 400 INVALID_CATALOG whose
// message lists every problem; nothing is published.
func TestPutCatalogInvalid(t *testing.T) {
	cases := []struct {
		name string
		body string
		msg  []string
	}{
		{"every problem at once", `{"warehouses": [
				{"warehouseId": "", "locations": ["A"]},
				{"warehouseId": "WH-1", "locations": []},
				{"warehouseId": "WH-1", "locations": ["", "B\u0001"]}],
			"items": [
				{"itemId": "", "description": "x"},
				{"itemId": "I-1", "maxTransactionQuantity": -5},
				{"itemId": "I-1"}]}`,
			[]string{`warehouses[0].warehouseId ""`, "warehouses[1] (WH-1): locations must not be empty",
				`warehouses[2]: warehouseId "WH-1" appears twice`, `warehouses[2].locations[0] ""`,
				`warehouses[2].locations[1]`, `items[0].itemId ""`, "maxTransactionQuantity must be >= 0, got -5",
				`items[2]: itemId "I-1" appears twice`}},
		{"malformed JSON", `{"warehouses": [`, []string{"invalid catalog"}},
		{"empty body", ``, []string{"invalid catalog"}},
		{"unknown field", `{"warehouses": [], "itmes": []}`, []string{"itmes"}},
		{"misspelt item field", `{"items": [{"itemId": "I-1", "maxQuantity": 5}]}`, []string{"maxQuantity"}},
		{"wrong type", `{"items": [{"itemId": "I-1", "lotTracked": "yes"}]}`, []string{"lotTracked"}},
		{"trailing data", `{"items": []} {"items": []}`, []string{"trailing"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			before := getJSON(t, h, "/v1/catalog", http.StatusOK, nil)
			assertError(t, h.do(http.MethodPut, "/v1/catalog", []byte(c.body)), http.StatusBadRequest, "INVALID_CATALOG", c.msg...)
			h.assertUntouched(t)
			if after := getJSON(t, h, "/v1/catalog", http.StatusOK, nil); string(after.body) != string(before.body) {
				t.Errorf("catalog changed:\n%s\n%s", before.body, after.body)
			}
		})
	}
}

// TestPutCatalog: a valid document is published and its items become
// usable; a publish failure is a 503.
func TestPutCatalog(t *testing.T) {
	h := newHarness(t)
	doc := `{"warehouses": [{"warehouseId": "WH-003", "locations": ["D-01-01"]}],
		"items": [{"itemId": "ITEM-40000", "description": "Crate", "lotTracked": false, "maxTransactionQuantity": 10}]}`
	var out api.CatalogAnswer
	r := h.do(http.MethodPut, "/v1/catalog", []byte(doc))
	if r.status != http.StatusOK || json.Unmarshal(r.body, &out) != nil {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	if out != (api.CatalogAnswer{Upserted: api.CatalogSize{Warehouses: 1, Items: 1}, Catalog: api.CatalogSize{Warehouses: 3, Items: 4}}) {
		t.Errorf("PUT answered %s", r.body)
	}
	res := h.upload("", envelope(tx("t-1", "warehouseId", "WH-003", "locationId", "D-01-01", "itemId", "ITEM-40000", "quantity", 10),
		tx("t-2", "warehouseId", "WH-003", "locationId", "D-01-01", "itemId", "ITEM-40000", "quantity", 11)))
	assertStatuses(t, res[:1], "t-1", "accepted")
	assertRejected(t, res[1], "t-2", processors.CodeUnreasonableQuantity, "10")

	h.cat.setFail(errors.Join(errKafkaUnavailable, errors.New("producing catalog")))
	r = h.do(http.MethodPut, "/v1/catalog", []byte(doc))
	assertError(t, r, http.StatusServiceUnavailable, "KAFKA_UNAVAILABLE", "retry")
}

// TestRoutesAndMethods: unknown routes and methods get JSON errors.
func TestRoutesAndMethods(t *testing.T) {
	h := newHarness(t)
	for _, c := range []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodGet, "/v1/nope", 404, "NOT_FOUND"},
		{http.MethodGet, "/", 404, "NOT_FOUND"},
		{http.MethodPost, "/v2/transactions", 404, "NOT_FOUND"},
		{http.MethodGet, "/v1/transactions/a/b", 404, "NOT_FOUND"},
		{http.MethodDelete, "/v1/catalog", 405, "METHOD_NOT_ALLOWED"},
		{http.MethodPost, "/v1/catalog", 405, "METHOD_NOT_ALLOWED"},
		{http.MethodGet, "/v1/transactions", 405, "METHOD_NOT_ALLOWED"},
		{http.MethodPut, "/v1/transactions", 405, "METHOD_NOT_ALLOWED"},
		{http.MethodPost, "/v1/positions", 405, "METHOD_NOT_ALLOWED"},
		{http.MethodDelete, "/v1/transactions/t-1", 405, "METHOD_NOT_ALLOWED"},
		{http.MethodPost, "/healthz", 405, "METHOD_NOT_ALLOWED"},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			r := h.do(c.method, c.path, []byte(`{}`))
			assertError(t, r, c.status, c.code, c.method, c.path)
		})
	}
	h.assertUntouched(t)
}

// TestHealthAndReadiness: /healthz is always up; /readyz reflects the
// catalog and the pipeline.
func TestHealthAndReadiness(t *testing.T) {
	h := newHarness(t)
	getJSON(t, h, "/healthz", http.StatusOK, nil)
	getJSON(t, h, "/readyz", http.StatusOK, nil)

	h.ready.set(false, "restoring partition 4")
	r := h.do(http.MethodGet, "/readyz", nil)
	assertError(t, r, http.StatusServiceUnavailable, "NOT_READY", "restoring partition 4")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	h.cat.setLoaded(false)
	assertError(t, h.do(http.MethodGet, "/readyz", nil), http.StatusServiceUnavailable, "NOT_READY", "catalog")
	getJSON(t, h, "/healthz", http.StatusOK, nil)
}

// TestStarting: until the server is opened (master data loaded), uploads
// and catalog changes are a 503 STARTING that writes nothing; reads are
// served.
func TestStarting(t *testing.T) {
	h := newHarnessOpen(t, false)
	r := h.post("", envelope(tx("t-1")))
	assertError(t, r, http.StatusServiceUnavailable, "STARTING", "nothing was accepted", "retry")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	assertError(t, h.post("?wait=applied", envelope(tx("t-1"))), http.StatusServiceUnavailable, "STARTING")
	assertError(t, h.do(http.MethodPut, "/v1/catalog", []byte(`{"items":[{"itemId":"ITEM-50000"}]}`)), http.StatusServiceUnavailable, "STARTING")
	h.assertUntouched(t, "t-1")
	getJSON(t, h, "/v1/catalog", http.StatusOK, nil)
	getJSON(t, h, "/v1/positions?warehouseId=WH-001&itemId=ITEM-12345", http.StatusOK, nil)
	getJSON(t, h, "/healthz", http.StatusOK, nil)
}

// TestStartingUnknownToken: until the server is opened the API tokens may
// not all be loaded, so a well-formed token it does not know yet is a 503
// STARTING (a scanner retries), never a 401 (a scanner stops syncing until
// re-enrolled). A token already loaded is served, and once open an unknown
// token is a 401.
func TestStartingUnknownToken(t *testing.T) {
	reg := testRegistry()
	h := newHarnessOpen(t, false, func(c *ingest.Config) { c.Auth = reg })
	tok, secret, err := auth.New(auth.Request{Name: "SCANNER-01", Role: auth.RoleScanner, Warehouses: []string{"WH-001"}, CreatedBy: "admin"}, serverNow)
	if err != nil {
		t.Fatal(err)
	}
	getAt := func(url, bearer string) response {
		t.Helper()
		return request(t, url, bearer, http.MethodGet, "/v1/catalog", nil)
	}
	get := func(bearer string) response { t.Helper(); return getAt(h.url, bearer) }
	r := get(secret)
	assertError(t, r, http.StatusServiceUnavailable, "STARTING", "tokens", "retry")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	assertError(t, get("not-a-token"), http.StatusUnauthorized, "UNAUTHENTICATED")
	reg.Apply(tok)
	if r := get(secret); r.status != http.StatusOK {
		t.Errorf("a loaded token while starting: %d %s", r.status, r.body)
	}

	open := newHarness(t)
	assertError(t, getAt(open.url, secret), http.StatusUnauthorized, "UNAUTHENTICATED", "not valid")
}
