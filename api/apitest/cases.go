package apitest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
)

// txID is a transactionId unique to the run and n.
func txID(_ *testing.T, n int) string {
	return "ct-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.Itoa(n)
}

// hasKey reports whether the JSON object body has key at the given path of
// object keys and array indexes.
func hasKey(t *testing.T, body []byte, path ...string) bool {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[p]; !ok {
				return false
			}
		case []any:
			i, _ := strconv.Atoi(p)
			if i >= len(x) {
				return false
			}
			v = x[i]
		default:
			return false
		}
	}
	return true
}

func wantAcceptedOrDuplicate(t *testing.T, r api.Result, status api.UploadStatus) {
	t.Helper()
	if r.Status != status {
		t.Errorf("%s: status %q, want %q (code %v)", r.TransactionID, r.Status, status, r.Code)
	}
	if r.Code != nil || r.Message != nil {
		t.Errorf("%s: a %s result has code %v and message %v, want null", r.TransactionID, status, r.Code, r.Message)
	}
}

func wantRejected(t *testing.T, r api.Result, code api.ErrorCode) {
	t.Helper()
	if r.Status != api.StatusRejected || r.Code == nil || *r.Code != code || r.Message == nil || *r.Message == "" {
		t.Errorf("%s: %s, code %v, message %v; want rejected %s with a message", r.TransactionID, r.Status, r.Code, r.Message, code)
	}
	if r.Outcome != nil {
		t.Errorf("%s: a transaction rejected at ingest has an outcome", r.TransactionID)
	}
}

func uploadAccepted(t *testing.T, s *session) {
	a := s.upload("", s.f.ScannerToken, s.f.ScannerID, s.tx(txID(t, 1), 5), s.tx(txID(t, 2), 5))
	var out api.UploadResponse
	s.decode(a, http.StatusOK, &out)
	if len(out.Results) != 2 {
		t.Fatalf("%d results for 2 transactions: %s", len(out.Results), a.body)
	}
	for i, r := range out.Results {
		wantAcceptedOrDuplicate(t, r, api.StatusAccepted)
		if hasKey(t, a.body, "results", strconv.Itoa(i), "outcome") {
			t.Errorf("an upload without ?wait=applied answers an outcome: %s", a.body)
		}
	}
}

func uploadDuplicate(t *testing.T, s *session) {
	tx := s.tx(txID(t, 1), 5)
	wantAcceptedOrDuplicate(t, s.results("", tx)[0], api.StatusAccepted)
	wantAcceptedOrDuplicate(t, s.results("", tx)[0], api.StatusDuplicate)
	// A repeat within one request is a duplicate too.
	other := s.tx(txID(t, 2), 5)
	rs := s.results("", other, other)
	wantAcceptedOrDuplicate(t, rs[0], api.StatusAccepted)
	wantAcceptedOrDuplicate(t, rs[1], api.StatusDuplicate)
}

func uploadMismatch(t *testing.T, s *session) {
	tx := s.tx(txID(t, 1), 5)
	wantAcceptedOrDuplicate(t, s.results("", tx)[0], api.StatusAccepted)
	tx.Quantity = 6
	wantRejected(t, s.results("", tx)[0], api.CodeIdempotencyMismatch)
}

func unauthenticated(t *testing.T, s *session) {
	for _, token := range []string{"", "not-a-token"} {
		a := s.upload("", token, s.f.ScannerID, s.tx(txID(t, 1), 5))
		s.wantError(a, http.StatusUnauthorized, api.CodeUnauthenticated)
		if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 without WWW-Authenticate: Bearer (got %q)", a.header.Get("WWW-Authenticate"))
		}
	}
}

func scannerMismatch(t *testing.T, s *session) {
	a := s.upload("", s.f.ScannerToken, s.f.ScannerID+"-NOT", s.tx(txID(t, 1), 5))
	s.wantError(a, http.StatusForbidden, api.CodeScannerMismatch)
}

func invalidRequest(t *testing.T, s *session) {
	for _, body := range []string{
		`{"scannerId":`,
		`{"scannerId":"` + s.f.ScannerID + `","transactions":[{}]}`,
		`{"scannerId":"` + s.f.ScannerID + `","sentAt":"yesterday","transactions":[{}]}`,
		`{"sentAt":"` + api.FormatTime(time.Now()) + `","transactions":[{}]}`,
		`{"scannerId":"` + s.f.ScannerID + `","sentAt":"` + api.FormatTime(time.Now()) + `","transactions":[]}`,
	} {
		s.wantError(s.do(http.MethodPost, "/v1/transactions", s.f.ScannerToken, []byte(body)), http.StatusBadRequest, api.CodeInvalidRequest)
	}
}

func tooMany(t *testing.T, s *session) {
	txs := make([]api.Transaction, api.MaxTransactions+1)
	for i := range txs {
		txs[i] = s.tx(txID(t, i), 1)
	}
	s.wantError(s.upload("", s.f.ScannerToken, s.f.ScannerID, txs...), http.StatusRequestEntityTooLarge, api.CodeTooManyTransactions)
}

func unknownEndpoint(t *testing.T, s *session) {
	s.wantError(s.do(http.MethodGet, "/v1/no-such-endpoint", s.f.ScannerToken, nil), http.StatusNotFound, api.CodeNotFound)
}

func waitApplied(t *testing.T, s *session) {
	tx := s.tx(txID(t, 1), 5)
	for _, want := range []api.UploadStatus{api.StatusAccepted, api.StatusDuplicate} {
		a := s.upload("?wait=applied", s.f.ScannerToken, s.f.ScannerID, tx)
		var out api.UploadResponse
		s.decode(a, http.StatusOK, &out)
		r := out.Results[0]
		wantAcceptedOrDuplicate(t, r, want)
		switch o := r.Outcome; {
		case o == nil:
			t.Fatalf("%s with ?wait=applied has no outcome: %s", want, a.body)
		case o.Status != api.OutcomeApplied || o.Code != nil || o.ResultingOnHand == nil || o.Version == nil || o.Warnings == nil:
			t.Errorf("%s outcome %+v, want applied with resultingOnHand, version and warnings", want, *o)
		case o.TransactionID != "" || hasKey(t, a.body, "results", "0", "outcome", "message"):
			t.Errorf("an outcome in a result names its transaction or has a message without a code: %s", a.body)
		}
	}
}

func transactionStatus(t *testing.T, s *session) {
	tx := s.tx(txID(t, 1), 5)
	if r := s.results("?wait=applied", tx)[0]; r.Outcome == nil || r.Outcome.Status != api.OutcomeApplied {
		t.Fatalf("not applied: %+v", r)
	}
	var o api.Outcome
	s.decode(s.do(http.MethodGet, "/v1/transactions/"+url.PathEscape(tx.TransactionID), s.f.ScannerToken, nil), http.StatusOK, &o)
	if o.TransactionID != tx.TransactionID || o.Status != api.OutcomeApplied || o.ResultingOnHand == nil || o.Version == nil {
		t.Errorf("GET answered %+v, want the applied outcome of %s", o, tx.TransactionID)
	}
	s.wantError(s.do(http.MethodGet, "/v1/transactions/"+txID(t, 2), s.f.ScannerToken, nil), http.StatusNotFound, api.CodeTransactionNotFound)
}

func catalogChecks(t *testing.T, s *session) {
	unknown := s.tx(txID(t, 1), 5)
	unknown.ItemID = "NO-SUCH-ITEM-" + txID(t, 9)
	elsewhere := s.tx(txID(t, 2), 5)
	elsewhere.WarehouseID = s.f.OtherWarehouse
	ok := s.tx(txID(t, 3), 5)
	rs := s.results("", unknown, elsewhere, ok)
	wantRejected(t, rs[0], api.CodeUnknownItem)
	wantRejected(t, rs[1], api.CodeWarehouseNotPermitted)
	wantAcceptedOrDuplicate(t, rs[2], api.StatusAccepted) // the rest of the batch goes on
}

func me(t *testing.T, s *session) {
	var m api.Me
	s.decode(s.do(http.MethodGet, "/v1/me", s.f.ScannerToken, nil), http.StatusOK, &m)
	if m.Name != s.f.ScannerID || m.Role != api.RoleScanner || m.TokenID == "" || len(m.Warehouses) == 0 {
		t.Errorf("GET /v1/me = %+v, want scanner %s", m, s.f.ScannerID)
	}
}

// catalogDoc is GET /v1/catalog's answer as far as the contract needs.
type catalogDoc struct {
	Warehouses []struct {
		WarehouseID string `json:"warehouseId"`
	} `json:"warehouses"`
	Items []struct {
		ItemID string `json:"itemId"`
	} `json:"items"`
}

func catalog(t *testing.T, s *session) {
	a := s.do(http.MethodGet, "/v1/catalog", s.f.ScannerToken, nil)
	if a.status != http.StatusOK {
		t.Fatalf("GET /v1/catalog answered %d: %s", a.status, a.body)
	}
	var doc catalogDoc
	if err := json.Unmarshal(a.body, &doc); err != nil {
		t.Fatalf("the catalog is not JSON: %v", err)
	}
	var whs []string
	for _, w := range doc.Warehouses {
		whs = append(whs, w.WarehouseID)
	}
	if !strings.Contains(strings.Join(whs, ","), s.f.Warehouse) || strings.Contains(strings.Join(whs, ","), s.f.OtherWarehouse) {
		t.Errorf("a scanner's catalog holds warehouses %v: want its own (%s), not %s", whs, s.f.Warehouse, s.f.OtherWarehouse)
	}
	etag := a.header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) < 3 {
		t.Fatalf("ETag %q is not a quoted entity tag", etag)
	}
	if b := s.do(http.MethodGet, "/v1/catalog", s.f.ScannerToken, nil, "If-None-Match", etag); b.status != http.StatusNotModified || len(b.body) != 0 {
		t.Errorf("If-None-Match with the ETag answered %d %q, want 304 and no body", b.status, b.body)
	}
	if b := s.do(http.MethodGet, "/v1/catalog", s.f.ScannerToken, nil, "If-None-Match", `"stale"`); b.status != http.StatusOK || !bytes.Equal(b.body, a.body) {
		t.Errorf("If-None-Match with another tag answered %d, want 200 and the catalog", b.status)
	}
	s.wantError(s.do(http.MethodGet, "/v1/catalog?warehouseId="+url.QueryEscape(s.f.OtherWarehouse), s.f.ScannerToken, nil),
		http.StatusForbidden, api.CodeForbidden)
}

func positions(t *testing.T, s *session) {
	first, second := s.tx(txID(t, 1), 5), s.tx(txID(t, 2), 3)
	second.LocationID = s.f.OtherLocation
	for _, r := range s.results("?wait=applied", first, second) {
		if r.Outcome == nil || r.Outcome.Status != api.OutcomeApplied {
			t.Fatalf("not applied: %+v", r)
		}
	}
	q := "/v1/positions?warehouseId=" + url.QueryEscape(s.f.Warehouse) + "&itemId=" + url.QueryEscape(s.f.Item)
	var all api.Positions
	s.decode(s.do(http.MethodGet, q, s.f.ScannerToken, nil), http.StatusOK, &all)
	onHand := map[string]int64{}
	for _, p := range all.Positions {
		if p.WarehouseID != s.f.Warehouse || p.ItemID != s.f.Item || p.Available != p.OnHand-p.Allocated || p.Version < 1 {
			t.Errorf("position %+v", p)
		}
		onHand[p.LocationID] += p.OnHand
	}
	if onHand[s.f.Location] != 5 || onHand[s.f.OtherLocation] != 3 || all.Totals.OnHand != 8 || all.Totals.Available != 8 {
		t.Errorf("positions %+v, totals %+v: want 5 at %s and 3 at %s, 8 in all", all.Positions, all.Totals, s.f.Location, s.f.OtherLocation)
	}
	var one api.Positions
	s.decode(s.do(http.MethodGet, q+"&locationId="+url.QueryEscape(s.f.Location), s.f.ScannerToken, nil), http.StatusOK, &one)
	if len(one.Positions) != 1 || one.Positions[0].LocationID != s.f.Location || one.Totals.OnHand != 5 {
		t.Errorf("positions at %s: %+v", s.f.Location, one)
	}
	var none api.Positions
	s.decode(s.do(http.MethodGet, "/v1/positions?warehouseId="+url.QueryEscape(s.f.Warehouse)+"&itemId=NEVER-SCANNED", s.f.ScannerToken, nil), http.StatusOK, &none)
	if none.Positions == nil || len(none.Positions) != 0 {
		t.Errorf("no positions must answer an empty array, got %+v", none)
	}
	s.wantError(s.do(http.MethodGet, "/v1/positions?warehouseId="+url.QueryEscape(s.f.Warehouse), s.f.ScannerToken, nil),
		http.StatusBadRequest, api.CodeInvalidRequest)
}

func lockBody(t *testing.T, wh, loc, scanner string) []byte {
	ttl := json.RawMessage("60")
	return mustJSON(t, api.LockRequest{WarehouseID: &wh, LocationID: &loc, ScannerID: &scanner, TTLSeconds: &ttl})
}

func locks(t *testing.T, s *session) {
	var l api.Lock
	s.decode(s.do(http.MethodPost, "/v1/locks", s.f.ScannerToken, lockBody(t, s.f.Warehouse, s.f.Location, s.f.ScannerID)), http.StatusCreated, &l)
	if l.LockID == "" || l.ScannerID != s.f.ScannerID || l.WarehouseID != s.f.Warehouse || l.LocationID != s.f.Location ||
		l.Status != api.LockActive || l.ReleasedAt != nil || !l.ExpiresAt.After(l.AcquiredAt) {
		t.Errorf("lock %+v", l)
	}
	held := s.wantError(s.do(http.MethodPost, "/v1/locks", s.f.OtherScannerToken, lockBody(t, s.f.Warehouse, s.f.Location, s.f.OtherScannerID)),
		http.StatusConflict, api.CodeLocationLocked)
	if held.Holder != s.f.ScannerID || held.LockID != l.LockID || held.ExpiresAt == nil {
		t.Errorf("409 names holder %q, lock %q, expiry %v; want %s, %s and an expiry", held.Holder, held.LockID, held.ExpiresAt, s.f.ScannerID, l.LockID)
	}
	s.wantError(s.do(http.MethodPost, "/v1/locks", s.f.ScannerToken, lockBody(t, s.f.Warehouse, s.f.OtherLocation, s.f.OtherScannerID)),
		http.StatusForbidden, api.CodeScannerMismatch)
	var rel api.Lock
	s.decode(s.do(http.MethodDelete, "/v1/locks/"+url.PathEscape(l.LockID), s.f.ScannerToken, nil), http.StatusOK, &rel)
	if rel.LockID != l.LockID || rel.Status != api.LockReleased || rel.ReleasedAt == nil {
		t.Errorf("released lock %+v", rel)
	}
	s.wantError(s.do(http.MethodDelete, "/v1/locks/no-such-lock", s.f.ScannerToken, nil), http.StatusNotFound, api.CodeLockNotFound)
}

func roles(t *testing.T, s *session) {
	s.wantError(s.upload("", s.f.ReaderToken, s.f.ScannerID, s.tx(txID(t, 1), 5)), http.StatusForbidden, api.CodeForbidden)
}

func versionConflict(t *testing.T, s *session) {
	first := s.tx(txID(t, 1), 5)
	r := s.results("?wait=applied", first)[0]
	if r.Outcome == nil || r.Outcome.Version == nil {
		t.Fatalf("not applied: %+v", r)
	}
	current, onHand := *r.Outcome.Version, *r.Outcome.ResultingOnHand
	stale := current - 1
	second := s.tx(txID(t, 2), 1)
	second.ExpectedVersion = &stale
	a := s.upload("?wait=applied", s.f.ScannerToken, s.f.ScannerID, second)
	var out api.UploadResponse
	s.decode(a, http.StatusOK, &out)
	got := out.Results[0]
	wantAcceptedOrDuplicate(t, got, api.StatusAccepted) // accepted at ingest, refused when applied
	if o := got.Outcome; o == nil || o.Status != api.OutcomeRejected || o.Code == nil || *o.Code != api.CodeVersionConflict ||
		o.Message == nil || *o.Message == "" {
		t.Errorf("a stale expectedVersion answered %s, want the outcome rejected VERSION_CONFLICT with a message", a.body)
	} else if o.Version == nil || *o.Version != current || o.ResultingOnHand == nil || *o.ResultingOnHand != onHand {
		// A retry needs the version the record is at.
		t.Errorf("a VERSION_CONFLICT outcome answered version %v and onHand %v, want the record's: %d and %d", o.Version, o.ResultingOnHand, current, onHand)
	}
}

func allocations(t *testing.T, s *session) {
	if r := s.results("?wait=applied", s.tx(txID(t, 1), 5))[0]; r.Outcome == nil || r.Outcome.Status != api.OutcomeApplied {
		t.Fatalf("not applied: %+v", r)
	}
	order := "order-" + txID(t, 2)
	request := func(id string, qty int64) []byte {
		line, n := int32(1), json.RawMessage(strconv.FormatInt(qty, 10))
		return mustJSON(t, api.AllocationRequest{AllocationID: &id, OrderID: &order, OrderLine: &line, WarehouseID: &s.f.Warehouse,
			ItemID: &s.f.Item, Quantity: &n})
	}
	id := "alloc-" + txID(t, 3)
	var a api.Allocation
	s.decode(s.do(http.MethodPost, "/v1/allocations?wait=decided", s.f.CloudToken, request(id, 2)), http.StatusOK, &a)
	if a.AllocationID != id || a.OrderID != order || a.Status != "CONFIRMED" || a.RequestedQuantity != 2 || a.ConfirmedQuantity != 2 ||
		len(a.Lines) != 1 || a.Lines[0].LocationID != s.f.Location || a.Lines[0].Quantity != 2 || len(a.History) == 0 {
		t.Errorf("allocation %+v, want CONFIRMED 2 at %s", a, s.f.Location)
	}
	var again api.Allocation
	s.decode(s.do(http.MethodGet, "/v1/allocations/"+url.PathEscape(id), s.f.CloudToken, nil), http.StatusOK, &again)
	if again.AllocationID != id || again.Status != a.Status {
		t.Errorf("GET answered %+v, want %s %s", again, id, a.Status)
	}
	var list api.AllocationList
	s.decode(s.do(http.MethodGet, "/v1/allocations?orderId="+url.QueryEscape(order), s.f.CloudToken, nil), http.StatusOK, &list)
	if list.OrderID != order || len(list.Allocations) != 1 || list.Allocations[0].AllocationID != id {
		t.Errorf("the order's allocations: %+v", list)
	}
	s.wantError(s.do(http.MethodPost, "/v1/allocations", s.f.CloudToken, request(id, 3)), http.StatusConflict, api.CodeIdempotencyMismatch)
	s.wantError(s.do(http.MethodGet, "/v1/allocations/no-such-allocation", s.f.CloudToken, nil), http.StatusNotFound, api.CodeAllocationNotFound)
	s.wantError(s.do(http.MethodPost, "/v1/allocations", s.f.ScannerToken, request("alloc-"+txID(t, 4), 1)), http.StatusForbidden, api.CodeForbidden)
	var tentative api.AllocationAnswer
	s.decode(s.do(http.MethodPost, "/v1/allocations", s.f.CloudToken, request("alloc-"+txID(t, 5), 1)), http.StatusAccepted, &tentative)
	if tentative.Status != "TENTATIVE" || tentative.Cancellation != "" {
		t.Errorf("an allocation not waited for answered %+v, want TENTATIVE", tentative)
	}
	var pos api.Positions
	s.decode(s.do(http.MethodGet, "/v1/positions?warehouseId="+url.QueryEscape(s.f.Warehouse)+"&itemId="+url.QueryEscape(s.f.Item), s.f.ScannerToken, nil),
		http.StatusOK, &pos)
	if pos.Totals.OnHand != 5 || pos.Totals.Allocated != 3 || pos.Totals.Available != 2 {
		t.Errorf("after allocating 2 and 1 of 5, totals %+v", pos.Totals)
	}
}
