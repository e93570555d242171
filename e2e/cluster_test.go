package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/internal/testkit"
)

// TestClusterSharesPartitionsAndAnswersAnyKey runs two instances in one
// consumer group on one broker. Uploads, waits, positions, transaction and
// allocation reads work on either instance, whichever owns the stock key;
// when one instance stops, the other restores its partitions from the
// changelog and carries on with the same state.
func TestClusterSharesPartitionsAndAnswersAnyKey(t *testing.T) {
	base := sharedConfig(t)
	cfgA, cfgB := base, base
	cfgA.DataDir, cfgB.DataDir = t.TempDir(), t.TempDir()
	a := startWithCatalog(t, cfgA, clusterCatalog())
	b := startInstance(t, cfgB)
	waitOwnership(t, a, b)
	for _, in := range []*testInstance{a, b} {
		n := 0
		for p := int32(0); p < int32(base.Partitions); p++ {
			if in.srv.Partition(p).Owned {
				n++
			}
		}
		if n == 0 || n == base.Partitions {
			t.Fatalf("%s owns %d of %d partitions: the group did not share them", in.url, n, base.Partitions)
		}
	}

	// Twelve items spread over the partitions; every upload goes to A.
	now := time.Now().UTC()
	var txs []api.Transaction
	want := map[string]int64{}
	for i := 0; i < 12; i++ {
		item := fmt.Sprintf("K-%02d", i)
		q := int64(10 + i)
		txs = append(txs, api.Transaction{TransactionID: "c-" + item, Type: "RECEIPT", Timestamp: now.Add(-time.Minute).Format(time.RFC3339Nano),
			WarehouseID: "WH-K", ItemID: item, LocationID: "L1", Quantity: q})
		want[item] = q
	}
	var res api.UploadResponse
	do(t, "POST", a.url+"/v1/transactions?wait=applied", api.UploadRequest{ScannerID: "S", SentAt: now.Format(time.RFC3339Nano), Transactions: txs}, &res)
	for _, r := range res.Results {
		if r.Status != "accepted" || r.Outcome == nil || r.Outcome.Status != "applied" {
			t.Errorf("%s: %+v %+v", r.TransactionID, r, r.Outcome)
		}
	}
	check := func(stage string, insts ...*testInstance) {
		t.Helper()
		for _, in := range insts {
			for item, q := range want {
				var pos api.Positions
				code := do(t, "GET", fmt.Sprintf("%s/v1/positions?warehouseId=WH-K&itemId=%s", in.url, item), nil, &pos)
				if code != 200 || pos.Totals.OnHand != q {
					t.Errorf("%s: %s on %s: %d %+v", stage, item, in.url, code, pos.Totals)
				}
				var o api.Outcome
				if code := do(t, "GET", in.url+"/v1/transactions/c-"+item, nil, &o); code != 200 || o.Status != "applied" {
					t.Errorf("%s: transaction c-%s on %s: %d %+v", stage, item, in.url, code, o)
				}
			}
		}
	}
	check("two instances", a, b)

	// Allocations on either instance, for any item.
	var al api.Allocation
	if code := do(t, "POST", b.url+"/v1/allocations?wait=decided", map[string]any{"allocationId": "CA-1", "orderId": "SO-C",
		"warehouseId": "WH-K", "itemId": "K-03", "quantity": 5}, &al); code != 200 || al.Status != "CONFIRMED" {
		t.Errorf("allocation via B: %d %+v", code, al)
	}
	for _, in := range []*testInstance{a, b} {
		if code := do(t, "GET", in.url+"/v1/allocations/CA-1", nil, &al); code != 200 || al.ConfirmedQuantity != 5 {
			t.Errorf("allocation read on %s: %d %+v", in.url, code, al)
		}
	}

	// A leaves: B takes every partition over from the changelog.
	a.stop()
	b.waitReady(60 * time.Second)
	waitOwnership(t, b)
	check("after A stopped", b)
	var nf api.ErrorBody
	if code := do(t, "GET", b.url+"/v1/transactions/never", nil, &nf); code != http.StatusNotFound {
		t.Errorf("unknown transaction: %d %+v", code, nf)
	}
}

func clusterCatalog() string {
	items := ""
	for i := 0; i < 12; i++ {
		if i > 0 {
			items += ","
		}
		items += fmt.Sprintf(`{"itemId": "K-%02d"}`, i)
	}
	return `{"warehouses": [{"warehouseId": "WH-K", "locations": ["L1", "L2"]}], "items": [` + items + `]}`
}

// waitOwnership waits until the instances together own every partition,
// each restored, so reads anywhere can be answered.
func waitOwnership(t *testing.T, insts ...*testInstance) {
	t.Helper()
	testkit.Eventually(t, 60*time.Second, func() error {
		owned := 0
		for p := int32(0); p < int32(insts[0].cfg.Partitions); p++ {
			for _, in := range insts {
				if st := in.srv.Partition(p); st.Owned && st.Restored {
					owned++
					break
				}
			}
		}
		if owned < insts[0].cfg.Partitions {
			return testkit.Not("%d of %d partitions owned and restored", owned, insts[0].cfg.Partitions)
		}
		return nil
	})
}
