package processors

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestSnapshotEachPositionYieldsEveryRecordAndNothingElse(t *testing.T) {
	p := New(Config{})
	s := newMemStore()
	now := t0.Add(time.Hour)
	for _, tx := range []*Transaction{
		receipt("r1", 1, locA, 100),
		pick("p1", 2, locA, 10),
		receipt("r2", 3, locB, 7, lot("LOT-1")),
		receipt("r3", 4, locB, 5, lot("LOT-2")),
		move("m1", 5, locA, locC, 20),
		receipt("r4", 6, locA, 3, item("ITEM-99999")),
		count("c1", 7, locD, 0),
	} {
		mustApply(t, p, s, tx, now)
	}
	mustAllocate(t, p, s, allocReq("AL-1", 30, preferLoc(locA)), now)
	// Keys of every other kind are there too (outcomes, ledger,
	// allocations), and the snapshot slot itself.
	if err := SetLastSnapshot(s, t0); err != nil {
		t.Fatal(err)
	}

	type pos struct {
		item, loc, lot               string
		onHand, allocated, available int64
		version                      int64
	}
	want := []pos{
		{"ITEM-12345", locA, "", 70, 30, 40, 4}, // receipt, pick, move out, reservation
		{"ITEM-12345", locB, "LOT-1", 7, 0, 7, 1},
		{"ITEM-12345", locB, "LOT-2", 5, 0, 5, 1},
		{"ITEM-12345", locC, "", 20, 0, 20, 1},
		{"ITEM-12345", locD, "", 0, 0, 0, 1},
		{"ITEM-99999", locA, "", 3, 0, 3, 1},
	}
	var got []pos
	err := EachPosition(s, func(r *Record) error {
		if r.WarehouseID != testWH {
			t.Errorf("record %+v: warehouse %q", r, r.WarehouseID)
		}
		if r.UpdatedAt != now.UnixMilli() {
			t.Errorf("record %+v: updatedAt %d, want %d", r, r.UpdatedAt, now.UnixMilli())
		}
		got = append(got, pos{r.ItemID, r.LocationID, r.LotNumber, r.OnHand, r.Allocated, r.Available(), r.Version})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("positions\n got %v\nwant %v", got, want)
	}

	stop := errors.New("stop")
	n := 0
	if err := EachPosition(s, func(*Record) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("fn's error must end the scan and be returned: %v after %d calls", err, n)
	}
	if err := EachPosition(newMemStore(), func(r *Record) error { return fmt.Errorf("unexpected %+v", r) }); err != nil {
		t.Errorf("empty partition: %v", err)
	}
}

func TestSnapshotLastSlotRoundTrip(t *testing.T) {
	s := newMemStore()
	if _, ok, err := LastSnapshot(s); ok || err != nil {
		t.Fatalf("fresh partition: ok=%v err=%v, want none", ok, err)
	}
	for _, slot := range []time.Time{
		time.Date(2026, 11, 26, 10, 15, 0, 0, time.UTC),
		time.Date(2026, 11, 26, 10, 30, 0, 0, time.UTC),
		time.Date(2026, 11, 26, 10, 30, 1, 500_000_000, time.UTC),
		time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC),
	} {
		if err := SetLastSnapshot(s, slot); err != nil {
			t.Fatal(err)
		}
		got, ok, err := LastSnapshot(s)
		if err != nil || !ok || !got.Equal(slot) {
			t.Errorf("set %v, read %v ok=%v err=%v", slot, got, ok, err)
		}
	}
	if err := s.Set(snapshotKey, []byte{snapshotFormat}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LastSnapshot(s); !errors.Is(err, errCorrupt) {
		t.Errorf("truncated value: want errCorrupt, got %v", err)
	}
	if err := s.Set(snapshotKey, []byte{9, 2}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LastSnapshot(s); !errors.Is(err, errCorrupt) {
		t.Errorf("unknown format: want errCorrupt, got %v", err)
	}
}

func TestSnapshotSlotAndID(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		now   string
		every time.Duration
		slot  string
		id    string
	}{
		{"2026-11-26T10:17:42.123Z", 15 * time.Minute, "2026-11-26T10:15:00Z", "snap-2026-11-26T10:15:00Z"},
		{"2026-11-26T10:15:00Z", 15 * time.Minute, "2026-11-26T10:15:00Z", "snap-2026-11-26T10:15:00Z"},
		{"2026-11-26T10:14:59.999Z", 15 * time.Minute, "2026-11-26T10:00:00Z", "snap-2026-11-26T10:00:00Z"},
		// Another zone: slots are instants, named in UTC.
		{"2026-11-26T11:17:42+01:00", 15 * time.Minute, "2026-11-26T10:15:00Z", "snap-2026-11-26T10:15:00Z"},
		{"2026-11-26T10:17:43.9Z", 2 * time.Second, "2026-11-26T10:17:42Z", "snap-2026-11-26T10:17:42Z"},
		{"2026-11-26T10:17:43.9Z", 1500 * time.Millisecond, "2026-11-26T10:17:43.5Z", "snap-2026-11-26T10:17:43.5Z"},
		// 7m does not divide a day: multiples since the Unix epoch.
		{"1970-01-01T00:15:00Z", 7 * time.Minute, "1970-01-01T00:14:00Z", "snap-1970-01-01T00:14:00Z"},
		{"1969-12-31T23:59:59Z", time.Hour, "1969-12-31T23:00:00Z", "snap-1969-12-31T23:00:00Z"},
	} {
		slot := SnapshotSlot(at(c.now), c.every)
		if !slot.Equal(at(c.slot)) || slot.Location() != time.UTC {
			t.Errorf("SnapshotSlot(%s, %v) = %v, want %s", c.now, c.every, slot, c.slot)
		}
		if id := SnapshotID(slot); id != c.id {
			t.Errorf("SnapshotID(%v) = %s, want %s", slot, id, c.id)
		}
	}
}
