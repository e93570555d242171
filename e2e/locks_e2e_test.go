package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
)

// TestLocksEndToEnd: a scanner locks a location for a count; another
// scanner's count there is rejected unless it overrides, its receipt is
// applied with a warning, and once the lock is released counts apply
// normally. Events carry the warnings; the lock records are on the locks
// topic, decodable through the schema endpoint.
func TestLocksEndToEnd(t *testing.T) {
	in, cfg := startTestDeployment(t)
	base := time.Now().Add(-time.Minute)
	tx := func(id, typ string, s int, qty int64, override bool) api.Transaction {
		return api.Transaction{TransactionID: id, Type: typ, Timestamp: base.Add(time.Duration(s) * time.Second).UTC().Format(time.RFC3339Nano),
			WarehouseID: "WH-T1", ItemID: "IT-A", LocationID: "L1", Quantity: qty, Override: override}
	}
	send := func(scanner string, txs ...api.Transaction) []api.Result {
		t.Helper()
		var res api.UploadResponse
		up := api.UploadRequest{ScannerID: scanner, SentAt: time.Now().UTC().Format(time.RFC3339Nano), Transactions: txs}
		if code := do(t, "POST", in.url+"/v1/transactions?wait=applied", up, &res); code != 200 || len(res.Results) != len(txs) {
			t.Fatalf("upload: %d %+v", code, res)
		}
		return res.Results
	}
	expect := func(r api.Result, status api.OutcomeStatus, code api.ErrorCode, onHand int64, warnings ...string) {
		t.Helper()
		o := r.Outcome
		if r.Status != "accepted" || o == nil || o.Status != status || (code == "") != (o.Code == nil) ||
			(o.Code != nil && *o.Code != code) || o.ResultingOnHand == nil || *o.ResultingOnHand != onHand {
			t.Errorf("%s: got %+v / %+v, want %s %q onHand %d", r.TransactionID, r, o, status, code, onHand)
			return
		}
		if !(len(o.Warnings) == 0 && len(warnings) == 0) && !slices.Equal(o.Warnings, warnings) {
			t.Errorf("%s: warnings %v, want %v", r.TransactionID, o.Warnings, warnings)
		}
	}

	expect(send("SCANNER-01", tx("lk-1", "RECEIPT", 0, 100, false))[0], "applied", "", 100)

	var l1 api.Lock
	if code := do(t, "POST", in.url+"/v1/locks", map[string]any{"warehouseId": "WH-T1", "locationId": "L1", "scannerId": "SCANNER-03"}, &l1); code != 201 {
		t.Fatalf("POST /v1/locks: %d %+v", code, l1)
	}
	if l1.LockID == "" || l1.ScannerID != "SCANNER-03" || l1.Status != "ACTIVE" || time.Until(l1.ExpiresAt) < 29*time.Minute {
		t.Errorf("lock %+v", l1)
	}
	var l2 api.Lock
	if code := do(t, "POST", in.url+"/v1/locks", map[string]any{"warehouseId": "WH-T1", "locationId": "L2", "scannerId": "SCANNER-05", "ttlSeconds": 600}, &l2); code != 201 {
		t.Fatalf("POST /v1/locks (L2): %d", code)
	}

	var conflict api.ErrorBody
	if code := do(t, "POST", in.url+"/v1/locks", map[string]any{"warehouseId": "WH-T1", "locationId": "L1", "scannerId": "SCANNER-04"}, &conflict); code != 409 {
		t.Fatalf("second scanner: %d", code)
	}
	if e := conflict.Error; e.Code != "LOCATION_LOCKED" || e.Holder != "SCANNER-03" || e.LockID != l1.LockID || e.ExpiresAt == nil || !e.ExpiresAt.Equal(l1.ExpiresAt) {
		t.Errorf("409 %+v, want held by %+v", e, l1)
	}
	var bad api.ErrorBody
	if code := do(t, "POST", in.url+"/v1/locks", map[string]any{"warehouseId": "WH-T1", "locationId": "L9", "scannerId": "SCANNER-04"}, &bad); code != 400 || bad.Error.Code != "UNKNOWN_LOCATION" {
		t.Errorf("unknown location: %d %+v", code, bad)
	}

	res := send("SCANNER-04",
		tx("lk-2", "CYCLE_COUNT", 10, 90, false),
		tx("lk-3", "CYCLE_COUNT", 20, 90, true),
		tx("lk-4", "RECEIPT", 30, 5, false),
	)
	expect(res[0], "rejected", "LOCATION_LOCKED", 100)
	expect(res[1], "applied", "", 90, "LOCK_OVERRIDDEN")
	expect(res[2], "applied", "", 95, "LOCATION_LOCKED")

	var list api.LockList
	if code := do(t, "GET", in.url+"/v1/locks?warehouseId=WH-T1", nil, &list); code != 200 || len(list.Locks) != 2 ||
		list.Locks[0].LockID != l1.LockID || list.Locks[1].LockID != l2.LockID {
		t.Errorf("GET /v1/locks: %d %+v", code, list)
	}
	if code := do(t, "GET", in.url+"/v1/locks", nil, nil); code != 400 {
		t.Errorf("GET /v1/locks without warehouseId: %d", code)
	}

	for i := range 2 {
		var rel api.Lock
		if code := do(t, "DELETE", in.url+"/v1/locks/"+l1.LockID, nil, &rel); code != 200 || rel.ReleasedAt == nil || rel.Status != "RELEASED" {
			t.Errorf("DELETE #%d: %d %+v", i+1, code, rel)
		}
	}
	var nf api.ErrorBody
	if code := do(t, "DELETE", in.url+"/v1/locks/lock-never", nil, &nf); code != 404 || nf.Error.Code != "LOCK_NOT_FOUND" {
		t.Errorf("DELETE unknown: %d %+v", code, nf)
	}
	list.Locks = nil
	if code := do(t, "GET", in.url+"/v1/locks?warehouseId=WH-T1", nil, &list); code != 200 || len(list.Locks) != 1 || list.Locks[0].LockID != l2.LockID {
		t.Errorf("GET /v1/locks after DELETE: %d %+v", code, list)
	}

	// Released: the count applies, with no warning.
	expect(send("SCANNER-04", tx("lk-5", "CYCLE_COUNT", 40, 80, false))[0], "applied", "", 80)

	// The events carry the warnings.
	events := consumeAll(t, in.brokers(), cfg.TopicPrefix+"inventory-events", 4, 30*time.Second)
	warnings := map[string][]any{}
	for _, r := range events {
		ev := decodeEvent(t, in.url, nil, r.Value)
		w, _ := ev["warnings"].([]any)
		warnings[ev["eventId"].(string)] = w
	}
	if len(events) != 4 || !slices.Equal(warnings["evt-lk-3-1"], []any{"LOCK_OVERRIDDEN"}) ||
		!slices.Equal(warnings["evt-lk-4-1"], []any{"LOCATION_LOCKED"}) || len(warnings["evt-lk-5-1"]) != 0 {
		t.Errorf("events' warnings %v (%d events)", warnings, len(events))
	}

	// The lock records: L1's, the refused one, L2's, L1's release.
	recs := consumeAll(t, in.brokers(), cfg.TopicPrefix+"locks", 4, 30*time.Second)
	if len(recs) != 4 {
		t.Fatalf("locks topic: %d records, want 4", len(recs))
	}
	if l := decodeEvent(t, in.url, nil, recs[3].Value); l["lockId"] != l1.LockID || l["releasedAt"] == nil || string(recs[3].Key) != l1.LockID {
		t.Errorf("release record %v", l)
	}

	// A restart reloads the locks from the topic.
	in.stop()
	in = startInstance(t, cfg)
	var after api.Lock
	if code := do(t, "GET", in.url+"/v1/locks/"+l1.LockID, nil, &after); code != 200 || after.Status != "RELEASED" {
		t.Errorf("after restart: %d %+v", code, after)
	}
	list.Locks = nil
	if code := do(t, "GET", in.url+"/v1/locks?warehouseId=WH-T1", nil, &list); code != 200 || len(list.Locks) != 1 || list.Locks[0].LockID != l2.LockID {
		t.Errorf("GET /v1/locks after restart: %d %+v", code, list)
	}
}
