package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
)

const testCatalog = `{
  "warehouses": [{"warehouseId": "WH-T1", "locations": ["L1", "L2", "L3"]}],
  "items": [
    {"itemId": "IT-A", "description": "plain item", "lotTracked": false, "maxTransactionQuantity": 1000},
    {"itemId": "IT-B", "description": "lot item", "lotTracked": true, "maxTransactionQuantity": 500}
  ]
}`

// story is an offline backlog, oldest first, exercising every type and the
// count-rebase rule; times are relative to base.
func story(base time.Time) []api.Transaction {
	at := func(d time.Duration) string { return base.Add(d).UTC().Format(time.RFC3339Nano) }
	v99 := int64(99)
	return []api.Transaction{
		{TransactionID: "e2e-1", Type: "RECEIPT", Timestamp: at(0), WarehouseID: "WH-T1", ItemID: "IT-A", LocationID: "L1", Quantity: 100, UserID: "u1"},
		{TransactionID: "e2e-2", Type: "PICK", Timestamp: at(5 * time.Second), WarehouseID: "WH-T1", ItemID: "IT-A", LocationID: "L1", Quantity: 10},
		// The count at +2s saw the receipt but not the pick at +5s.
		{TransactionID: "e2e-3", Type: "CYCLE_COUNT", Timestamp: at(2 * time.Second), WarehouseID: "WH-T1", ItemID: "IT-A", LocationID: "L1", Quantity: 95},
		{TransactionID: "e2e-4", Type: "MOVE", Timestamp: at(10 * time.Second), WarehouseID: "WH-T1", ItemID: "IT-A", LocationID: "L1", ToLocationID: "L2", Quantity: 5},
		{TransactionID: "e2e-5", Type: "ADJUSTMENT", Timestamp: at(11 * time.Second), WarehouseID: "WH-T1", ItemID: "IT-A", LocationID: "L2", Quantity: -3},
		{TransactionID: "e2e-6", Type: "RECEIPT", Timestamp: at(12 * time.Second), WarehouseID: "WH-T1", ItemID: "IT-B", LocationID: "L3", LotNumber: "LOT-1", Quantity: 50},
		{TransactionID: "e2e-7", Type: "ADJUSTMENT", Timestamp: at(13 * time.Second), WarehouseID: "WH-T1", ItemID: "IT-A", LocationID: "L1", Quantity: 1, ExpectedVersion: &v99},
		{TransactionID: "e2e-8", Type: "PICK", Timestamp: at(14 * time.Second), WarehouseID: "WH-T1", ItemID: "IT-B", LocationID: "L3", LotNumber: "LOT-1", Quantity: 200},
		{TransactionID: "e2e-9", Type: "PICK", Timestamp: at(15 * time.Second), WarehouseID: "WH-T1", ItemID: "NOPE", LocationID: "L3", Quantity: 1},
	}
}

func TestPipelineEndToEnd(t *testing.T) {
	in, cfg := startTestDeployment(t)
	base := time.Now().Add(-time.Hour)
	up := api.UploadRequest{ScannerID: "SCANNER-08", SentAt: time.Now().UTC().Format(time.RFC3339Nano), Transactions: story(base)}

	var res api.UploadResponse
	if code := do(t, "POST", in.url+"/v1/transactions?wait=applied", up, &res); code != 200 {
		t.Fatalf("upload: %d", code)
	}
	type want struct {
		status  api.UploadStatus
		outcome api.OutcomeStatus
		code    api.ErrorCode
		onHand  int64
		warning string
	}
	wants := []want{
		{"accepted", "applied", "", 100, ""},
		{"accepted", "applied", "", 90, ""},
		{"accepted", "applied", "", 85, ""},
		{"accepted", "applied", "", 80, ""},
		{"accepted", "applied", "", 2, ""},
		{"accepted", "applied", "", 50, ""},
		{"accepted", "rejected", "VERSION_CONFLICT", 80, ""},
		{"accepted", "applied", "", -150, "NEGATIVE_ON_HAND"},
		{"rejected", "", "UNKNOWN_ITEM", 0, ""},
	}
	if len(res.Results) != len(wants) {
		t.Fatalf("got %d results, want %d", len(res.Results), len(wants))
	}
	for i, w := range wants {
		r := res.Results[i]
		if r.TransactionID != up.Transactions[i].TransactionID || r.Status != w.status {
			t.Errorf("result %d: got %s %s, want %s %s", i, r.TransactionID, r.Status, up.Transactions[i].TransactionID, w.status)
			continue
		}
		if w.status == "rejected" {
			if r.Code == nil || *r.Code != w.code || r.Message == nil || !strings.Contains(*r.Message, "NOPE") {
				t.Errorf("result %d: want code %s with a message naming the item, got %+v", i, w.code, r)
			}
			continue
		}
		o := r.Outcome
		if o == nil || o.Status != w.outcome || o.ResultingOnHand == nil || *o.ResultingOnHand != w.onHand {
			t.Errorf("result %d (%s): want outcome %s onHand %d, got %+v", i, r.TransactionID, w.outcome, w.onHand, o)
			continue
		}
		if (w.code == "") != (o.Code == nil) || (o.Code != nil && *o.Code != w.code) {
			t.Errorf("result %d: want outcome code %q, got %v", i, w.code, o.Code)
		}
		if w.warning != "" && !contains(o.Warnings, w.warning) {
			t.Errorf("result %d: want warning %s, got %v", i, w.warning, o.Warnings)
		}
	}

	checkPositions := func(stage string) {
		t.Helper()
		var pa api.Positions
		if code := do(t, "GET", in.url+"/v1/positions?warehouseId=WH-T1&itemId=IT-A", nil, &pa); code != 200 {
			t.Fatalf("%s: positions: %d", stage, code)
		}
		got := map[string]api.Position{}
		for _, p := range pa.Positions {
			got[p.LocationID] = p
		}
		// L1: count 95 at +2s, then the pick (+5s) and the move out (+10s).
		if got["L1"].OnHand != 80 || got["L1"].Version != 4 || got["L2"].OnHand != 2 || got["L2"].Version != 2 || pa.Totals.OnHand != 82 || pa.Totals.Available != 82 {
			t.Errorf("%s: IT-A positions %+v totals %+v", stage, pa.Positions, pa.Totals)
		}
		var pb api.Positions
		do(t, "GET", in.url+"/v1/positions?warehouseId=WH-T1&itemId=IT-B&locationId=L3&lotNumber=LOT-1", nil, &pb)
		if len(pb.Positions) != 1 || pb.Positions[0].OnHand != -150 || pb.Positions[0].LotNumber != "LOT-1" {
			t.Errorf("%s: IT-B positions %+v", stage, pb.Positions)
		}
	}
	checkPositions("after upload")

	var one api.Outcome
	if code := do(t, "GET", in.url+"/v1/transactions/e2e-3", nil, &one); code != 200 || one.Status != "applied" || *one.ResultingOnHand != 85 {
		t.Errorf("GET transaction: %d %+v", code, one)
	}
	var nf api.ErrorBody
	if code := do(t, "GET", in.url+"/v1/transactions/never-sent", nil, &nf); code != 404 || nf.Error.Code == "" {
		t.Errorf("GET unknown transaction: %d %+v", code, nf)
	}

	// The device resends its whole queue: nothing is applied twice.
	var again api.UploadResponse
	do(t, "POST", in.url+"/v1/transactions?wait=applied", up, &again)
	for i, r := range again.Results[:8] {
		if r.Status != "duplicate" {
			t.Errorf("resend %d: want duplicate, got %+v", i, r)
		}
	}
	// The same id with another body is refused.
	changed := up
	changed.Transactions = []api.Transaction{up.Transactions[0]}
	changed.Transactions[0].Quantity = 101
	var mm api.UploadResponse
	do(t, "POST", in.url+"/v1/transactions", changed, &mm)
	if r := mm.Results[0]; r.Status != "rejected" || r.Code == nil || *r.Code != "IDEMPOTENCY_MISMATCH" {
		t.Errorf("changed body: %+v", r)
	}
	checkPositions("after resends")

	// Events: one per applied leg (the MOVE has two), none for rejections,
	// each decodable through the schema endpoint.
	topic := cfg.TopicPrefix + "inventory-events"
	recs := consumeAll(t, in.brokers(), topic, 8, 30*time.Second)
	if len(recs) != 8 {
		t.Fatalf("events: got %d records, want 8", len(recs))
	}
	seen := map[string]bool{}
	byID := map[string]map[string]any{}
	for _, r := range recs {
		ev := decodeEvent(t, in.url, nil, r.Value)
		id := ev["eventId"].(string)
		if seen[id] {
			t.Errorf("eventId %s appears twice", id)
		}
		seen[id] = true
		byID[id] = ev
		if string(r.Key) != ev["warehouseId"].(string)+"/"+ev["itemId"].(string) {
			t.Errorf("event %s keyed %q", id, r.Key)
		}
	}
	for _, id := range []string{"evt-e2e-1-1", "evt-e2e-2-1", "evt-e2e-3-1", "evt-e2e-4-1", "evt-e2e-4-2", "evt-e2e-5-1", "evt-e2e-6-1", "evt-e2e-8-1"} {
		if !seen[id] {
			t.Errorf("missing event %s (have %v)", id, keys(seen))
		}
	}
	if ev := byID["evt-e2e-4-1"]; ev != nil {
		if ev["eventType"] != "InventoryMove" || ev["quantityChange"] != int64(-5) || ev["resultingOnHand"] != int64(80) || ev["locationId"] != "L1" {
			t.Errorf("move-from event: %v", ev)
		}
	}
	if ev := byID["evt-e2e-3-1"]; ev != nil {
		// The count set onHand from 90 to 85.
		if ev["eventType"] != "CycleCount" || ev["quantityChange"] != int64(-5) || ev["resultingOnHand"] != int64(85) {
			t.Errorf("count event: %v", ev)
		}
		dev, cor := ev["deviceTimestamp"].(time.Time), ev["correctedTimestamp"].(time.Time)
		if skew := cor.Sub(dev); skew < 0 || skew > 5*time.Second {
			t.Errorf("count event: corrected %v vs device %v: skew %v", cor, dev, skew)
		}
	}

	// Restart on the same data dir: state and idempotency survive.
	in.stop()
	in = startInstance(t, cfg)
	checkPositions("after restart")
	do(t, "POST", in.url+"/v1/transactions", up, &again)
	if again.Results[0].Status != "duplicate" {
		t.Errorf("after restart: resend gave %+v", again.Results[0])
	}

	// Lose the local state entirely: it is rebuilt from the changelog.
	in.stop()
	if err := os.RemoveAll(filepath.Join(cfg.DataDir, "state")); err != nil {
		t.Fatal(err)
	}
	in = startInstance(t, cfg)
	checkPositions("after rebuilding state from the changelog")
	do(t, "POST", in.url+"/v1/transactions", up, &again)
	if again.Results[1].Status != "duplicate" {
		t.Errorf("after rebuild: resend gave %+v", again.Results[1])
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
