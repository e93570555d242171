package mirror

import (
	"context"
	"database/sql"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/schemas"
)

// waitMirrored waits until the mirror has applied every committed record
// (its stored offsets equal the topics' last stable offsets), then checks
// the tables against the oracle.
func waitMirrored(t *testing.T, k *testKafka, w *world, db *database, timeout time.Duration) {
	t.Helper()
	testkit.Eventually(t, timeout, func() error {
		// Listed again every time: a partition's last stable offset moves
		// past a committed transaction only once the broker has written
		// its commit marker, which may be after EndTransaction returned.
		ends := k.endOffsets(t, k.topics.InventoryEvents, k.topics.AllocationDecisions)
		stored := readStoredOffsets(t, db.db)
		for tp, end := range ends {
			if end > 0 && stored[tp] != end {
				return testkit.Not("%s/%d stored offset %d, end %d", tp.Topic, tp.Partition, stored[tp], end)
			}
		}
		return nil
	})
	checkTables(t, w, db.db, nil)
}

// checkAtStoredOffsets reads the stored offsets and the tables in one
// snapshot (a killed client's last COMMIT may still land on a PostgreSQL
// server after the kill) and compares the tables with the oracle over
// exactly the records below those offsets.
func checkAtStoredOffsets(t *testing.T, w *world, db *database) map[topicPartition]int64 {
	t.Helper()
	opts := &sql.TxOptions{ReadOnly: true}
	if db.dialect.name == "postgres" {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := db.db.BeginTx(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	stored := readStoredOffsets(t, tx)
	checkTables(t, w, tx, stored)
	return stored
}

// checkTables compares every table with the oracle over the records below
// upTo (all when nil).
func checkTables(t *testing.T, w *world, db queryer, upTo map[topicPartition]int64) {
	t.Helper()
	if d := diffPositions(w.expectedPositions(upTo), readPositions(t, db)); d != "" {
		t.Fatal(d)
	}
	if want, got := w.expectedAllocations(upTo), readAllocations(t, db); !maps.Equal(want, got) {
		t.Fatalf("allocations differ: want %d rows, got %d", len(want), len(got))
	}
	wantDL := w.expectedDeadLetters(upTo)
	gotDL, _ := readDeadLetters(t, db)
	if !slices.Equal(wantDL, gotDL) {
		t.Fatalf("dead letters differ:\n want %v\n got  %v", wantDL, gotDL)
	}
}

func TestMirrorExactlyOnceIntoSQL(t *testing.T) {
	forEachDB(t, func(t *testing.T, d testDB) {
		k, w, prod := newTestWorld(t, 1, 3, 2, 20, 4)
		// Before the mirror starts: a backlog to catch up on.
		w.round(t, prod, 3000, 200, 3, 2)

		m, _ := startMirror(t, Config{Brokers: k.brokers, TopicPrefix: k.prefix, SQLURL: d.url,
			BatchRecords: 400, ProgressInterval: 200 * time.Millisecond, Logger: testLogger(t)})
		db := openTestDB(t, d)
		waitCaughtUp(t, m, 60*time.Second)
		waitMirrored(t, k, w, db, 30*time.Second)
		if len(w.expectedPositions(nil)) < 100 {
			t.Fatalf("only %d positions: the test exercises too little", len(w.expectedPositions(nil)))
		}

		// While it runs: more records, duplicates and stale events among them.
		w.round(t, prod, 1500, 100, 4, 2)
		waitMirrored(t, k, w, db, 30*time.Second)

		k.checkNoGroupOffsets(t)
	})
}

func TestMirrorDeadLetters(t *testing.T) {
	forEachDB(t, func(t *testing.T, d testDB) {
		k, w, prod := newTestWorld(t, 2, 1, 1, 3, 1)
		// Every kind of garbage, between good records.
		good1 := w.nextEvent()
		recs := []*kgo.Record{w.eventRecord(good1)}
		for range 5 {
			recs = append(recs, w.garbageRecord(k.topics.InventoryEvents))
		}
		good2 := w.nextEvent()
		recs = append(recs, w.eventRecord(good2), w.garbageRecord(k.topics.AllocationDecisions))
		nilValue := w.eventRecord(good1)
		nilValue.Value = nil
		recs = append(recs, nilValue)
		produceTx(t, prod, recs, true)

		_, stop := startMirror(t, Config{Brokers: k.brokers, TopicPrefix: k.prefix, SQLURL: d.url, Logger: testLogger(t)})
		db := openTestDB(t, d)
		testkit.Eventually(t, 30*time.Second, func() error {
			ends := k.endOffsets(t, k.topics.InventoryEvents, k.topics.AllocationDecisions)
			if got := readStoredOffsets(t, db.db); !maps.Equal(got, ends) {
				return testkit.Not("stored offsets %v, want %v", got, ends)
			}
			return nil
		})
		stop()

		ids, errs := readDeadLetters(t, db.db)
		if len(ids) != 7 {
			t.Fatalf("%d dead letters, want 7: %v %q", len(ids), ids, errs)
		}
		want := map[int64]bool{}
		for i, r := range recs {
			if i != 0 && i != 6 {
				want[r.Offset] = true
			}
		}
		for _, id := range ids {
			if !want[id.Offset] {
				t.Errorf("dead letter at offset %d was not garbage", id.Offset)
			}
		}
		all := strings.Join(errs, "\n")
		for _, s := range []string{"record has no value"} {
			if !strings.Contains(all, s) {
				t.Errorf("no dead letter says %q:\n%s", s, all)
			}
		}
		for _, e := range errs {
			if e == "" {
				t.Error("a dead letter without its error")
			}
		}
		// The good records around the garbage were applied.
		got := readPositions(t, db.db)
		for _, e := range []struct {
			wh, item, loc string
			version       int64
		}{{good1.WarehouseID, good1.ItemID, good1.LocationID, good1.Version}, {good2.WarehouseID, good2.ItemID, good2.LocationID, good2.Version}} {
			found := false
			for k, s := range got {
				if k.WarehouseID == e.wh && k.ItemID == e.item && k.LocationID == e.loc && s.Version >= e.version {
					found = true
				}
			}
			if !found {
				t.Errorf("good record %v was not applied: %v", e, got)
			}
		}
	})
}

// TestMirrorResumesFromStoredOffsets: a restarted mirror applies only what
// came after the offsets stored in its database, with no consumer group;
// rewinding a stored offset by hand replays that partition and leaves the
// tables as they were.
func TestMirrorResumesFromStoredOffsets(t *testing.T) {
	forEachDB(t, func(t *testing.T, d testDB) {
		k, w, prod := newTestWorld(t, 5, 3, 2, 10, 3)
		w.round(t, prod, 1000, 100, 3, 2)
		cfg := Config{Brokers: k.brokers, TopicPrefix: k.prefix, SQLURL: d.url, BatchRecords: 150, Logger: testLogger(t)}
		db := openTestDB(t, d)

		_, stop := startMirror(t, cfg)
		waitMirrored(t, k, w, db, 30*time.Second)
		stop()

		w.round(t, prod, 300, 50, 2, 2)
		m, stop := startMirror(t, cfg)
		waitMirrored(t, k, w, db, 30*time.Second)
		if applied, _, _, _ := m.progress.snapshot(); applied != 300 {
			t.Fatalf("the restarted mirror applied %d records, want the 300 produced since it stopped", applied)
		}
		stop()

		tp := topicPartition{k.topics.InventoryEvents, 1}
		if _, err := db.db.Exec(`UPDATE consumed_offsets SET next_offset = 0 WHERE topic = $1 AND "partition" = $2`, tp.Topic, tp.Partition); err != nil {
			t.Fatal(err)
		}
		m, _ = startMirror(t, cfg)
		waitMirrored(t, k, w, db, 30*time.Second)
		want := int64(len(w.events[tp]) + len(w.garbage[tp]))
		if applied, _, _, _ := m.progress.snapshot(); applied != want {
			t.Fatalf("after rewinding %s/%d the mirror applied %d records, want the partition's %d", tp.Topic, tp.Partition, applied, want)
		}
		k.checkNoGroupOffsets(t)
	})
}

// discrepancyJSON decodes the discrepancy shape of GET /v1/discrepancies/{id};
// the tests use it as the discrepancies topic's format.
func discrepancyJSON(v []byte) (Discrepancy, error) {
	var x struct {
		DiscrepancyID, WarehouseID, ItemID, LocationID, LotNumber, Kind, Status string
		WarehouseOnHand, WarehouseVersion, CloudOnHand, CloudVersion            *int64
		Assignee, Resolution                                                    *string
		OpenedAt                                                                time.Time
		History                                                                 []struct{ At time.Time }
	}
	if err := json.Unmarshal(v, &x); err != nil {
		return Discrepancy{}, err
	}
	d := Discrepancy{DiscrepancyID: x.DiscrepancyID, WarehouseID: x.WarehouseID, ItemID: x.ItemID, LocationID: x.LocationID,
		LotNumber: x.LotNumber, Kind: x.Kind, WarehouseOnHand: x.WarehouseOnHand, WarehouseVersion: x.WarehouseVersion,
		CloudOnHand: x.CloudOnHand, CloudVersion: x.CloudVersion, Status: x.Status, Assignee: x.Assignee,
		Resolution: x.Resolution, OpenedAt: x.OpenedAt, UpdatedAt: x.OpenedAt}
	if n := len(x.History); n > 0 {
		d.UpdatedAt = x.History[n-1].At
	}
	return d, nil
}

// TestMirrorDiscrepanciesTopic: without a decoder the topic is left alone;
// with one it is mirrored, including when it is created after the mirror
// started.
func TestMirrorDiscrepanciesTopic(t *testing.T) {
	forEachDB(t, func(t *testing.T, d testDB) {
		k, w, prod := newTestWorld(t, 6, 2, 1, 5, 2)
		w.round(t, prod, 200, 50, 0, 0)
		db := openTestDB(t, d)
		cfg := Config{Brokers: k.brokers, TopicPrefix: k.prefix, SQLURL: d.url, RefreshInterval: 100 * time.Millisecond, Logger: testLogger(t)}

		_, stop := startMirror(t, Config{Brokers: cfg.Brokers, TopicPrefix: cfg.TopicPrefix, SQLURL: cfg.SQLURL,
			RefreshInterval: cfg.RefreshInterval, Logger: cfg.Logger})
		waitMirrored(t, k, w, db, 30*time.Second)
		// The topic and its JSON records appear while no mirror runs: a
		// mirror started with the default (Avro) decoder would dead-letter
		// them, as it must, and whether it had found the new topic yet
		// would be a race with its metadata refresh.
		stop()

		k.createTopic(t, k.topics.Discrepancies, 2)
		body := `{"discrepancyId": "d-1", "warehouseId": "WH-001", "itemId": "ITEM-12345", "locationId": "A-05-02",
			"lotNumber": "", "kind": "MISMATCH", "warehouseOnHand": 95, "warehouseVersion": 18, "cloudOnHand": 100,
			"cloudVersion": 18, "status": "OPEN", "assignee": null, "resolution": null, "openedAt": "2026-11-26T10:15:00Z",
			"history": [{"at": "2026-11-26T10:15:00Z", "by": "cloud-1", "status": "OPEN"}]}`
		recs := produceTx(t, prod, []*kgo.Record{
			{Topic: k.topics.Discrepancies, Partition: 1, Key: []byte("d-1"), Value: []byte(body)},
			{Topic: k.topics.Discrepancies, Partition: 1, Key: []byte("d-2"), Value: []byte("{not json")},
		}, true)

		cfg.DiscrepancyDecoder = discrepancyJSON
		_, stop = startMirror(t, cfg)
		testkit.Eventually(t, 30*time.Second, func() error {
			if got := readStoredOffsets(t, db.db)[topicPartition{k.topics.Discrepancies, 1}]; got != recs[1].Offset+2 {
				return testkit.Not("discrepancies/1 stored offset %d, want %d (after the commit marker)", got, recs[1].Offset+2)
			}
			return nil
		})
		stop()
		var kind, status string
		var cloud int64
		if err := db.db.QueryRow(`SELECT kind, status, cloud_on_hand FROM discrepancies WHERE discrepancy_id = 'd-1'`).Scan(&kind, &status, &cloud); err != nil {
			t.Fatal(err)
		}
		if kind != "MISMATCH" || status != "OPEN" || cloud != 100 {
			t.Fatalf("discrepancy d-1 is %s/%s/%d", kind, status, cloud)
		}
		ids, _ := readDeadLetters(t, db.db)
		if len(ids) != 1 || ids[0].Topic != k.topics.Discrepancies || ids[0].Offset != recs[1].Offset {
			t.Fatalf("dead letters %v, want the one bad discrepancy", ids)
		}
	})
}

// TestMirrorCorrectionFromKafka: a ReconciliationCorrection event read from
// the topic resets a row of the same version. It runs once the event type
// is a symbol of the schema.
func TestMirrorCorrectionFromKafka(t *testing.T) {
	if !eventReconciliationCorrection.Valid() {
		t.Skip("SKIPPED: ReconciliationCorrection is not a symbol of inventory_event.avsc yet; " +
			"TestPositionsOnlyMoveForward covers the rule without the encoding")
	}
	forEachDB(t, func(t *testing.T, d testDB) {
		k := newTestKafka(t, 1, false)
		prod := k.producer(t)
		rec := func(e schemas.InventoryEvent) *kgo.Record {
			v, err := k.codec.AppendInventoryEvent(nil, &e)
			if err != nil {
				t.Fatal(err)
			}
			return &kgo.Record{Topic: k.topics.InventoryEvents, Key: []byte(e.WarehouseID + "/" + e.ItemID), Value: v}
		}
		produceTx(t, prod, []*kgo.Record{
			rec(event("WH-001", "ITEM-12345", "A-05-02", schemas.EventCycleCount, 100, 18, t0)),
			rec(event("WH-001", "ITEM-12345", "A-05-02", eventReconciliationCorrection, 95, 18, t0.Add(time.Second))),
		}, true)
		db := openTestDB(t, d)
		startMirror(t, Config{Brokers: k.brokers, TopicPrefix: k.prefix, SQLURL: d.url, Logger: testLogger(t)})
		testkit.Eventually(t, 30*time.Second, func() error {
			got := readPositions(t, db.db)[positionKey{"WH-001", "ITEM-12345", "A-05-02", ""}]
			if got.OnHand != 95 || got.Version != 18 {
				return testkit.Not("row %+v, want onHand 95 at version 18", got)
			}
			return nil
		})
	})
}
