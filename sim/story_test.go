package sim

import (
	"testing"
	"time"
)

// A world of one warehouse, one A item in two locations (10 units each)
// and two scanners, A and B, both online and on time unless a test says
// otherwise.
func tinyWorld() *World {
	return &World{Warehouses: []string{"W"}, Locations: []string{"L1", "L2"}, Items: []Item{{ID: "I", Class: 0}},
		Slots: []Slot{{WH: 0, Item: 0, Loc: "L1"}, {WH: 0, Item: 0, Loc: "L2"}}, Opening: []int64{10, 10},
		Scanners: []Scanner{{ID: "A"}, {ID: "B"}}, slotsOf: map[[2]int][]int{{0, 0}: {0, 1}}}
}

const (
	scA, scB = 0, 1
	l1, l2   = 0, 1
)

func at(h, m int) time.Duration { return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute }

func ev(t time.Duration, k Kind, slot, scanner int, q int64) Event {
	return Event{At: t, Kind: k, Slot: slot, Scanner: scanner, Qty: q, Second: -1}
}

// runStory runs a planned day of events through one story system.
func runStory(kind storyKind, w *World, outages []Zone, evs ...Event) *storySys {
	cfg := Config{Seed: 1, Hours: 6, Rates: Rates{Set: true}}.withDefaults()
	s := newStory(kind, cfg, w, &Plan{Events: evs, Outages: outages})
	for i, e := range evs {
		e.Order = i + 1
		s.advance(e.At)
		s.physical(e, e.At)
	}
	s.endOfDay()
	return s
}

func both(f func(kind storyKind, name string)) {
	f(storyAfter, SystemStoryAfter)
	f(storyBefore, SystemStoryBefore)
}

func TestStoryQuietDayIsExact(t *testing.T) {
	evs := []Event{ev(at(0, 10), Receipt, l1, scA, 5), ev(at(0, 20), FloorPick, l2, scB, 3),
		{At: at(0, 30), Kind: Move, Slot: l1, To: l2, Qty: 4, Scanner: scA, Second: -1},
		ev(at(0, 40), Count, l1, scB, 0), ev(at(1, 0), OrderLine, l1, -1, 6), ev(at(2, 0), Count, l2, scA, 0)}
	both(func(kind storyKind, name string) {
		s := runStory(kind, tinyWorld(), nil, evs...)
		r := s.result()
		if r.RecordAccuracy != 1 || r.CountAccuracy != 1 || r.CloudAgreement != 1 || r.Lost != 0 ||
			r.AllocationErrors != 0 || r.Oversells != 0 || r.Confirmed != 1 || len(r.Causes) != 0 {
			t.Errorf("%s: quiet day %+v", name, r)
		}
		if s.phys[l1] != 10+5-4-6 || s.phys[l2] != 10-3+4 {
			t.Errorf("%s: stock %v", name, s.phys)
		}
		if r.ScanToCloudP50 < 1000 || r.ScanToCloudP99 > 2000 {
			t.Errorf("%s: scan to cloud %v / %v ms, want within the story's 1–2 s", name, r.ScanToCloudP50, r.ScanToCloudP99)
		}
	})
}

// A pick while the cloud is out: the before's webhook is lost (the cloud
// disagrees with the warehouse for good, and allocates against stock
// that is gone); the after's event waits and arrives.
func TestStoryCloudOutageLosesOnlyBefore(t *testing.T) {
	out := []Zone{{From: at(1, 0), To: at(1, 10)}}
	evs := []Event{ev(at(1, 5), FloorPick, l1, scA, 8), ev(at(1, 6), FloorPick, l2, scA, 8), ev(at(2, 0), OrderLine, l1, -1, 6)}
	after := runStory(storyAfter, tinyWorld(), out, evs...).result()
	before := runStory(storyBefore, tinyWorld(), out, evs...).result()
	if after.Lost != 0 || after.CloudAgreement != 1 || after.AllocationErrors != 0 || after.Backorders != 1 {
		t.Errorf("after: %+v", after)
	}
	if before.Lost != 2 || before.CloudAgreement != 0 || before.AllocationErrors != 1 || before.Causes[CauseLost] != 1 {
		t.Errorf("before: %+v", before)
	}
	if before.RecordAccuracy != 1 || after.RecordAccuracy != 1 {
		t.Errorf("the warehouses' records: before %v, after %v; want both exact", before.RecordAccuracy, after.RecordAccuracy)
	}
}

// An order line during an outage waits for the cloud's return.
func TestStoryOrderWaitsForTheCloud(t *testing.T) {
	s := runStory(storyAfter, tinyWorld(), []Zone{{From: at(1, 0), To: at(1, 30)}}, ev(at(1, 5), OrderLine, l1, -1, 3))
	if s.m.allocations != 1 || s.phys[l1]+s.phys[l2] != 17 {
		t.Errorf("%d allocations, stock %v", s.m.allocations, s.phys)
	}
}

// A count taken in a dead zone, then a pick online: the after's device
// uploads the count with its own (older) timestamp and last-write-wins
// refuses it, rightly; the before's count is keyed in from paper when
// the scanner is back, stamped then, and wins over the newer pick.
func TestStoryLateOfflineCount(t *testing.T) {
	w := tinyWorld()
	w.Scanners[scA].Zones = []Zone{{From: at(1, 0), To: at(3, 0)}}
	evs := []Event{ev(at(1, 10), Count, l1, scA, 0), ev(at(1, 30), FloorPick, l1, scB, 4)}
	after := runStory(storyAfter, w, nil, evs...)
	before := runStory(storyBefore, w, nil, evs...)
	if r := after.result(); r.RecordAccuracy != 1 {
		t.Errorf("after: %+v", r)
	}
	r := before.result()
	if before.rec[l1].onHand != 10 || before.phys[l1] != 6 || r.Causes[CauseLateCount] != 1 {
		t.Errorf("before: record %d, stock %d, causes %v; want 10, 6, the late count", before.rec[l1].onHand, before.phys[l1], r.Causes)
	}
}

// A pick in a dead zone, then a count online: the pick arrives after the
// count that already saw it and is subtracted a second time, in both.
func TestStoryLateOfflineUpdateAfterACount(t *testing.T) {
	w := tinyWorld()
	w.Scanners[scA].Zones = []Zone{{From: at(1, 0), To: at(3, 0)}}
	evs := []Event{ev(at(1, 10), FloorPick, l1, scA, 3), ev(at(1, 30), Count, l1, scB, 0)}
	both(func(kind storyKind, name string) {
		s := runStory(kind, w, nil, evs...)
		r := s.result()
		if s.rec[l1].onHand != 4 || s.phys[l1] != 7 || r.Causes[CauseLateUpdate] != 1 || r.RecordAccuracy != 0.5 {
			t.Errorf("%s: record %d, stock %d, %+v", name, s.rec[l1].onHand, s.phys[l1], r)
		}
	})
}

// A mis-keyed count is applied by both story systems (nothing is held).
func TestStoryMisKeyedCountApplied(t *testing.T) {
	e := ev(at(1, 0), Count, l1, scA, 0)
	e.MisKey, e.Digit = DigitDoubled, 0
	both(func(kind storyKind, name string) {
		s := runStory(kind, tinyWorld(), nil, e)
		r := s.result()
		if s.rec[l1].onHand != 110 || r.Causes[CauseMisKeyed] != 1 || r.CountAccuracy != 0 || r.CountAccuracyTolerance != 0 {
			t.Errorf("%s: record %d, %+v", name, s.rec[l1].onHand, r)
		}
	})
}

// Shrinkage nobody scans stays wrong until a count; a count finds it.
func TestStoryUnscannedShrinkage(t *testing.T) {
	both(func(kind storyKind, name string) {
		r := runStory(kind, tinyWorld(), nil, ev(at(1, 0), Shrink, l1, -1, 2), ev(at(1, 0), Damage, l2, -1, 1)).result()
		if r.RecordAccuracy != 0 || r.Causes[CauseUnscanned] != 2 {
			t.Errorf("%s: %+v", name, r)
		}
		r = runStory(kind, tinyWorld(), nil, ev(at(1, 0), Shrink, l1, -1, 2), ev(at(2, 0), Count, l1, scA, 0)).result()
		if r.RecordAccuracy != 1 || r.CountAccuracy != 0 || r.CountAccuracyTolerance != 0 {
			t.Errorf("%s: after a count: %+v", name, r)
		}
	})
}

// A device clock hours ahead stamps a pick in the future; a later count
// (showing shrinkage) is then refused as older, and the record keeps the
// error, owed to the clock.
func TestStorySkewedClock(t *testing.T) {
	w := tinyWorld()
	w.Scanners[scB].Skew = 3 * time.Hour
	evs := []Event{ev(at(1, 0), Shrink, l1, -1, 2), ev(at(1, 10), FloorPick, l1, scB, 1), ev(at(1, 30), Count, l1, scA, 0)}
	both(func(kind storyKind, name string) {
		s := runStory(kind, w, nil, evs...)
		if r := s.result(); s.rec[l1].onHand != 9 || r.Causes[CauseSkew] != 1 {
			t.Errorf("%s: record %d, %+v", name, s.rec[l1].onHand, r)
		}
	})
}

// Location locks: a second scanner counting a location another counts
// is warned off, in the after only.
func TestStoryLocationLock(t *testing.T) {
	evs := []Event{ev(at(1, 0), Count, l1, scA, 0), ev(at(1, 1), Count, l1, scB, 0), ev(at(1, 40), Count, l1, scB, 0)}
	if s := runStory(storyAfter, tinyWorld(), nil, evs...); s.m.lockWarnings != 1 {
		t.Errorf("after: %d lock warnings, want 1 (the lock lasts 30 minutes)", s.m.lockWarnings)
	}
	if s := runStory(storyBefore, tinyWorld(), nil, evs...); s.m.lockWarnings != 0 {
		t.Errorf("before: %d lock warnings", s.m.lockWarnings)
	}
}

// Two-phase allocation: the after's warehouse rejects what its record
// does not hold; the before's cloud allocates on its own view. Both
// allocate on a warehouse record that unscanned shrinkage made wrong.
func TestStoryAllocation(t *testing.T) {
	w := tinyWorld()
	w.Scanners[scA].Zones = []Zone{{From: at(1, 0), To: at(3, 0)}}
	// A pick in a dead zone: the before's cloud hears of it at 03:00.
	evs := []Event{ev(at(1, 5), FloorPick, l1, scA, 9), ev(at(1, 6), FloorPick, l2, scA, 9), ev(at(1, 30), OrderLine, l1, -1, 5)}
	after := runStory(storyAfter, w, nil, evs...).result()
	before := runStory(storyBefore, w, nil, evs...).result()
	if after.Confirmed != 1 || after.AllocationErrors != 1 || before.AllocationErrors != 1 {
		t.Errorf("offline picks: after %+v, before %+v", after, before)
	}
	evs = []Event{ev(at(1, 0), Shrink, l1, -1, 8), ev(at(1, 0), Shrink, l2, -1, 8), ev(at(1, 30), OrderLine, l1, -1, 5)}
	both(func(kind storyKind, name string) {
		r := runStory(kind, tinyWorld(), nil, evs...).result()
		// The picker's count at the short shelf puts L1 right; L2 stays
		// wrong: one wrong record and one allocation error.
		if r.AllocationErrors != 1 || r.Oversells != 1 || r.Causes[CauseUnscanned] != 1+1 || r.RecordAccuracy != 0.5 {
			t.Errorf("%s: shrinkage: %+v", name, r)
		}
	})
}

func TestPickDelay(t *testing.T) {
	seen := map[time.Duration]bool{}
	for n := range 200 {
		d := pickDelay(1, n)
		if d < pickAfterMin || d >= pickAfterMax {
			t.Fatalf("order %d picked %v after", n, d)
		}
		if d != pickDelay(1, n) {
			t.Fatal("not a function of the seed and the order")
		}
		seen[d.Truncate(10*time.Minute)] = true
	}
	if len(seen) < 8 {
		t.Errorf("200 orders fall in %d ten-minute bins of 80 minutes", len(seen))
	}
}
