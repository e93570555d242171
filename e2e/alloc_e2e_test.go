package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/schemas"
)

// TestAllocationStoryBothOrders is the motivating case: the cloud allocates
// 100 at 10:00:00 and a cycle count at 10:00:02 finds 95; in either arrival
// order the allocation ends PARTIAL with 95 reserved and 5 backordered.
func TestAllocationStoryBothOrders(t *testing.T) {
	in, cfg := startTestDeployment(t)
	now := time.Now().UTC()
	upload1 := func(tx api.Transaction) {
		t.Helper()
		var res api.UploadResponse
		do(t, "POST", in.url+"/v1/transactions?wait=applied", api.UploadRequest{ScannerID: "S1", SentAt: now.Format(time.RFC3339Nano), Transactions: []api.Transaction{tx}}, &res)
		if len(res.Results) != 1 || res.Results[0].Outcome == nil || res.Results[0].Outcome.Status != "applied" {
			t.Fatalf("upload %s: %+v", tx.TransactionID, res.Results)
		}
	}
	at := func(d time.Duration) string { return now.Add(-time.Hour + d).Format(time.RFC3339Nano) }

	// Allocation first: L1 holds 100, the cloud takes all of it, then the
	// count finds 95.
	upload1(api.Transaction{TransactionID: "a-rcv", Type: "RECEIPT", Timestamp: at(0), WarehouseID: "WH-T1", ItemID: "IT-A", LocationID: "L1", Quantity: 100})
	var a api.Allocation
	code := do(t, "POST", in.url+"/v1/allocations?wait=decided", map[string]any{"allocationId": "ALLOC-1", "orderId": "SO-1001",
		"orderLine": 1, "warehouseId": "WH-T1", "itemId": "IT-A", "quantity": 100, "allowPartial": true}, &a)
	if code != 200 || a.Status != "CONFIRMED" || a.ConfirmedQuantity != 100 || len(a.Lines) != 1 || a.Lines[0].LocationID != "L1" {
		t.Fatalf("allocation: %d %+v", code, a)
	}
	upload1(api.Transaction{TransactionID: "a-cnt", Type: "CYCLE_COUNT", Timestamp: at(2 * time.Second), WarehouseID: "WH-T1", ItemID: "IT-A", LocationID: "L1", Quantity: 95})
	do(t, "GET", in.url+"/v1/allocations/ALLOC-1", nil, &a)
	if a.Status != "PARTIAL" || a.ConfirmedQuantity != 95 || a.BackorderQuantity != 5 || a.Reason == nil || *a.Reason != "SHORTFALL" {
		t.Errorf("after the count: %+v", a)
	}
	var pos api.Positions
	do(t, "GET", in.url+"/v1/positions?warehouseId=WH-T1&itemId=IT-A", nil, &pos)
	if pos.Totals.OnHand != 95 || pos.Totals.Allocated != 95 || pos.Totals.Available != 0 {
		t.Errorf("positions after the count: %+v", pos.Totals)
	}

	// Count first, on another item's stock: IT-B lot LOT-9 at L2.
	upload1(api.Transaction{TransactionID: "b-rcv", Type: "RECEIPT", Timestamp: at(0), WarehouseID: "WH-T1", ItemID: "IT-B", LocationID: "L2", LotNumber: "LOT-9", Quantity: 100})
	upload1(api.Transaction{TransactionID: "b-cnt", Type: "CYCLE_COUNT", Timestamp: at(2 * time.Second), WarehouseID: "WH-T1", ItemID: "IT-B", LocationID: "L2", LotNumber: "LOT-9", Quantity: 95})
	var b api.Allocation
	do(t, "POST", in.url+"/v1/allocations?wait=decided", map[string]any{"allocationId": "ALLOC-2", "orderId": "SO-1002",
		"orderLine": 1, "warehouseId": "WH-T1", "itemId": "IT-B", "quantity": 100, "allowPartial": true}, &b)
	if b.Status != "PARTIAL" || b.ConfirmedQuantity != 95 || b.BackorderQuantity != 5 {
		t.Errorf("count first: %+v", b)
	}
	var c api.Allocation
	do(t, "POST", in.url+"/v1/allocations?wait=decided", map[string]any{"allocationId": "ALLOC-3", "orderId": "SO-1003",
		"warehouseId": "WH-T1", "itemId": "IT-B", "quantity": 10, "allowPartial": false}, &c)
	if c.Status != "REJECTED" || c.Reason == nil || *c.Reason != "INSUFFICIENT_STOCK" || len(c.Lines) != 0 {
		t.Errorf("nothing left: %+v", c)
	}

	// The same id again returns the state; another body is refused.
	var again api.Allocation
	code = do(t, "POST", in.url+"/v1/allocations", map[string]any{"allocationId": "ALLOC-2", "orderId": "SO-1002",
		"orderLine": 1, "warehouseId": "WH-T1", "itemId": "IT-B", "quantity": 100, "allowPartial": true}, &again)
	if code != 200 || again.Status != "PARTIAL" || again.ConfirmedQuantity != 95 {
		t.Errorf("repeat: %d %+v", code, again)
	}
	var conflict api.ErrorBody
	if code := do(t, "POST", in.url+"/v1/allocations", map[string]any{"allocationId": "ALLOC-2", "orderId": "SO-1002",
		"warehouseId": "WH-T1", "itemId": "IT-B", "quantity": 7}, &conflict); code != 409 || conflict.Error.Code != "IDEMPOTENCY_MISMATCH" {
		t.Errorf("changed body: %d %+v", code, conflict)
	}

	// Picking against ALLOC-2 consumes its reservation; cancelling
	// ALLOC-1 releases what it still holds.
	upload1(api.Transaction{TransactionID: "b-pick", Type: "PICK", Timestamp: at(time.Minute), WarehouseID: "WH-T1", ItemID: "IT-B", LocationID: "L2", LotNumber: "LOT-9", Quantity: 95, AllocationID: "ALLOC-2"})
	do(t, "GET", in.url+"/v1/allocations/ALLOC-2", nil, &b)
	if b.PickedQuantity != 95 || len(b.Lines) != 0 {
		t.Errorf("after picking: %+v", b)
	}
	var cancelled api.Allocation
	if code := do(t, "DELETE", in.url+"/v1/allocations/ALLOC-1", nil, &cancelled); code != 200 || cancelled.Status != "CANCELLED" {
		t.Errorf("cancel: %d %+v", code, cancelled)
	}
	do(t, "GET", in.url+"/v1/positions?warehouseId=WH-T1&itemId=IT-A", nil, &pos)
	if pos.Totals.Allocated != 0 || pos.Totals.Available != 95 {
		t.Errorf("after cancel: %+v", pos.Totals)
	}
	var byOrder api.AllocationList
	do(t, "GET", in.url+"/v1/allocations?orderId=SO-1002", nil, &byOrder)
	if len(byOrder.Allocations) != 1 || byOrder.Allocations[0].AllocationID != "ALLOC-2" {
		t.Errorf("by order: %+v", byOrder)
	}

	// An allocation not picked by its expiresAt is released by the
	// partition's timer.
	upload1(api.Transaction{TransactionID: "x-rcv", Type: "RECEIPT", Timestamp: at(0), WarehouseID: "WH-T1", ItemID: "IT-A", LocationID: "L2", Quantity: 20})
	var ex api.Allocation
	if code := do(t, "POST", in.url+"/v1/allocations?wait=decided", map[string]any{"allocationId": "EXP-1", "orderId": "SO-X",
		"warehouseId": "WH-T1", "itemId": "IT-A", "quantity": 5, "locationId": "L2",
		"expiresAt": time.Now().Add(2 * time.Second).UTC().Format(time.RFC3339Nano)}, &ex); code != 200 || ex.Status != "CONFIRMED" {
		t.Fatalf("expiring allocation: %d %+v", code, ex)
	}
	testkit.Eventually(t, 15*time.Second, func() error {
		if do(t, "GET", in.url+"/v1/allocations/EXP-1", nil, &ex); ex.Status != "EXPIRED" {
			return testkit.Not("allocation EXP-1 is %s, not EXPIRED", ex.Status)
		}
		return nil
	})
	if len(ex.Lines) != 0 {
		t.Errorf("after expiresAt: %+v", ex)
	}
	var l2 api.Positions
	do(t, "GET", in.url+"/v1/positions?warehouseId=WH-T1&itemId=IT-A&locationId=L2", nil, &l2)
	if l2.Totals.Allocated != 0 {
		t.Errorf("expired reservation still held: %+v", l2.Totals)
	}

	// The Kafka door: a request produced by the cloud to the requests
	// topic is decided, and the decision is on the decisions topic.
	codec, err := schemas.New(context.Background(), schemas.Config{TopicPrefix: cfg.TopicPrefix})
	if err != nil {
		t.Fatal(err)
	}
	upload1(api.Transaction{TransactionID: "k-rcv", Type: "RECEIPT", Timestamp: at(0), WarehouseID: "WH-T1", ItemID: "IT-A", LocationID: "L3", Quantity: 40})
	v, err := codec.AppendAllocationRequest(nil, &schemas.AllocationRequest{Action: schemas.AllocationAction("ALLOCATE"),
		AllocationID: "CLOUD-7", OrderID: "SO-7", OrderLine: 1, WarehouseID: "WH-T1", ItemID: "IT-A", Quantity: 30,
		LocationID: ptr("L3"), RequestedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	produce(t, in.brokers(), cfg.TopicPrefix+"allocation-requests", "WH-T1/IT-A", v)
	decisions := consumeAll(t, in.brokers(), cfg.TopicPrefix+"allocation-decisions", 100, 5*time.Second)
	var found bool
	for _, r := range decisions {
		d, err := codec.DecodeAllocationDecision(r.Value)
		if err != nil {
			t.Fatalf("decision: %v", err)
		}
		if d.AllocationID == "CLOUD-7" {
			found = true
			if string(r.Key) != "CLOUD-7" || d.Status != "CONFIRMED" || d.ConfirmedQuantity != 30 || len(d.Lines) != 1 || d.Lines[0].LocationID != "L3" {
				t.Errorf("cloud decision: %+v", d)
			}
		}
	}
	if !found {
		t.Errorf("no decision for CLOUD-7 among %d decisions", len(decisions))
	}
}
