package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/pipeline"
	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
)

// TestSkippedInputIsRewoundAndApplied holds the processors to their own
// record of how far each partition's state consumed its input: when the
// group's committed offset has moved past input the state never applied
// (here moved on purpose while no instance runs), the instance that takes
// the partition rewinds to the state's offset and applies what was
// skipped, once.
func TestSkippedInputIsRewoundAndApplied(t *testing.T) {
	cfg := sharedConfig(t)
	brokers := cfg.Brokers
	a := startWithCatalog(t, cfg, clusterCatalog())
	now := time.Now().UTC()
	first := api.Transaction{TransactionID: "in-1", Type: "RECEIPT", Timestamp: now.Add(-time.Minute).Format(time.RFC3339Nano),
		WarehouseID: "WH-K", ItemID: "K-00", LocationID: "L1", Quantity: 5}
	var res api.UploadResponse
	if code := do(t, "POST", a.url+"/v1/transactions?wait=applied",
		api.UploadRequest{ScannerID: "S-1", SentAt: now.Format(time.RFC3339Nano), Transactions: []api.Transaction{first}}, &res); code != 200 ||
		res.Results[0].Outcome == nil || res.Results[0].Outcome.Status != "applied" {
		t.Fatalf("first upload: %d %+v", code, res)
	}
	a.stop()

	// Two more scans reach the topic, then the group's offsets are moved
	// past them, as if a processor had committed them without applying.
	ctx := context.Background()
	topics := schemas.NewTopics(cfg.TopicPrefix)
	codec, err := schemas.New(ctx, schemas.Config{TopicPrefix: cfg.TopicPrefix})
	if err != nil {
		t.Fatal(err)
	}
	prod, err := pipeline.NewProducer(brokers, topics, codec, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	var skipped []processors.Transaction
	for i, q := range []int64{7, 11} {
		skipped = append(skipped, processors.Transaction{TransactionID: fmt.Sprintf("in-skipped-%d", i), Type: processors.Receipt,
			WarehouseID: "WH-K", ItemID: "K-00", LocationID: "L1", Quantity: q, ScannerID: "S-1", UserID: "u",
			DeviceTimestamp: now, CorrectedTimestamp: now, SentAt: now, ReceivedAt: now, BodyHash: []byte{byte(i)}})
	}
	for _, err := range prod.Produce(ctx, skipped) {
		if err != nil {
			t.Fatal(err)
		}
	}
	adm := testkit.Admin(t, brokers)
	defer adm.Close()
	ends, err := adm.ListEndOffsets(ctx, topics.Transactions)
	if err != nil {
		t.Fatal(err)
	}
	part := prod.Partition(processors.StockKey("WH-K", "K-00"), int32(cfg.Partitions))
	end, _ := ends.Lookup(topics.Transactions, part)
	var moved kadm.Offsets
	moved.AddOffset(topics.Transactions, part, end.Offset, -1)
	if resp, err := adm.CommitOffsets(ctx, cfg.Group, moved); err != nil || resp.Error() != nil {
		t.Fatalf("moving the group's offset to %d: %v %v", end.Offset, err, resp.Error())
	}

	// The next scan of that stock key makes the partition's new owner
	// verify its state against the group's offsets before applying.
	a = startInstance(t, cfg)
	next := first
	next.TransactionID, next.Quantity = "in-2", 2
	if code := do(t, "POST", a.url+"/v1/transactions",
		api.UploadRequest{ScannerID: "S-1", SentAt: now.Format(time.RFC3339Nano), Transactions: []api.Transaction{next}}, &res); code != 200 ||
		res.Results[0].Status != "accepted" {
		t.Fatalf("upload after the restart: %d %+v", code, res)
	}
	for _, tx := range append(skipped, processors.Transaction{TransactionID: next.TransactionID}) {
		testkit.Eventually(t, 60*time.Second, func() error {
			var o api.Outcome
			if code := do(t, "GET", a.url+"/v1/transactions/"+tx.TransactionID, nil, &o); code != 200 || o.Status != "applied" {
				return testkit.Not("GET /v1/transactions/%s: %d %s", tx.TransactionID, code, o.Status)
			}
			return nil
		}, "%s, skipped by the group's offset, was never applied", tx.TransactionID)
	}
	var pos api.Positions
	do(t, "GET", a.url+"/v1/positions?warehouseId=WH-K&itemId=K-00", nil, &pos)
	if len(pos.Positions) != 1 || pos.Positions[0].OnHand != 5+7+11+2 || pos.Positions[0].Version != 4 {
		t.Fatalf("positions after the rewind: %+v, want onHand 25 at version 4", pos.Positions)
	}
	// Each applied once: one event each.
	recs := consumeAll(t, brokers, topics.InventoryEvents, 4, 30*time.Second)
	if len(recs) != 4 {
		t.Fatalf("%d events, want 4 (one per scan)", len(recs))
	}
}
