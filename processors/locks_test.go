package processors

import (
	"slices"
	"testing"
	"time"
)

func scanner(id string) txOpt { return func(t *Transaction) { t.ScannerID = id } }
func override() txOpt         { return func(t *Transaction) { t.Override = true } }

// at is t0 plus m minutes: lock times.
func at(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

// testLock is a lock on loc of testWH by scanner from t0+from to t0+to minutes.
func testLock(id, scannerID, loc string, from, to int) Lock {
	return Lock{LockID: id, WarehouseID: testWH, LocationID: loc, ScannerID: scannerID, AcquiredAt: at(from), ExpiresAt: at(to)}
}

func released(l Lock, m int) Lock {
	rel := at(m)
	l.ReleasedAt = &rel
	return l
}

func lockIDs(ls []Lock) []string { return mapped(ls, func(l Lock) string { return l.LockID }) }

func TestLockTableFirstWriterWins(t *testing.T) {
	tb := NewLockTable()
	tb.Apply(testLock("L-03", "SCANNER-03", locA, 30, 90))
	// Another scanner, while it holds: refused, whatever it asks for.
	tb.Apply(testLock("L-04", "SCANNER-04", locA, 40, 200))
	// Another location is free.
	tb.Apply(testLock("L-04b", "SCANNER-04", locB, 40, 200))
	// The same scanner again: granted (it supersedes its own lock).
	tb.Apply(testLock("L-03b", "SCANNER-03", locA, 50, 110))

	if _, ok := tb.Get("L-03"); !ok {
		t.Error("the first lock is not granted")
	}
	if _, ok := tb.Get("L-04"); ok {
		t.Error("a second scanner's lock on a held location is granted")
	}
	if h, refused := tb.Refused("L-04"); !refused || h.LockID != "L-03" || h.ScannerID != "SCANNER-03" {
		t.Errorf("Refused(L-04) = %+v, %v; want held by L-03", h, refused)
	}
	if _, refused := tb.Refused("L-03"); refused {
		t.Error("Refused(L-03) for a granted lock")
	}
	if _, refused := tb.Refused("never"); refused {
		t.Error("Refused for an unknown lock")
	}
	for _, id := range []string{"L-04b", "L-03b"} {
		if _, ok := tb.Get(id); !ok {
			t.Errorf("%s is not granted", id)
		}
	}
	// The refused lock stays refused, even once the location is free and
	// even if a release record for it shows up.
	tb.Apply(released(tb.mustGet(t, "L-03"), 45))
	tb.Apply(released(tb.mustGet(t, "L-03b"), 60))
	tb.Apply(testLock("L-04", "SCANNER-04", locA, 40, 200))
	tb.Apply(released(testLock("L-04", "SCANNER-04", locA, 40, 200), 70))
	if _, ok := tb.Get("L-04"); ok {
		t.Error("a refused lock became granted")
	}
	// Once the location is free, another scanner gets it.
	tb.Apply(testLock("L-05", "SCANNER-05", locA, 61, 100))
	if h, ok := tb.HolderAt(testWH, locA, at(61)); !ok || h.LockID != "L-05" {
		t.Errorf("HolderAt after the releases = %+v, %v; want L-05", h, ok)
	}
}

func TestLockTableReleaseAndExpiry(t *testing.T) {
	tb := NewLockTable()
	tb.Apply(testLock("L1", "SCANNER-03", locA, 30, 90))
	for _, c := range []struct {
		m    int
		held bool
	}{{29, false}, {30, true}, {89, true}, {90, false}} {
		if _, ok := tb.HolderAt(testWH, locA, at(c.m)); ok != c.held {
			t.Errorf("HolderAt(t0+%dm) = %v, want %v", c.m, ok, c.held)
		}
	}
	if _, ok := tb.HolderAt(testWH, locB, at(40)); ok {
		t.Error("another location is held")
	}
	if _, ok := tb.HolderAt("WH-002", locA, at(40)); ok {
		t.Error("the same location of another warehouse is held")
	}
	// Releases: the earliest wins, later ones change nothing.
	tb.Apply(released(testLock("L1", "SCANNER-03", locA, 30, 90), 50))
	tb.Apply(released(testLock("L1", "SCANNER-03", locA, 30, 90), 60))
	l, _ := tb.Get("L1")
	if l.ReleasedAt == nil || !l.ReleasedAt.Equal(at(50)) || !l.End().Equal(at(50)) {
		t.Errorf("after two releases: %+v", l)
	}
	tb.Apply(released(testLock("L1", "SCANNER-03", locA, 30, 90), 40))
	if l, _ := tb.Get("L1"); !l.ReleasedAt.Equal(at(40)) {
		t.Errorf("an earlier release did not win: %v", l.ReleasedAt)
	}
	if _, ok := tb.HolderAt(testWH, locA, at(40)); ok {
		t.Error("held at its release time")
	}
	if _, ok := tb.HolderAt(testWH, locA, at(39)); !ok {
		t.Error("not held before its release")
	}
	// A lock handed out is the caller's.
	l, _ = tb.Get("L1")
	*l.ReleasedAt = at(0)
	if l2, _ := tb.Get("L1"); !l2.ReleasedAt.Equal(at(40)) {
		t.Error("Get shares ReleasedAt with the table")
	}
}

// TestLockTableSkewedClocks: two instances' clocks disagree, so the second
// writer's lock starts before the first's. It is still refused: the two
// would otherwise both hold from the first's acquiredAt on.
func TestLockTableSkewedClocks(t *testing.T) {
	tb := NewLockTable()
	tb.Apply(testLock("L-03", "SCANNER-03", locA, 35, 65))
	tb.Apply(testLock("L-04", "SCANNER-04", locA, 30, 60))
	if _, ok := tb.Get("L-04"); ok {
		t.Error("an overlapping lock of another scanner is granted")
	}
	// Touching intervals do not overlap.
	tb.Apply(testLock("L-06", "SCANNER-06", locA, 65, 80))
	tb.Apply(testLock("L-07", "SCANNER-07", locA, 20, 35))
	for _, id := range []string{"L-06", "L-07"} {
		if _, ok := tb.Get(id); !ok {
			t.Errorf("%s, adjacent to the held interval, is refused", id)
		}
	}
}

// TestLockTableAfterCompaction replays a compacted topic: the acquire
// record of a released lock is gone, its release comes after the record
// of a lock it had refused. The outcome is the one of the full log.
func TestLockTableAfterCompaction(t *testing.T) {
	full := NewLockTable()
	a := testLock("L-03", "SCANNER-03", locA, 30, 90)
	b := testLock("L-04", "SCANNER-04", locA, 40, 120)
	full.Apply(a)
	full.Apply(b)
	full.Apply(released(a, 50))

	compacted := NewLockTable()
	compacted.Apply(b)
	compacted.Apply(released(a, 50))

	for name, tb := range map[string]*LockTable{"full log": full, "compacted": compacted} {
		if _, ok := tb.Get("L-04"); ok {
			t.Errorf("%s: the refused lock is granted", name)
		}
		if h, refused := tb.Refused("L-04"); !refused || h.LockID != "L-03" {
			t.Errorf("%s: Refused(L-04) = %+v, %v", name, h, refused)
		}
		if h, ok := tb.HolderAt(testWH, locA, at(45)); !ok || h.LockID != "L-03" {
			t.Errorf("%s: HolderAt(45) = %+v, %v", name, h, ok)
		}
		if _, ok := tb.HolderAt(testWH, locA, at(60)); ok {
			t.Errorf("%s: held after the release", name)
		}
	}
}

func TestLockTableActive(t *testing.T) {
	tb := NewLockTable()
	tb.Apply(testLock("L-b", "SCANNER-03", locB, 30, 90))
	tb.Apply(testLock("L-a", "SCANNER-04", locA, 31, 90))
	tb.Apply(testLock("L-gone", "SCANNER-05", "C-01-01", 0, 40)) // expired at 40
	tb.Apply(testLock("L-rel", "SCANNER-06", "D-01-01", 0, 90))
	tb.Apply(released(testLock("L-rel", "SCANNER-06", "D-01-01", 0, 90), 20))
	tb.Apply(testLock("L-refused", "SCANNER-07", locA, 35, 90))
	other := testLock("L-other", "SCANNER-03", locA, 30, 90)
	other.WarehouseID = "WH-002"
	tb.Apply(other)

	if got, want := lockIDs(tb.Active(testWH, at(45))), []string{"L-a", "L-b"}; !slices.Equal(got, want) {
		t.Errorf("Active = %v, want %v", got, want)
	}
	if got, want := lockIDs(tb.Active(testWH, at(10))), []string{"L-a", "L-b", "L-gone", "L-rel"}; !slices.Equal(got, want) {
		t.Errorf("Active(10) = %v, want %v", got, want)
	}
	if got := tb.Active(testWH, at(90)); len(got) != 0 {
		t.Errorf("Active after every expiry = %v", lockIDs(got))
	}
	if got := lockIDs(tb.Active("WH-002", at(45))); !slices.Equal(got, []string{"L-other"}) {
		t.Errorf("Active(WH-002) = %v", got)
	}
}

func (tb *LockTable) mustGet(t *testing.T, id string) Lock {
	t.Helper()
	l, ok := tb.Get(id)
	if !ok {
		t.Fatalf("lock %s is not granted", id)
	}
	return l
}

// lockCases apply transactions against a table where SCANNER-03 holds locA
// from t0+30m to t0+90m. newTx transactions come from SCANNER-08 and are
// received at t0+1h.
var lockCases = []conflictCase{
	{
		name: "a CYCLE_COUNT at a location another scanner holds is rejected and changes nothing",
		steps: []step{
			{receipt("r1", 10, locA, 10, receivedAt(10*time.Minute)), applied(10, 1, +10)},
			{count("c1", 20, locA, 7), rejected(CodeLocationLocked, 10, 1)},
		},
		final: []recordState{{loc: locA, onHand: 10, version: 1}},
	},
	{
		name: "an ADJUSTMENT at a location another scanner holds is rejected",
		steps: []step{
			{adjust("a1", 10, locA, -3), rejected(CodeLocationLocked, 0, 0)},
		},
	},
	{
		name: "with override the count and the adjustment are applied with LOCK_OVERRIDDEN",
		steps: []step{
			{count("c1", 20, locA, 7, override()), applied(7, 1, +7).warn(WarnLockOverridden)},
			{adjust("a1", 30, locA, -3, override()), applied(4, 2, -3).warn(WarnLockOverridden)},
		},
		final: []recordState{{loc: locA, onHand: 4, version: 2}},
	},
	{
		name: "RECEIPT and PICK at a held location are applied with the warning LOCATION_LOCKED",
		steps: []step{
			{receipt("r1", 10, locA, 10), applied(10, 1, +10).warn(WarnLocationLocked)},
			{pick("p1", 20, locA, 4), applied(6, 2, -4).warn(WarnLocationLocked)},
			{pick("p2", 30, locA, 10, override()), applied(-4, 3, -10).warn(WarnLocationLocked, WarnNegativeOnHand)},
		},
		final: []recordState{{loc: locA, onHand: -4, version: 3}},
	},
	{
		name: "a MOVE is warned when either of its locations is held",
		steps: []step{
			{move("m1", 10, locA, locB, 4), applied(-4, 1, -4, +4).warn(WarnLocationLocked, WarnNegativeOnHand)},
			{move("m2", 20, locB, locA, 1), applied(3, 2, -1, +1).warn(WarnLocationLocked, WarnNegativeOnHand)},
			{receipt("r1", 30, locB, 1), applied(4, 3, +1)},
		},
		final: []recordState{{loc: locA, onHand: -3, version: 2}, {loc: locB, onHand: 4, version: 3}},
	},
	{
		name: "the lock holder itself counts and adjusts normally",
		steps: []step{
			{count("c1", 20, locA, 7, scanner("SCANNER-03")), applied(7, 1, +7)},
			{adjust("a1", 30, locA, 1, scanner("SCANNER-03")), applied(8, 2, +1)},
			{receipt("r1", 40, locA, 1, scanner("SCANNER-03")), applied(9, 3, +1)},
		},
		final: []recordState{{loc: locA, onHand: 9, version: 3}},
	},
	{
		name: "the receive time decides: before the lock, and once it expired, nothing is locked",
		steps: []step{
			{count("c1", 20, locA, 7, receivedAt(29*time.Minute)), applied(7, 1, +7)},
			{adjust("a1", 30, locA, 1, receivedAt(30*time.Minute)), rejected(CodeLocationLocked, 7, 1)},
			{adjust("a2", 40, locA, 1, receivedAt(90*time.Minute)), applied(8, 2, +1)},
			{receipt("r1", 50, locA, 1, receivedAt(91*time.Minute)), applied(9, 3, +1)},
		},
		final: []recordState{{loc: locA, onHand: 9, version: 3}},
	},
	{
		name: "other locations are not affected",
		steps: []step{
			{count("c1", 20, locB, 7), applied(7, 1, +7)},
		},
		final: []recordState{{loc: locB, onHand: 7, version: 1}},
	},
}

func TestLockRules(t *testing.T) {
	for _, tc := range lockCases {
		t.Run(tc.name, func(t *testing.T) {
			locks := NewLockTable()
			locks.Apply(testLock("LCK-1", "SCANNER-03", locA, 30, 90))
			p := New(Config{Locks: locks})
			s := newMemStore()
			for i, st := range tc.steps {
				checkStep(t, p, s, st, t0.Add(3*time.Hour+time.Duration(i)*time.Second), i)
			}
			got := recordStates(t, s)
			want := slices.Clone(tc.final)
			for i := range want {
				want[i].item = testItem
			}
			if !slices.Equal(got, want) {
				t.Errorf("records:\n got %s\nwant %s", fmtList(got), fmtList(want))
			}
		})
	}
}

// TestLockWarningsAreOnTheLockedLeg: a MOVE into a held location warns on
// the destination's event only.
func TestLockWarningsAreOnTheLockedLeg(t *testing.T) {
	locks := NewLockTable()
	locks.Apply(testLock("LCK-1", "SCANNER-03", locB, 30, 90))
	p := New(Config{Locks: locks})
	s := newMemStore()
	mustApply(t, p, s, receipt("r1", 10, locA, 10, receivedAt(0)), t0)
	res := mustApply(t, p, s, move("m1", 20, locA, locB, 4), t0.Add(time.Hour))
	if len(res.Events) != 2 || len(res.Events[0].Warnings) != 0 || !slices.Equal(res.Events[1].Warnings, []string{WarnLocationLocked}) {
		t.Errorf("events %+v", res.Events)
	}
}

// TestLockReleaseEndsTheRule: a transaction received after the release is
// applied; one received while the lock held is still rejected when applied
// late (the decision depends on the receive time only).
func TestLockReleaseEndsTheRule(t *testing.T) {
	locks := NewLockTable()
	lk := testLock("LCK-1", "SCANNER-03", locA, 30, 90)
	locks.Apply(lk)
	locks.Apply(released(lk, 45))
	p := New(Config{Locks: locks})
	s := newMemStore()
	if res := mustApply(t, p, s, count("c1", 20, locA, 7, receivedAt(44*time.Minute)), t0.Add(3*time.Hour)); res.Outcome.Code != CodeLocationLocked {
		t.Errorf("count received while held: %+v", res.Outcome)
	}
	if res := mustApply(t, p, s, count("c2", 20, locA, 7, receivedAt(45*time.Minute)), t0.Add(3*time.Hour)); res.Outcome.Status != StatusApplied || len(res.Outcome.Warnings) != 0 {
		t.Errorf("count received after the release: %+v", res.Outcome)
	}
}

func TestCatalogCheckLocation(t *testing.T) {
	cat := NewCatalog(Limits{})
	cat.UpsertWarehouse(Warehouse{WarehouseID: testWH, Locations: []string{locA}})
	if r := cat.CheckLocation(testWH, locA); r != nil {
		t.Errorf("known location: %v", r)
	}
	if r := cat.CheckLocation(testWH, locB); r == nil || r.Code != CodeUnknownLocation {
		t.Errorf("unknown location: %v", r)
	}
	if r := cat.CheckLocation("WH-404", locA); r == nil || r.Code != CodeUnknownWarehouse {
		t.Errorf("unknown warehouse: %v", r)
	}
}
