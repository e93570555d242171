package mirror

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/invsync/invsync/schemas"
)

var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func event(wh, item, loc string, typ schemas.EventType, onHand, version int64, at time.Time) schemas.InventoryEvent {
	return schemas.InventoryEvent{EventID: fmt.Sprintf("evt-%s-%d", loc, version), Timestamp: at, EventType: typ,
		WarehouseID: wh, ItemID: item, LocationID: loc, ResultingOnHand: onHand, Version: version,
		Allocated: 0, Available: onHand, TransactionID: "tx", ScannerID: "s", UserID: "u"}
}

// batchOf is a batch of the rows conv makes of ws, added with add, that
// covers offsets first..first+len(ws) of tp.
func batchOf[W, R any](t *testing.T, tp topicPartition, first int64, conv func(*W) (R, error), add func(*batch, R), ws []W) *batch {
	t.Helper()
	b := newBatch()
	for i := range ws {
		row, err := conv(&ws[i])
		if err != nil {
			t.Fatal(err)
		}
		add(b, row)
	}
	b.offsets[tp] = offsetRange{first: first, next: first + int64(len(ws))}
	return b
}

// applyEvents applies events as one batch covering offsets first..first+len.
func applyEvents(t *testing.T, s *store, tp topicPartition, first int64, evs ...schemas.InventoryEvent) error {
	t.Helper()
	b := batchOf(t, tp, first, positionFromEvent, (*batch).addPosition, evs)
	b.total = len(evs)
	return s.apply(context.Background(), b)
}

func TestPositionsOnlyMoveForward(t *testing.T) {
	forEachDB(t, func(t *testing.T, d testDB) {
		db := openTestDB(t, d)
		s := &store{db: db, now: time.Now}
		tp := topicPartition{"e", 0}
		key := positionKey{"WH-001", "ITEM-12345", "A-05-02", ""}
		off := int64(0)
		step := func(evs ...schemas.InventoryEvent) {
			t.Helper()
			if err := applyEvents(t, s, tp, off, evs...); err != nil {
				t.Fatal(err)
			}
			off += int64(len(evs))
		}
		expect := func(onHand, version int64) {
			t.Helper()
			got := readPositions(t, db.db)[key]
			if got.OnHand != onHand || got.Version != version {
				t.Fatalf("row is onHand %d version %d, want %d / %d", got.OnHand, got.Version, onHand, version)
			}
		}
		step(event("WH-001", "ITEM-12345", "A-05-02", schemas.EventInventoryReceipt, 100, 18, t0))
		expect(100, 18)
		// A duplicate and an older event change nothing.
		step(event("WH-001", "ITEM-12345", "A-05-02", schemas.EventInventoryReceipt, 100, 18, t0))
		step(event("WH-001", "ITEM-12345", "A-05-02", schemas.EventInventoryPick, 7, 17, t0))
		expect(100, 18)
		// The same version with another onHand is not an ordinary update...
		step(event("WH-001", "ITEM-12345", "A-05-02", schemas.EventCycleCount, 42, 18, t0))
		expect(100, 18)
		// ... but a reconciliation correction of that version repairs it
		// (the MISMATCH case), and an older correction changes nothing.
		step(event("WH-001", "ITEM-12345", "A-05-02", eventReconciliationCorrection, 95, 18, t0.Add(time.Second)))
		expect(95, 18)
		step(event("WH-001", "ITEM-12345", "A-05-02", eventReconciliationCorrection, 1, 17, t0.Add(time.Second)))
		expect(95, 18)
		// Newer versions win, corrections included.
		step(event("WH-001", "ITEM-12345", "A-05-02", schemas.EventInventoryPick, 90, 19, t0.Add(2*time.Second)))
		expect(90, 19)
		step(event("WH-001", "ITEM-12345", "A-05-02", eventReconciliationCorrection, 80, 21, t0.Add(3*time.Second)))
		expect(80, 21)
		// Within one batch too: correction then a same-version update.
		step(event("WH-001", "ITEM-12345", "A-05-02", eventReconciliationCorrection, 70, 22, t0),
			event("WH-001", "ITEM-12345", "A-05-02", schemas.EventInventoryPick, 60, 22, t0))
		expect(70, 22)
	})
}

// TestPositionsEqualSequentialFold: random events (new versions,
// duplicates, stale versions, corrections) cut into random batches end in
// the rows that applying them one at a time gives.
func TestPositionsEqualSequentialFold(t *testing.T) {
	forEachDB(t, func(t *testing.T, d testDB) {
		db := openTestDB(t, d)
		s := &store{db: db, now: time.Now}
		rnd := rand.New(rand.NewPCG(3, 4))
		locs := []string{"L-1", "L-2", "L-3", "L-4", "L-5"}
		version := map[string]int64{}
		var evs []schemas.InventoryEvent
		for i := range 3000 {
			loc := locs[rnd.IntN(len(locs))]
			typ := schemas.EventInventoryAdjustment
			v := version[loc]
			switch r := rnd.IntN(10); {
			case r < 5:
				version[loc]++
				v = version[loc]
			case r < 7:
				typ = eventReconciliationCorrection
				v = max(0, v-int64(rnd.IntN(2)))
			case r < 9:
				v = max(0, v-int64(rnd.IntN(3)))
			default:
				v += int64(rnd.IntN(3))
				version[loc] = v
			}
			evs = append(evs, event("WH-1", "ITEM-1", loc, typ, int64(rnd.IntN(1000)), v, t0.Add(time.Duration(i)*time.Millisecond)))
		}
		want := map[positionKey]posState{}
		for _, e := range evs {
			k := positionKey{e.WarehouseID, e.ItemID, e.LocationID, ""}
			cur, ok := want[k]
			if ok && !(e.Version > cur.Version || e.EventType == eventReconciliationCorrection && e.Version >= cur.Version) {
				continue
			}
			want[k] = posState{e.ResultingOnHand, 0, e.ResultingOnHand, e.Version, e.Timestamp.UnixMilli()}
		}
		tp := topicPartition{"e", 0}
		for off := 0; off < len(evs); {
			n := min(1+rnd.IntN(60), len(evs)-off)
			if err := applyEvents(t, s, tp, int64(off), evs[off:off+n]...); err != nil {
				t.Fatal(err)
			}
			off += n
		}
		if diff := diffPositions(want, readPositions(t, db.db)); diff != "" {
			t.Fatal(diff)
		}
	})
}

func TestAllocationsMoveForwardBySequence(t *testing.T) {
	forEachDB(t, func(t *testing.T, d testDB) {
		db := openTestDB(t, d)
		s := &store{db: db, now: time.Now}
		tp := topicPartition{"d", 0}
		dec := func(seq int64, status schemas.AllocationStatus, confirmed int64) schemas.AllocationDecision {
			return schemas.AllocationDecision{DecisionID: fmt.Sprintf("dec-ALLOC-1-%d", seq), AllocationID: "ALLOC-1",
				OrderID: "SO-1001", OrderLine: 1, WarehouseID: "WH-001", ItemID: "ITEM-12345", Status: status,
				RequestedQuantity: 100, ConfirmedQuantity: confirmed, BackorderQuantity: 100 - confirmed,
				Lines:     []schemas.AllocationLine{{LocationID: "A-05-02", Quantity: confirmed}},
				DecidedAt: t0.Add(time.Duration(seq) * time.Second), Sequence: seq}
		}
		off := int64(0)
		apply := func(ds ...schemas.AllocationDecision) {
			t.Helper()
			b := batchOf(t, tp, off, allocationFromDecision, (*batch).addAllocation, ds)
			off += int64(len(ds))
			if err := s.apply(context.Background(), b); err != nil {
				t.Fatal(err)
			}
		}
		expect := func(status string, seq, confirmed int64) {
			t.Helper()
			got := readAllocations(t, db.db)["ALLOC-1"]
			if got.Status != status || got.Sequence != seq || got.Confirmed != confirmed {
				t.Fatalf("allocation is %+v, want %s seq %d confirmed %d", got, status, seq, confirmed)
			}
		}
		apply(dec(1, schemas.StatusTentative, 0))
		expect("TENTATIVE", 1, 0)
		apply(dec(3, schemas.StatusPartial, 95), dec(2, schemas.StatusConfirmed, 100))
		expect("PARTIAL", 3, 95)
		apply(dec(2, schemas.StatusConfirmed, 100))
		expect("PARTIAL", 3, 95)
		apply(dec(4, schemas.StatusFulfilled, 95))
		expect("FULFILLED", 4, 95)
		var lines string
		if err := db.db.QueryRow(`SELECT lines FROM allocations WHERE allocation_id = 'ALLOC-1'`).Scan(&lines); err != nil {
			t.Fatal(err)
		}
		if want := `[{"locationId":"A-05-02","lotNumber":"","quantity":95}]`; lines != want {
			t.Fatalf("lines = %s, want %s", lines, want)
		}
	})
}

func TestDiscrepanciesMoveForwardByUpdatedAt(t *testing.T) {
	forEachDB(t, func(t *testing.T, d testDB) {
		db := openTestDB(t, d)
		s := &store{db: db, now: time.Now}
		tp := topicPartition{"x", 0}
		i64 := func(v int64) *int64 { return &v }
		str := func(v string) *string { return &v }
		open := Discrepancy{DiscrepancyID: "d-1", WarehouseID: "WH-001", ItemID: "ITEM-12345", LocationID: "A-05-02",
			Kind: "MISMATCH", WarehouseOnHand: i64(95), WarehouseVersion: i64(18), CloudOnHand: i64(100), CloudVersion: i64(18),
			Status: "OPEN", OpenedAt: t0, UpdatedAt: t0}
		resolved := open
		resolved.Status, resolved.Assignee, resolved.Resolution, resolved.UpdatedAt = "RESOLVED", str("sup-1"), str("WAREHOUSE_CONFIRMED"), t0.Add(time.Hour)
		for i, x := range []Discrepancy{open, resolved, open} {
			b := newBatch()
			if err := checkDiscrepancy(&x); err != nil {
				t.Fatal(err)
			}
			b.addDiscrepancy(x)
			b.offsets[tp] = offsetRange{int64(i), int64(i + 1)}
			if err := s.apply(context.Background(), b); err != nil {
				t.Fatal(err)
			}
		}
		var status, resolution string
		var cloudOnHand int64
		if err := db.db.QueryRow(`SELECT status, resolution, cloud_on_hand FROM discrepancies WHERE discrepancy_id = 'd-1'`).
			Scan(&status, &resolution, &cloudOnHand); err != nil {
			t.Fatal(err)
		}
		if status != "RESOLVED" || resolution != "WAREHOUSE_CONFIRMED" || cloudOnHand != 100 {
			t.Fatalf("discrepancy is %s/%s/%d, want RESOLVED/WAREHOUSE_CONFIRMED/100", status, resolution, cloudOnHand)
		}
	})
}

// TestOffsetsGuardAgainstASecondWriter: a batch starting below the stored
// offset (records another writer applied) is refused whole.
func TestOffsetsGuardAgainstASecondWriter(t *testing.T) {
	forEachDB(t, func(t *testing.T, d testDB) {
		db := openTestDB(t, d)
		s := &store{db: db, now: time.Now}
		tp := topicPartition{"e", 0}
		e := event("WH-1", "I-1", "L-1", schemas.EventInventoryReceipt, 10, 1, t0)
		if err := applyEvents(t, s, tp, 0, e, e, e); err != nil {
			t.Fatal(err)
		}
		stale := event("WH-1", "I-1", "L-2", schemas.EventInventoryReceipt, 99, 1, t0)
		err := applyEvents(t, s, tp, 2, stale)
		if !errors.Is(err, ErrOffsetsMoved) {
			t.Fatalf("applying offsets 2..2 after 0..2: %v, want ErrOffsetsMoved", err)
		}
		if _, ok := readPositions(t, db.db)[positionKey{"WH-1", "I-1", "L-2", ""}]; ok {
			t.Fatal("the refused batch's row was written")
		}
		// The next batch, even past a gap (aborted records are never
		// fetched), is accepted.
		if err := applyEvents(t, s, tp, 5, stale); err != nil {
			t.Fatal(err)
		}
		if got := readStoredOffsets(t, db.db)[tp]; got != 6 {
			t.Fatalf("stored offset %d, want 6", got)
		}
	})
}

// TestConsumedOffsets: the exported reader sees the offsets the store
// committed, of the topic asked for only.
func TestConsumedOffsets(t *testing.T) {
	forEachDB(t, func(t *testing.T, d testDB) {
		db := openTestDB(t, d)
		s := &store{db: db, now: time.Now}
		e := event("WH-1", "I-1", "L-1", schemas.EventInventoryReceipt, 10, 1, t0)
		for _, b := range []struct {
			tp    topicPartition
			first int64
			n     int
		}{{topicPartition{"e", 0}, 0, 3}, {topicPartition{"e", 2}, 4, 1}, {topicPartition{"other", 1}, 0, 2}} {
			if err := applyEvents(t, s, b.tp, b.first, slices.Repeat([]schemas.InventoryEvent{e}, b.n)...); err != nil {
				t.Fatal(err)
			}
		}
		got, err := ConsumedOffsets(context.Background(), db.db, "e")
		if want := map[int32]int64{0: 3, 2: 5}; err != nil || !maps.Equal(got, want) {
			t.Fatalf("ConsumedOffsets(e) = %v, %v; want %v", got, err, want)
		}
		if got, err := ConsumedOffsets(context.Background(), db.db, "unread"); err != nil || len(got) != 0 {
			t.Fatalf("ConsumedOffsets(unread) = %v, %v; want none", got, err)
		}
	})
}

func TestMigrations(t *testing.T) {
	forEachDB(t, func(t *testing.T, d testDB) {
		ctx := context.Background()
		// Several processes migrating at once apply each migration once.
		var wg sync.WaitGroup
		applied := make([]int, 4)
		errs := make([]error, 4)
		for i := range applied {
			wg.Add(1)
			go func() {
				defer wg.Done()
				db, err := openDatabase(d.url, 1)
				if err != nil {
					errs[i] = err
					return
				}
				defer db.db.Close()
				applied[i], errs[i] = migrate(ctx, db, time.Now())
			}()
		}
		wg.Wait()
		total := 0
		for i := range applied {
			if errs[i] != nil {
				t.Fatalf("migrating: %v", errs[i])
			}
			total += applied[i]
		}
		if total != len(migrations) {
			t.Fatalf("%d migrations applied in all, want %d", total, len(migrations))
		}
		db := openTestDB(t, d)
		if n, err := migrate(ctx, db, time.Now()); err != nil || n != 0 {
			t.Fatalf("migrating again: %d applied, %v", n, err)
		}
		for _, table := range []string{"positions", "allocations", "discrepancies", "dead_letters", "consumed_offsets"} {
			var n int
			if err := db.db.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
				t.Fatalf("table %s: %v", table, err)
			}
		}
		// A database migrated by a newer build is refused, permanently.
		if _, err := db.db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', $1)`, db.dialect.timestamp(t0)); err != nil {
			t.Fatal(err)
		}
		_, err := migrate(ctx, db, time.Now())
		var perm permanentError
		if !errors.Is(err, ErrSchemaTooNew) || !errors.As(err, &perm) {
			t.Fatalf("migrating a newer schema: %v, want a permanent ErrSchemaTooNew", err)
		}
	})
}
