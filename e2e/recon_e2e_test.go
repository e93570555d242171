package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/schemas"
)

// cloudRecord is a record of the test's cloud projection.
type cloudRecord struct {
	Item, Loc, Lot  string
	OnHand, Version int64
}

// projection folds the events topic the way a careful cloud does: by
// version, a correction resetting the record.
func projection(t *testing.T, in *testInstance) map[string]*cloudRecord {
	t.Helper()
	codec, err := schemas.New(context.Background(), schemas.Config{TopicPrefix: in.cfg.TopicPrefix})
	if err != nil {
		t.Fatal(err)
	}
	cl := committedReader(t, in.brokers(), in.cfg.TopicPrefix+"inventory-events")
	defer cl.Close()
	out := map[string]*cloudRecord{}
	idle := 0
	for idle < 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
		f := cl.PollFetches(ctx)
		cancel()
		if f.NumRecords() == 0 {
			idle++
			continue
		}
		idle = 0
		f.EachRecord(func(r *kgo.Record) {
			e, err := codec.DecodeInventoryEvent(r.Value)
			if err != nil {
				t.Fatalf("event at %d: %v", r.Offset, err)
			}
			lot := ""
			if e.LotNumber != nil {
				lot = *e.LotNumber
			}
			key := e.ItemID + "|" + e.LocationID + "|" + lot
			cur := out[key]
			if cur == nil || e.Version > cur.Version || e.EventType == schemas.EventReconciliationCorrection {
				out[key] = &cloudRecord{Item: e.ItemID, Loc: e.LocationID, Lot: lot, OnHand: e.ResultingOnHand, Version: e.Version}
			}
		})
	}
	return out
}

func reportBody(id string, proj map[string]*cloudRecord) map[string]any {
	keys := make([]string, 0, len(proj))
	for k := range proj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ps := []map[string]any{}
	for _, k := range keys {
		r := proj[k]
		ps = append(ps, map[string]any{"itemId": r.Item, "locationId": r.Loc, "lotNumber": r.Lot, "onHand": r.OnHand, "version": r.Version})
	}
	return map[string]any{"reportId": id, "warehouseId": "WH-T1", "complete": true, "positions": ps}
}

// TestReconciliationClosesTheLoop: a cloud projection is corrupted four
// ways (a lost event, a doubled event, a wrong quantity, a record it never
// heard of) plus a record the warehouse lacks; the next reports find each,
// the corrections repair the projection, and the report after that agrees
// and resolves them. Then a supervisor works a discrepancy through its
// lifecycle, a recount completes its count task, and a held count is
// approved.
func TestReconciliationClosesTheLoop(t *testing.T) {
	cfg := testConfig(t)
	cfg.ReconciliationGrace = time.Second
	r := newSecRig(t, cfg)
	in := r.in
	// Stock on five records of WH-T1.
	base := time.Now().Add(-time.Hour)
	var txs []api.Transaction
	for i, loc := range []string{"L1", "L2"} {
		for j, it := range []string{"IT-A", "IT-B"} {
			tx := api.Transaction{TransactionID: fmt.Sprintf("rc-%d-%d", i, j), Type: "RECEIPT", Timestamp: base.Add(time.Duration(i*2+j) * time.Second).UTC().Format(time.RFC3339Nano),
				WarehouseID: "WH-T1", ItemID: it, LocationID: loc, Quantity: int64(10 * (i + j + 1))}
			if it == "IT-B" {
				tx.LotNumber = "LOT-1"
			}
			txs = append(txs, tx)
		}
	}
	txs = append(txs, api.Transaction{TransactionID: "rc-pick", Type: "PICK", Timestamp: base.Add(time.Minute).UTC().Format(time.RFC3339Nano),
		WarehouseID: "WH-T1", ItemID: "IT-A", LocationID: "L1", Quantity: 3})
	var up api.UploadResponse
	if code := do(t, "POST", in.url+"/v1/transactions?wait=applied", api.UploadRequest{ScannerID: "SCANNER-1", SentAt: time.Now().UTC().Format(time.RFC3339Nano), Transactions: txs}, &up); code != 200 {
		t.Fatalf("upload: %d", code)
	}
	proj := projection(t, in)
	if len(proj) != 4 {
		t.Fatalf("projection has %d records, want 4: %v", len(proj), proj)
	}
	postReport := func(id string, p map[string]*cloudRecord) api.ReportAnswer {
		t.Helper()
		var out api.ReportAnswer
		status, _, data := testkit.Call(t, "POST", in.url+"/v1/reconciliation/reports?wait=compared", r.tokens["cloud"], reportBody(id, p))
		if status != 200 || json.Unmarshal(data, &out) != nil {
			t.Fatalf("report %s: %d %s", id, status, data)
		}
		return out
	}
	if a := postReport("rep-0", proj); a.Agreed != 4 || len(a.Discrepancies) != 0 {
		t.Fatalf("the faithful projection: %+v", a)
	}
	// Corrupt it.
	proj["IT-A|L1|"].Version--        // a lost event: behind (then STALE)
	proj["IT-A|L1|"].OnHand += 3      //  (what it was before the pick)
	proj["IT-B|L1|LOT-1"].OnHand *= 2 // a doubled event: same version, other onHand
	proj["IT-A|L2|"].OnHand = 999     // a wrong quantity
	delete(proj, "IT-B|L2|LOT-1")     // a record it never heard of
	a := postReport("rep-1", proj)
	if a.Agreed != 0 || a.Behind != 1 || len(a.Discrepancies) != 3 {
		t.Fatalf("report 1: %+v, want 1 behind and 3 discrepancies", a)
	}
	time.Sleep(1500 * time.Millisecond) // past the grace
	a = postReport("rep-2", proj)
	kinds := map[string]string{}
	var list api.DiscrepancyList
	if status, _, data := testkit.Call(t, "GET", in.url+"/v1/discrepancies?warehouseId=WH-T1&status=OPEN", r.tokens["supervisor"], nil); status != 200 || json.Unmarshal(data, &list) != nil {
		t.Fatalf("list: %d %s", status, data)
	}
	for _, d := range list.Discrepancies {
		kinds[d.ItemID+"|"+d.LocationID] = d.Kind
		if d.History[0].By != "cloud-1" {
			t.Errorf("%s opened by %q, want the cloud token's name", d.DiscrepancyID, d.History[0].By)
		}
	}
	want := map[string]string{"IT-A|L1": "STALE", "IT-B|L1": "MISMATCH", "IT-A|L2": "MISMATCH", "IT-B|L2": "MISSING_IN_CLOUD"}
	if fmt.Sprint(kinds) != fmt.Sprint(want) || len(a.Discrepancies) != 4 {
		t.Fatalf("open discrepancies %v (report 2: %+v), want %v", kinds, a, want)
	}
	// The corrections repair the projection; the next report agrees and
	// resolves every one.
	repaired := projection(t, in)
	if len(repaired) != 4 {
		t.Fatalf("repaired projection: %v", repaired)
	}
	a = postReport("rep-3", repaired)
	if a.Agreed != 4 || len(a.Resolved) != 4 || len(a.Discrepancies) != 0 {
		t.Fatalf("report after the corrections: %+v", a)
	}
	var d api.Discrepancy
	if status, _, data := testkit.Call(t, "GET", in.url+"/v1/discrepancies/"+a.Resolved[0], r.tokens["reader"], nil); status != 200 || json.Unmarshal(data, &d) != nil ||
		d.Status != "RESOLVED" || deref(d.Resolution) != "CLOUD_CORRECTED" {
		t.Fatalf("resolved discrepancy: %d %s", status, data)
	}

	// A record the warehouse lacks, then a supervisor's lifecycle with a
	// recount.
	body := reportBody("rep-4", repaired)
	body["complete"] = false
	body["positions"] = []map[string]any{{"itemId": "IT-B", "locationId": "L2", "lotNumber": "LOT-9", "onHand": 5, "version": 1}}
	var a4 api.ReportAnswer
	if status, _, data := testkit.Call(t, "POST", in.url+"/v1/reconciliation/reports?wait=compared", r.tokens["cloud"], body); status != 200 || json.Unmarshal(data, &a4) != nil || len(a4.Discrepancies) != 1 {
		t.Fatalf("report 4: %d %s", status, data)
	}
	id := a4.Discrepancies[0]
	patch := func(body map[string]any, wantStatus int) api.Discrepancy {
		t.Helper()
		var out api.Discrepancy
		status, _, data := testkit.Call(t, "PATCH", in.url+"/v1/discrepancies/"+id, r.tokens["supervisor"], body)
		if status != wantStatus {
			t.Fatalf("PATCH %v: %d %s, want %d", body, status, data, wantStatus)
		}
		_ = json.Unmarshal(data, &out)
		return out
	}
	if d := patch(map[string]any{"status": "INVESTIGATING", "assignee": "supervisor-1", "note": "checking the bin"}, 200); d.Status != "INVESTIGATING" || d.Kind != "UNKNOWN_TO_WAREHOUSE" {
		t.Fatalf("investigating: %+v", d)
	}
	// A note resent with the same Idempotency-Key (the client lost the
	// first answer) is one step, answered the same both times.
	for i := 0; i < 2; i++ {
		status, _, data := testkit.CallHeader(t, "PATCH", in.url+"/v1/discrepancies/"+id, r.tokens["supervisor"],
			http.Header{"Idempotency-Key": {"note-1"}}, `{"note": "bin empty, asking the night shift"}`)
		var out api.Discrepancy
		err := json.Unmarshal(data, &out)
		if status != 200 || err != nil || len(out.History) != 3 || out.History[2].Note != "bin empty, asking the night shift" {
			t.Fatalf("note with an Idempotency-Key, send %d: %d %+v %v; want 200 and 3 steps", i+1, status, out, err)
		}
	}
	d = patch(map[string]any{"status": "RESOLVED", "resolution": "RECOUNT_REQUESTED"}, 200)
	if d.Status != "RESOLVED" || d.CountTaskID == nil || len(d.History) != 4 {
		t.Fatalf("resolved with a recount: %+v", d)
	}
	patch(map[string]any{"status": "INVESTIGATING"}, 409)
	var tasks api.CountTaskList
	testkit.Eventually(t, 10*time.Second, func() error {
		status, _, data := testkit.Call(t, "GET", in.url+"/v1/count-tasks?warehouseId=WH-T1&status=OPEN", r.tokens["scanner"], nil)
		if status == 200 && json.Unmarshal(data, &tasks) == nil && slices.ContainsFunc(tasks.CountTasks, func(x api.CountTask) bool {
			return x.CountTaskID == deref(d.CountTaskID)
		}) {
			return nil
		}
		return testkit.Not("the recount task not listed for the scanner: %s", data)
	})
	cnt := map[string]any{"transactionId": "rc-recount", "type": "CYCLE_COUNT", "timestamp": time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano),
		"warehouseId": "WH-T1", "itemId": "IT-B", "locationId": "L2", "lotNumber": "LOT-9", "quantity": 5, "countTaskId": d.CountTaskID}
	if status, _, data := testkit.Call(t, "POST", in.url+"/v1/transactions?wait=applied", r.tokens["scanner"],
		map[string]any{"scannerId": "SCANNER-1", "sentAt": time.Now().UTC().Format(time.RFC3339Nano), "transactions": []any{cnt}}); status != 200 {
		t.Fatalf("recount: %d %s", status, data)
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		status, _, data := testkit.Call(t, "GET", in.url+"/v1/count-tasks?warehouseId=WH-T1&status=DONE", r.tokens["supervisor"], nil)
		if status == 200 && json.Unmarshal(data, &tasks) == nil && len(tasks.CountTasks) == 1 && tasks.CountTasks[0].CountTaskID == deref(d.CountTaskID) {
			return nil
		}
		return testkit.Not("the count did not complete its task: %s", data)
	})
	// Lists refuse a missing warehouse and an unknown status, naming the allowed ones.
	r.refused("discrepancies without a warehouse", 400, "INVALID_REQUEST", "GET", "/v1/discrepancies", r.tokens["supervisor"], nil)
	r.refused("unknown discrepancy status", 400, "INVALID_REQUEST", "GET", "/v1/discrepancies?warehouseId=WH-T1&status=NOPE", r.tokens["supervisor"], nil)
	r.refused("unknown count status", 400, "INVALID_REQUEST", "GET", "/v1/counts?warehouseId=WH-T1&status=NOPE", r.tokens["supervisor"], nil)
	r.refused("unknown task status", 400, "INVALID_REQUEST", "GET", "/v1/count-tasks?warehouseId=WH-T1&status=NOPE", r.tokens["supervisor"], nil)
	// Bad reports are refused whole, recording nothing.
	r.refused("unknown item", 400, "UNKNOWN_ITEM", "POST", "/v1/reconciliation/reports", r.tokens["cloud"],
		map[string]any{"reportId": "bad-1", "warehouseId": "WH-T1", "complete": false, "positions": []any{map[string]any{"itemId": "NOPE", "locationId": "L1", "onHand": 1, "version": 1}}})
	r.refused("unknown location", 400, "UNKNOWN_LOCATION", "POST", "/v1/reconciliation/reports", r.tokens["cloud"],
		map[string]any{"reportId": "bad-2", "warehouseId": "WH-T1", "complete": false, "positions": []any{map[string]any{"itemId": "IT-A", "locationId": "Q9", "onHand": 1, "version": 1}}})
	r.refused("malformed version", 400, "INVALID_REPORT", "POST", "/v1/reconciliation/reports", r.tokens["cloud"],
		map[string]any{"reportId": "bad-3", "warehouseId": "WH-T1", "complete": false, "positions": []any{map[string]any{"itemId": "IT-A", "locationId": "L1", "onHand": 1, "version": "x"}}})
	r.refused("another warehouse", 403, "FORBIDDEN", "POST", "/v1/reconciliation/reports", r.tokens["cloud"],
		map[string]any{"reportId": "bad-4", "warehouseId": "WH-T2", "complete": true, "positions": []any{}})
	many := make([]any, 10001)
	for i := range many {
		many[i] = map[string]any{"itemId": "IT-A", "locationId": "L1", "onHand": 1, "version": i}
	}
	r.refused("too many positions", 413, "REPORT_TOO_LARGE", "POST", "/v1/reconciliation/reports", r.tokens["cloud"],
		map[string]any{"reportId": "bad-5", "warehouseId": "WH-T1", "complete": false, "positions": many})
}

// TestHeldCountsAndTopicReports: a count of a class-A item far from the
// expected quantity is held (nothing changes) until a supervisor approves
// it; a report produced as Avro on the cloud-positions topic is compared
// like a posted one; a garbage record there goes to the dead-letter topic.
func TestHeldCountsAndTopicReports(t *testing.T) {
	r := newSecRig(t, testConfig(t))
	in := r.in
	classed := `{"warehouses": [{"warehouseId": "WH-T1", "locations": ["L1", "L2"]}],
	  "items": [{"itemId": "IT-A", "abcClass": "A"}], "countTolerances": {"A": 0.02}}`
	putCatalog(t, in, classed)
	at := func(d time.Duration) string { return time.Now().Add(-time.Hour + d).UTC().Format(time.RFC3339Nano) }
	send := func(txs ...map[string]any) api.UploadResponse {
		t.Helper()
		var out api.UploadResponse
		status, _, data := testkit.Call(t, "POST", in.url+"/v1/transactions?wait=applied", r.tokens["scanner"],
			map[string]any{"scannerId": "SCANNER-1", "sentAt": time.Now().UTC().Format(time.RFC3339Nano), "transactions": txs})
		if status != 200 || json.Unmarshal(data, &out) != nil {
			t.Fatalf("upload: %d %s", status, data)
		}
		return out
	}
	send(map[string]any{"transactionId": "h-rcv", "type": "RECEIPT", "timestamp": at(0), "warehouseId": "WH-T1", "itemId": "IT-A", "locationId": "L1", "quantity": 100})
	res := send(map[string]any{"transactionId": "h-cnt", "type": "CYCLE_COUNT", "timestamp": at(time.Minute), "warehouseId": "WH-T1", "itemId": "IT-A", "locationId": "L1", "quantity": 10})
	if o := res.Results[0].Outcome; o == nil || o.Status != "held" || deref(o.Code) != "VARIANCE_REVIEW" {
		t.Fatalf("a count 90 %% off: %+v", res.Results[0])
	}
	var pos api.Positions
	do(t, "GET", in.url+"/v1/positions?warehouseId=WH-T1&itemId=IT-A", nil, &pos)
	if pos.Totals.OnHand != 100 {
		t.Fatalf("a held count changed onHand: %+v", pos)
	}
	var held api.HeldCountList
	if status, _, data := testkit.Call(t, "GET", in.url+"/v1/counts?warehouseId=WH-T1&status=held", r.tokens["supervisor"], nil); status != 200 ||
		json.Unmarshal(data, &held) != nil || len(held.Counts) != 1 || held.Counts[0].Expected != 100 || held.Counts[0].Counted != 10 {
		t.Fatalf("held counts: %d %s", status, data)
	}
	r.refused("a scanner approves", 403, "FORBIDDEN", "POST", "/v1/counts/h-cnt/approve", r.tokens["scanner"], nil)
	status, _, data := testkit.Call(t, "POST", in.url+"/v1/counts/h-cnt/approve", r.tokens["supervisor"], map[string]any{"note": "recounted by hand"})
	if status != 200 {
		t.Fatalf("approve: %d %s", status, data)
	}
	do(t, "GET", in.url+"/v1/positions?warehouseId=WH-T1&itemId=IT-A", nil, &pos)
	if pos.Totals.OnHand != 10 {
		t.Fatalf("after approval onHand %d, want 10", pos.Totals.OnHand)
	}
	var o api.Outcome
	if do(t, "GET", in.url+"/v1/transactions/h-cnt", nil, &o); o.Status != "applied" {
		t.Errorf("the approved count's outcome: %+v", o)
	}
	if status, _, _ := testkit.Call(t, "POST", in.url+"/v1/counts/h-cnt/reject", r.tokens["supervisor"], nil); status != 409 {
		t.Errorf("deciding twice: %d, want 409", status)
	}

	// A report as Avro on the cloud-positions topic.
	codec, err := schemas.New(context.Background(), schemas.Config{TopicPrefix: in.cfg.TopicPrefix})
	if err != nil {
		t.Fatal(err)
	}
	v, err := codec.AppendCloudPositionsReport(nil, &schemas.CloudPositionsReport{ReportID: "topic-1", WarehouseID: "WH-T1",
		Positions: []schemas.CloudPosition{{ItemID: "IT-A", LocationID: "L1", OnHand: 7, Version: pos.Positions[0].Version}}})
	if err != nil {
		t.Fatal(err)
	}
	produce(t, in.brokers(), in.cfg.TopicPrefix+"cloud-positions", "WH-T1", v, []byte("garbage"))
	var rep api.ReportAnswer
	testkit.Eventually(t, 20*time.Second, func() error {
		status, _, data := testkit.Call(t, "GET", in.url+"/v1/reconciliation/reports/topic-1", r.tokens["cloud"], nil)
		if status == 200 && json.Unmarshal(data, &rep) == nil {
			return nil
		}
		return testkit.Not("the topic report not compared: %d %s", status, data)
	})
	if rep.Compared != 1 || len(rep.Discrepancies) != 1 {
		t.Errorf("topic report: %+v, want 1 compared and a MISMATCH", rep)
	}
	dead := consumeAll(t, in.brokers(), in.cfg.TopicPrefix+"dead-letter", 1, 20*time.Second)
	if len(dead) != 1 || string(dead[0].Value) != "garbage" {
		t.Errorf("dead letters: %d", len(dead))
	}
}
