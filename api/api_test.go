package api_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
)

func p[T any](v T) *T { return &v }

// TestWireEncodings pins the bytes of representative bodies: field order,
// nulls and omitted fields are part of the contract (spec "HTTP API"),
// and clients compare some answers byte for byte.
func TestWireEncodings(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 30, 0, 123_000_000, time.UTC)
	for _, c := range []struct {
		name string
		v    any
		want string
	}{
		{"accepted result: code and message null, no outcome", api.Result{TransactionID: "t-1", Status: api.StatusAccepted},
			`{"transactionId":"t-1","status":"accepted","code":null,"message":null}`},
		{"rejected result", api.Result{TransactionID: "t-2", Status: api.StatusRejected, Code: p(api.CodeUnknownItem), Message: p("no such item")},
			`{"transactionId":"t-2","status":"rejected","code":"UNKNOWN_ITEM","message":"no such item"}`},
		{"applied outcome in a result: no transactionId, no message", api.Result{TransactionID: "t-3", Status: api.StatusDuplicate,
			Outcome: &api.Outcome{Status: api.OutcomeApplied, ResultingOnHand: p(int64(95)), Version: p(int64(7)), Warnings: []string{}}},
			`{"transactionId":"t-3","status":"duplicate","code":null,"message":null,"outcome":{"status":"applied","code":null,"resultingOnHand":95,"version":7,"warnings":[]}}`},
		{"pending outcome", api.PendingOutcome(), `{"status":"pending","code":null,"resultingOnHand":null,"version":null,"warnings":[]}`},
		{"outcome of GET /v1/transactions/{id}", api.Outcome{TransactionID: "t-4", Status: api.OutcomeRejected, Code: p(api.CodeVersionConflict),
			Message: p("expected version 3"), ResultingOnHand: p(int64(0)), Version: p(int64(4)), Warnings: []string{"w"}},
			`{"transactionId":"t-4","status":"rejected","code":"VERSION_CONFLICT","message":"expected version 3","resultingOnHand":0,"version":4,"warnings":["w"]}`},
		{"upload response", api.UploadResponse{Results: []api.Result{}}, `{"results":[]}`},
		{"error body", api.NewError(api.CodeInvalidRequest, "warehouseId is required"),
			`{"error":{"code":"INVALID_REQUEST","message":"warehouseId is required"}}`},
		{"lock conflict names the holder", api.ErrorBody{Error: api.Error{Code: api.CodeLocationLocked, Message: "locked",
			Holder: "SCANNER-2", ExpiresAt: &at, LockID: "lk-1"}},
			`{"error":{"code":"LOCATION_LOCKED","expiresAt":"2026-11-26T10:30:00.123Z","holder":"SCANNER-2","lockId":"lk-1","message":"locked"}}`},
		{"upload transaction leaves unset optional fields out", api.Transaction{TransactionID: "t-5", Type: "PICK", Timestamp: api.FormatTime(at),
			WarehouseID: "WH-001", ItemID: "ITEM-1", LocationID: "A-01", Quantity: 3},
			`{"transactionId":"t-5","type":"PICK","timestamp":"2026-11-26T10:30:00.123Z","warehouseId":"WH-001","itemId":"ITEM-1","locationId":"A-01","quantity":3}`},
		{"upload transaction with every field", api.Transaction{TransactionID: "t-6", Type: "CYCLE_COUNT", Timestamp: "2026-11-26T10:30:00.000Z",
			WarehouseID: "WH-001", ItemID: "ITEM-1", LocationID: "A-01", LotNumber: "L1", Quantity: 0, ToLocationID: "B-02",
			ExpectedVersion: p(int64(0)), AllocationID: "al-1", Override: true, UserID: "u1", ReasonCode: "DAMAGED", CountTaskID: "ct-1"},
			`{"transactionId":"t-6","type":"CYCLE_COUNT","timestamp":"2026-11-26T10:30:00.000Z","warehouseId":"WH-001","itemId":"ITEM-1","locationId":"A-01","lotNumber":"L1","quantity":0,"toLocationId":"B-02","expectedVersion":0,"allocationId":"al-1","override":true,"userId":"u1","reasonCode":"DAMAGED","countTaskId":"ct-1"}`},
		{"positions", api.Positions{Positions: []api.Position{{WarehouseID: "WH-001", ItemID: "ITEM-1", LocationID: "A-01", OnHand: 5, Allocated: 2, Available: 3, Version: 9, UpdatedAt: at}},
			Totals: api.Totals{OnHand: 5, Allocated: 2, Available: 3}},
			`{"positions":[{"warehouseId":"WH-001","itemId":"ITEM-1","locationId":"A-01","lotNumber":"","onHand":5,"allocated":2,"available":3,"version":9,"updatedAt":"2026-11-26T10:30:00.123Z"}],"totals":{"onHand":5,"allocated":2,"available":3}}`},
		{"empty positions", api.Positions{Positions: []api.Position{}}, `{"positions":[],"totals":{"onHand":0,"allocated":0,"available":0}}`},
		{"me without expiry", api.Me{TokenID: "tk-1", Name: "SCANNER-1", Role: api.RoleScanner, Warehouses: []string{"WH-001"}},
			`{"expiresAt":null,"name":"SCANNER-1","role":"scanner","tokenId":"tk-1","warehouses":["WH-001"]}`},
		{"token listing: no secret", api.TokenList{Tokens: []api.Token{{TokenID: "tk-1", Name: "n", Role: api.RoleReader, Warehouses: []string{"*"}, CreatedAt: at, CreatedBy: "admin", Status: api.TokenActive}}},
			`{"tokens":[{"tokenId":"tk-1","name":"n","role":"reader","warehouses":["*"],"expiresAt":null,"createdAt":"2026-11-26T10:30:00.123Z","createdBy":"admin","revokedAt":null,"status":"ACTIVE"}]}`},
		{"allocation accepted", api.AllocationAnswer{AllocationID: "al-1", Status: "TENTATIVE"}, `{"allocationId":"al-1","status":"TENTATIVE"}`},
		{"allocation cancellation pending", api.AllocationAnswer{AllocationID: "al-1", Status: "CONFIRMED", Cancellation: "pending"},
			`{"allocationId":"al-1","cancellation":"pending","status":"CONFIRMED"}`},
		{"allocation", api.Allocation{AllocationID: "al-1", OrderID: "o-1", OrderLine: 1, WarehouseID: "WH-001", ItemID: "ITEM-1", Status: "CONFIRMED",
			RequestedQuantity: 5, ConfirmedQuantity: 5, Lines: []api.AllocationLine{{LocationID: "A-01", Quantity: 5}},
			History: []api.AllocationHistory{{At: at, Status: "CONFIRMED"}}},
			`{"allocationId":"al-1","orderId":"o-1","orderLine":1,"warehouseId":"WH-001","itemId":"ITEM-1","status":"CONFIRMED","requestedQuantity":5,"confirmedQuantity":5,"backorderQuantity":0,"pickedQuantity":0,"lines":[{"locationId":"A-01","lotNumber":"","quantity":5}],"reason":null,"history":[{"at":"2026-11-26T10:30:00.123Z","status":"CONFIRMED"}]}`},
		{"allocations of an order", api.AllocationList{OrderID: "o-1", Allocations: []api.Allocation{}}, `{"allocations":[],"orderId":"o-1"}`},
		{"lock list", api.LockList{WarehouseID: "WH-001", Locks: []api.Lock{{LockID: "lk-1", WarehouseID: "WH-001", LocationID: "A-01", ScannerID: "S-1",
			AcquiredAt: at, ExpiresAt: at.Add(time.Minute), Status: api.LockActive}}},
			`{"locks":[{"lockId":"lk-1","warehouseId":"WH-001","locationId":"A-01","scannerId":"S-1","acquiredAt":"2026-11-26T10:30:00.123Z","expiresAt":"2026-11-26T10:31:00.123Z","releasedAt":null,"status":"ACTIVE"}],"warehouseId":"WH-001"}`},
		{"catalog upsert", api.CatalogAnswer{Upserted: api.CatalogSize{Warehouses: 1, Items: 2}, Catalog: api.CatalogSize{Warehouses: 3, Items: 4}},
			`{"catalog":{"items":4,"warehouses":3},"upserted":{"items":2,"warehouses":1}}`},
		{"command pending", api.CommandAnswer{CommandID: "cmd-1", Status: api.ReportPending}, `{"commandId":"cmd-1","status":"PENDING"}`},
		{"count decided without an outcome", api.CountDecisionAnswer{Count: api.HeldCount{TransactionID: "t-7", CountedAt: at, HeldAt: at}},
			`{"count":{"transactionId":"t-7","warehouseId":"","itemId":"","locationId":"","lotNumber":"","counted":0,"expected":0,"tolerance":0,"status":"","scannerId":"","userId":"","countedAt":"2026-11-26T10:30:00.123Z","heldAt":"2026-11-26T10:30:00.123Z","decidedAt":null,"decidedBy":null,"note":null}}`},
		{"count task", api.CountTaskList{CountTasks: []api.CountTask{{CountTaskID: "ct-1", WarehouseID: "WH-001", LocationID: "A-01", Reason: "r", Status: "OPEN", CreatedAt: at, CreatedBy: "sup"}}},
			`{"countTasks":[{"countTaskId":"ct-1","warehouseId":"WH-001","locationId":"A-01","itemId":null,"reason":"r","status":"OPEN","createdAt":"2026-11-26T10:30:00.123Z","createdBy":"sup","discrepancyId":null,"completedAt":null,"completedBy":null}]}`},
		{"discrepancy step leaves unset fields out", api.DiscrepancyStep{At: at, By: "sup", Status: "OPEN"}, `{"at":"2026-11-26T10:30:00.123Z","by":"sup","status":"OPEN"}`},
		{"health", api.Status{Status: "ok"}, `{"status":"ok"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := json.Marshal(c.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("encoded\n %s\nwant\n %s", got, c.want)
			}
		})
	}
}

// TestMapShapedBodiesKeepTheirOrder: bodies the server used to write as
// maps (keys sorted) encode exactly as those maps did.
func TestMapShapedBodiesKeepTheirOrder(t *testing.T) {
	exp := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		typed any
		asMap map[string]any
	}{
		{api.Me{TokenID: "tk", Name: "n", Role: api.RoleAdmin, Warehouses: []string{"*"}, ExpiresAt: &exp},
			map[string]any{"tokenId": "tk", "name": "n", "role": "admin", "warehouses": []string{"*"}, "expiresAt": exp}},
		{api.AllocationAnswer{AllocationID: "a", Status: "CONFIRMED", Cancellation: "pending"},
			map[string]any{"allocationId": "a", "status": "CONFIRMED", "cancellation": "pending"}},
		{api.AllocationList{OrderID: "o", Allocations: []api.Allocation{}}, map[string]any{"orderId": "o", "allocations": []any{}}},
		{api.LockList{WarehouseID: "w", Locks: []api.Lock{}}, map[string]any{"warehouseId": "w", "locks": []any{}}},
		{api.CatalogAnswer{Upserted: api.CatalogSize{Warehouses: 1, Items: 2}, Catalog: api.CatalogSize{Warehouses: 3, Items: 4}},
			map[string]any{"upserted": map[string]any{"warehouses": 1, "items": 2}, "catalog": map[string]any{"warehouses": 3, "items": 4}}},
		{api.NewError(api.CodeNotFound, "m"), map[string]any{"error": map[string]any{"code": "NOT_FOUND", "message": "m"}}},
		{api.ErrorBody{Error: api.Error{Code: api.CodeLocationLocked, Message: "m", Holder: "h", ExpiresAt: &exp, LockID: "l"}},
			map[string]any{"error": map[string]any{"code": "LOCATION_LOCKED", "message": "m", "holder": "h", "expiresAt": exp, "lockId": "l"}}},
		{api.CommandAnswer{CommandID: "c", Status: "PENDING"}, map[string]any{"commandId": "c", "status": "PENDING"}},
	} {
		a, _ := json.Marshal(c.typed)
		b, _ := json.Marshal(c.asMap)
		if string(a) != string(b) {
			t.Errorf("%T encodes\n %s\nthe map it replaces\n %s", c.typed, a, b)
		}
	}
}

func TestCheckCountTaskID(t *testing.T) {
	for _, c := range []struct {
		typ, id string
		ok      bool
	}{
		{"CYCLE_COUNT", "ct-1", true},
		{"PICK", "ct-1", false},
		{"CYCLE_COUNT", "", false},
		{"CYCLE_COUNT", "a\x01b", false},
		{"CYCLE_COUNT", strings.Repeat("a", 129), false},
		{"CYCLE_COUNT", strings.Repeat("a", 128), true},
	} {
		if got := api.CheckCountTaskID(c.typ, c.id) == ""; got != c.ok {
			t.Errorf("CheckCountTaskID(%q, %q) ok = %v, want %v", c.typ, c.id, got, c.ok)
		}
	}
}
