package processors

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// Allocation tests: the two-phase allocation rules, shortfall, picks against
// allocations and expiry, each as a small table or story over the in-memory
// store. allocInvariants states the invariants once; every test
// checks them after every step, and the property test in
// alloc_property_test.go checks them over random histories.

const (
	locC = "C-02-03"
	locD = "D-04-01"
)

// allocOpt changes a test allocation request before its BodyHash is
// computed.
type allocOpt func(*AllocRequest)

func preferLoc(l string) allocOpt { return func(r *AllocRequest) { r.LocationID = l } }
func onlyLot(l string) allocOpt   { return func(r *AllocRequest) { r.LotNumber = l } }
func partialOK() allocOpt         { return func(r *AllocRequest) { r.AllowPartial = true } }

func expiresAt(at time.Time) allocOpt { return func(r *AllocRequest) { r.ExpiresAt = &at } }

// allocReq builds an ALLOCATE of qty for order "SO-<id>", requested at t0.
func allocReq(id string, qty int64, opts ...allocOpt) *AllocRequest {
	r := &AllocRequest{
		Action: ActionAllocate, AllocationID: id, OrderID: "SO-" + id, OrderLine: 1,
		WarehouseID: testWH, ItemID: testItem, Quantity: qty, RequestedAt: t0,
	}
	for _, o := range opts {
		o(r)
	}
	r.BodyHash = r.Hash()
	return r
}

func cancelReq(id string) *AllocRequest {
	return &AllocRequest{Action: ActionCancel, AllocationID: id, WarehouseID: testWH, ItemID: testItem, RequestedAt: t0}
}

func mustAllocate(t testing.TB, p *Processor, s Store, req *AllocRequest, now time.Time) AllocResult {
	t.Helper()
	res, err := p.Allocate(s, req, now)
	if err != nil {
		t.Fatalf("Allocate(%s %s): %v", req.Action, req.AllocationID, err)
	}
	return res
}

func mustLookup(t testing.TB, s Reader, id string) Allocation {
	t.Helper()
	a, ok, err := LookupAllocation(s, id)
	if err != nil || !ok {
		t.Fatalf("LookupAllocation(%s) = %v, %v", id, ok, err)
	}
	return a
}

func mustRecord(t testing.TB, s Reader, loc, lot string) Record {
	t.Helper()
	r, err := loadRecord(s, testWH, testItem, loc, lot)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fmtLines renders lines sorted, "loc/lot=q", for comparisons.
func fmtLines(ls []AllocLine) string {
	parts := mapped(ls, func(l AllocLine) string { return fmt.Sprintf("%s/%s=%d", l.LocationID, l.LotNumber, l.Quantity) })
	sort.Strings(parts)
	return "[" + strings.Join(parts, " ") + "]"
}

// allocWant is what a test expects of an allocation.
type allocWant struct {
	status                               string
	reason                               string
	confirmed, backorder, picked, seqNum int64
	lines                                string // fmtLines form
}

func checkAlloc(t testing.TB, s Reader, id string, w allocWant) Allocation {
	t.Helper()
	a := mustLookup(t, s, id)
	if a.Status != w.status || a.Reason != w.reason || a.ConfirmedQuantity != w.confirmed ||
		a.BackorderQuantity != w.backorder || a.PickedQuantity != w.picked || fmtLines(a.Lines) != w.lines ||
		(w.seqNum != 0 && a.Sequence != w.seqNum) {
		t.Errorf("%s = %s %q confirmed=%d backorder=%d picked=%d lines=%s sequence=%d,\n want %s %q confirmed=%d backorder=%d picked=%d lines=%s sequence=%d",
			id, a.Status, a.Reason, a.ConfirmedQuantity, a.BackorderQuantity, a.PickedQuantity, fmtLines(a.Lines), a.Sequence,
			w.status, w.reason, w.confirmed, w.backorder, w.picked, w.lines, w.seqNum)
	}
	return a
}

// recWant is what a test expects of a stock record.
type recWant struct {
	loc, lot                   string
	onHand, allocated, version int64
}

func checkRecords(t testing.TB, s Reader, ws ...recWant) {
	t.Helper()
	for _, w := range ws {
		r := mustRecord(t, s, w.loc, w.lot)
		if r.OnHand != w.onHand || r.Allocated != w.allocated || r.Version != w.version || r.Available() != w.onHand-w.allocated {
			t.Errorf("record %s/%q: onHand=%d allocated=%d available=%d v%d, want onHand=%d allocated=%d available=%d v%d",
				w.loc, w.lot, r.OnHand, r.Allocated, r.Available(), r.Version, w.onHand, w.allocated, w.onHand-w.allocated, w.version)
		}
	}
}

// allocInvariants returns every violation of the invariants in s,
// for the item testItem and the allocations ids (every allocation the
// caller created, whatever became of it):
//
//   - every record: 0 ≤ allocated ≤ max(onHand, 0), available = onHand − allocated;
//   - every record's allocated is the sum of the active allocations' lines at it;
//   - an active allocation's lines are positive, one per record, of its lot
//     when it asks for one, and sum to confirmed − picked; confirmed +
//     backorder = requested (also once FULFILLED); CONFIRMED has no
//     backorder, PARTIAL has some; FULFILLED has picked = confirmed;
//   - a finished allocation (REJECTED, CANCELLED, EXPIRED, FULFILLED)
//     reserves nothing; REJECTED confirmed nothing;
//   - the history starts TENTATIVE and ends in the status, and Sequence
//     counts the published decisions (every history entry after the first);
//   - the active index holds exactly the active allocations, and the
//     expiry index exactly the active ones with an expiry.
func allocInvariants(s Reader, ids []string) []string {
	allocs := map[string]Allocation{}
	for _, id := range ids {
		a, ok, err := LookupAllocation(s, id)
		if err != nil || !ok {
			return []string{fmt.Sprintf("allocation %s: found=%v err=%v", id, ok, err)}
		}
		allocs[id] = a
	}
	return allocInvariantsOf(s, ids, allocs)
}

// allocInvariantsOf is allocInvariants with the allocations already loaded.
func allocInvariantsOf(s Reader, ids []string, allocs map[string]Allocation) []string {
	var bad []string
	badf := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	recs, err := Positions(s, testWH, testItem, nil, nil)
	if err != nil {
		return []string{err.Error()}
	}
	type rk struct{ loc, lot string }
	reserved := map[rk]int64{}
	active := map[string]bool{}
	withExpiry := map[string]bool{}
	for _, id := range ids {
		a, ok := allocs[id]
		if !ok {
			badf("allocation %s not found", id)
			continue
		}
		if a.Lines == nil {
			badf("%s: lines is null, not a list", id) // GET /v1/allocations shows "lines": [...]
		}
		var sum int64
		seen := map[rk]bool{}
		for _, l := range a.Lines {
			k := rk{l.LocationID, l.LotNumber}
			if l.Quantity <= 0 || seen[k] {
				badf("%s: line %+v (zero, negative or repeated) in %s", id, l, fmtLines(a.Lines))
			}
			if a.LotNumber != "" && l.LotNumber != a.LotNumber {
				badf("%s: asks for lot %q, reserves %+v", id, a.LotNumber, l)
			}
			seen[k] = true
			sum += l.Quantity
			if a.Active() && a.WarehouseID == testWH && a.ItemID == testItem {
				reserved[k] += l.Quantity
			}
		}
		if a.Active() && a.WarehouseID == testWH && a.ItemID == testItem {
			active[id] = true
			if a.ExpiresAt != nil {
				withExpiry[id] = true
			}
		}
		switch a.Status {
		case AllocConfirmed, AllocPartial, AllocFulfilled:
			if sum != a.ConfirmedQuantity-a.PickedQuantity {
				badf("%s %s: lines %s sum to %d, confirmed %d − picked %d = %d", id, a.Status, fmtLines(a.Lines), sum,
					a.ConfirmedQuantity, a.PickedQuantity, a.ConfirmedQuantity-a.PickedQuantity)
			}
			if a.ConfirmedQuantity+a.BackorderQuantity != a.RequestedQuantity {
				badf("%s %s: confirmed %d + backorder %d ≠ requested %d", id, a.Status, a.ConfirmedQuantity, a.BackorderQuantity, a.RequestedQuantity)
			}
			if a.PickedQuantity < 0 || a.PickedQuantity > a.ConfirmedQuantity || a.BackorderQuantity < 0 {
				badf("%s %s: picked %d confirmed %d backorder %d", id, a.Status, a.PickedQuantity, a.ConfirmedQuantity, a.BackorderQuantity)
			}
			if a.Status == AllocConfirmed && a.BackorderQuantity != 0 {
				badf("%s CONFIRMED with backorder %d", id, a.BackorderQuantity)
			}
			if a.Status == AllocPartial && a.BackorderQuantity == 0 {
				badf("%s PARTIAL without a backorder", id)
			}
			if a.Status == AllocFulfilled && (a.PickedQuantity != a.ConfirmedQuantity || len(a.Lines) != 0) {
				badf("%s FULFILLED: picked %d of %d, lines %s", id, a.PickedQuantity, a.ConfirmedQuantity, fmtLines(a.Lines))
			}
		case AllocRejected:
			if len(a.Lines) != 0 || a.ConfirmedQuantity != 0 || a.PickedQuantity != 0 || a.Reason == "" {
				badf("%s REJECTED %q: confirmed %d picked %d lines %s", id, a.Reason, a.ConfirmedQuantity, a.PickedQuantity, fmtLines(a.Lines))
			}
		case AllocCancelled, AllocExpired:
			if len(a.Lines) != 0 {
				badf("%s %s still holds lines %s", id, a.Status, fmtLines(a.Lines))
			}
		default:
			badf("%s: status %q", id, a.Status)
		}
		if len(a.History) == 0 || a.History[0].Status != AllocTentative || a.History[len(a.History)-1].Status != a.Status {
			badf("%s %s: history %+v", id, a.Status, a.History)
		}
		if a.Sequence != int64(len(a.History)-1) {
			badf("%s: sequence %d, %d decisions in its history", id, a.Sequence, len(a.History)-1)
		}
	}
	for _, r := range recs {
		k := rk{r.LocationID, r.LotNumber}
		if r.Allocated < 0 || r.Allocated > max(r.OnHand, 0) {
			badf("record %s/%q: allocated %d, onHand %d", r.LocationID, r.LotNumber, r.Allocated, r.OnHand)
		}
		if r.Allocated != reserved[k] {
			badf("record %s/%q: allocated %d, the active allocations reserve %d there", r.LocationID, r.LotNumber, r.Allocated, reserved[k])
		}
		delete(reserved, k)
	}
	for k, q := range reserved {
		badf("active allocations reserve %d at %s/%q, which has no record", q, k.loc, k.lot)
	}
	prefix := activePrefix(testWH, testItem)
	indexed := map[string]bool{}
	if err := s.Scan(prefix, PrefixEnd(prefix), func(k, _ []byte) error {
		indexed[string(k[len(prefix)+8:])] = true
		return nil
	}); err != nil {
		badf("scanning the active index: %v", err)
	}
	if fmt.Sprint(indexed) != fmt.Sprint(active) {
		badf("active index %v, active allocations %v", indexed, active)
	}
	expiring := map[string]bool{}
	if err := s.Scan([]byte{tagAllocExpiry}, []byte{tagAllocExpiry + 1}, func(k, v []byte) error {
		if string(v) != testWH+"\x00"+testItem {
			return nil // another stock key's
		}
		expiring[string(k[9:])] = true
		return nil
	}); err != nil {
		badf("scanning the expiry index: %v", err)
	}
	if fmt.Sprint(expiring) != fmt.Sprint(withExpiry) {
		badf("expiry index %v, active allocations with an expiry %v", expiring, withExpiry)
	}
	return bad
}

func checkInvariants(t testing.TB, s Reader, ids ...string) {
	t.Helper()
	for _, b := range allocInvariants(s, ids) {
		t.Error(b)
	}
}

// allocJSON is an allocation's stored form, for comparing whole states.
func allocJSON(a Allocation) string {
	b, _ := json.Marshal(a)
	return string(b)
}

// checkDecisions checks that decs (one step's published decisions) are
// exactly the changes from before to the state in s: each changed
// allocation has as many decisions as its Sequence grew, with consecutive
// Sequence numbers, the last one equal to its stored state; an unchanged
// one has none.
func checkDecisions(t testing.TB, s Reader, before map[string]Allocation, ids []string, decs []Allocation) {
	t.Helper()
	for _, msg := range decisionProblems(s, before, ids, decs) {
		t.Error(msg)
	}
}

func decisionProblems(s Reader, before map[string]Allocation, ids []string, decs []Allocation) []string {
	after := map[string]Allocation{}
	for _, id := range ids {
		if a, ok, err := LookupAllocation(s, id); err == nil && ok {
			after[id] = a
		}
	}
	return decisionProblemsOf(before, after, ids, decs)
}

// decisionProblemsOf is decisionProblems with the allocations after the
// step already loaded.
func decisionProblemsOf(before, after map[string]Allocation, ids []string, decs []Allocation) []string {
	var bad []string
	byID := map[string][]Allocation{}
	for _, d := range decs {
		byID[d.AllocationID] = append(byID[d.AllocationID], d)
	}
	for _, id := range ids {
		a, ok := after[id]
		if !ok {
			continue
		}
		b, existed := before[id]
		ds := byID[id]
		delete(byID, id)
		if existed && allocJSON(a) == allocJSON(b) {
			if len(ds) != 0 {
				bad = append(bad, fmt.Sprintf("%s unchanged, yet %d decisions published", id, len(ds)))
			}
			continue
		}
		if len(ds) == 0 {
			bad = append(bad, fmt.Sprintf("%s changed (%s -> %s) without a decision", id, allocJSON(b), allocJSON(a)))
			continue
		}
		if want := a.Sequence - b.Sequence; int64(len(ds)) != want {
			bad = append(bad, fmt.Sprintf("%s: %d decisions published, its sequence went %d -> %d", id, len(ds), b.Sequence, a.Sequence))
		}
		for i, d := range ds {
			if d.Sequence != b.Sequence+int64(i)+1 {
				bad = append(bad, fmt.Sprintf("%s: decision %d has sequence %d, want %d", id, i, d.Sequence, b.Sequence+int64(i)+1))
			}
		}
		if got := allocJSON(ds[len(ds)-1]); got != allocJSON(a) {
			bad = append(bad, fmt.Sprintf("%s: last decision %s, stored %s", id, got, allocJSON(a)))
		}
	}
	for id := range byID {
		bad = append(bad, fmt.Sprintf("decision about %s, which the test never created", id))
	}
	return bad
}

// snapshotAllocs loads the allocations ids that exist in s.
func snapshotAllocs(t testing.TB, s Reader, ids []string) map[string]Allocation {
	t.Helper()
	out := map[string]Allocation{}
	for _, id := range ids {
		a, ok, err := LookupAllocation(s, id)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			out[id] = a
		}
	}
	return out
}

// allocWorld runs one story: it applies steps and checks the invariants
// and the decisions after each.
type allocWorld struct {
	t   *testing.T
	p   *Processor
	s   *memStore
	ids []string
	now time.Time
}

func newAllocWorld(t *testing.T) *allocWorld {
	return &allocWorld{t: t, p: New(Config{}), s: newMemStore(), now: t0.Add(time.Hour)}
}

func (w *allocWorld) tick() time.Time {
	w.now = w.now.Add(time.Second)
	return w.now
}

func (w *allocWorld) known(id string) {
	if !slices.Contains(w.ids, id) {
		w.ids = append(w.ids, id)
	}
}

func (w *allocWorld) allocate(req *AllocRequest) AllocResult {
	w.t.Helper()
	if req.Action == ActionAllocate {
		w.known(req.AllocationID)
	}
	before := snapshotAllocs(w.t, w.s, w.ids)
	res := mustAllocate(w.t, w.p, w.s, req, w.tick())
	checkDecisions(w.t, w.s, before, w.ids, res.Decisions)
	checkInvariants(w.t, w.s, w.ids...)
	return res
}

func (w *allocWorld) apply(tx *Transaction) Result {
	w.t.Helper()
	before := snapshotAllocs(w.t, w.s, w.ids)
	res := mustApply(w.t, w.p, w.s, tx, w.tick())
	if res.Outcome.Status == StatusApplied && !res.Duplicate {
		checkEvents(w.t, w.s, tx, res, w.now, tx.TransactionID)
	}
	checkDecisions(w.t, w.s, before, w.ids, res.Decisions)
	checkInvariants(w.t, w.s, w.ids...)
	return res
}

func (w *allocWorld) expire(now time.Time) []Allocation {
	w.t.Helper()
	before := snapshotAllocs(w.t, w.s, w.ids)
	w.now = now
	decs, _, err := w.p.Expire(w.s, now)
	if err != nil {
		w.t.Fatal(err)
	}
	checkDecisions(w.t, w.s, before, w.ids, decs)
	checkInvariants(w.t, w.s, w.ids...)
	return decs
}

// stock receives each quantity at its location (lot "" unless given as
// "loc/lot"), observed at t0−1m: one version per record.
func (w *allocWorld) stock(qty map[string]int64) {
	w.t.Helper()
	keys := make([]string, 0, len(qty))
	for k := range qty {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		loc, l, _ := strings.Cut(k, "/")
		w.apply(receipt("stock-"+k, -60, loc, qty[k], lot(l)))
	}
}

func sameHistory(a, b AllocHistory) bool {
	return a.At.Equal(b.At) && a.Status == b.Status && a.Reason == b.Reason
}

func decisionIDs(decs []Allocation) []string {
	return mapped(decs, func(d Allocation) string { return d.AllocationID + ":" + d.Status })
}

func TestAllocateConfirmsFromOneLocation(t *testing.T) {
	w := newAllocWorld(t)
	w.stock(map[string]int64{locA: 100})
	res := w.allocate(allocReq("ALLOC-1", 30))
	if res.Duplicate || res.Mismatch || res.Unknown {
		t.Fatalf("result %+v", res)
	}
	a := checkAlloc(t, w.s, "ALLOC-1", allocWant{status: AllocConfirmed, confirmed: 30, lines: "[A-05-02/=30]", seqNum: 1})
	if len(res.Decisions) != 1 || allocJSON(res.Decisions[0]) != allocJSON(a) || allocJSON(res.Allocation) != allocJSON(a) {
		t.Errorf("result %+v, want the stored allocation once as the decision", res)
	}
	wantHist := []AllocHistory{{At: t0, Status: AllocTentative}, {At: w.now, Status: AllocConfirmed}}
	if !slices.EqualFunc(a.History, wantHist, sameHistory) {
		t.Errorf("history %+v, want %+v", a.History, wantHist)
	}
	if a.RequestedQuantity != 30 || a.OrderID != "SO-ALLOC-1" || a.Seq != 1 || a.Reason != "" {
		t.Errorf("allocation %+v", a)
	}
	checkRecords(t, w.s, recWant{loc: locA, onHand: 100, allocated: 30, version: 2})
	if r := mustRecord(t, w.s, locA, ""); r.UpdatedAt != w.now.UnixMilli() {
		t.Errorf("updatedAt %d, want %d (the reservation changed the record)", r.UpdatedAt, w.now.UnixMilli())
	}
	got, err := OrderAllocations(w.s, "SO-ALLOC-1")
	if err != nil || len(got) != 1 || got[0].AllocationID != "ALLOC-1" {
		t.Errorf("OrderAllocations = %+v, %v", got, err)
	}
	// A second allocation sees only what is still available.
	w.allocate(allocReq("ALLOC-2", 70))
	checkAlloc(t, w.s, "ALLOC-2", allocWant{status: AllocConfirmed, confirmed: 70, lines: "[A-05-02/=70]", seqNum: 1})
	checkRecords(t, w.s, recWant{loc: locA, onHand: 100, allocated: 100, version: 3})
	w.allocate(allocReq("ALLOC-3", 1))
	checkAlloc(t, w.s, "ALLOC-3", allocWant{status: AllocRejected, reason: ReasonInsufficientStock, lines: "[]", seqNum: 1})
	if a3 := mustLookup(t, w.s, "ALLOC-3"); a3.Seq != 3 {
		t.Errorf("third allocation has seq %d, want 3", a3.Seq)
	}
}

func TestAllocatePicksLines(t *testing.T) {
	for _, c := range []struct {
		name  string
		stock map[string]int64
		req   *AllocRequest
		want  allocWant
		// versions of the records after, "loc/lot" -> version
		versions map[string]int64
	}{
		{
			name:     "fewest locations: one that holds it all",
			stock:    map[string]int64{locA: 10, locB: 50, locC: 30},
			req:      allocReq("X", 45),
			want:     allocWant{status: AllocConfirmed, confirmed: 45, lines: "[B-01-01/=45]"},
			versions: map[string]int64{locA: 1, locB: 2, locC: 1},
		},
		{
			name:     "across locations, largest available first",
			stock:    map[string]int64{locA: 10, locB: 50, locC: 30},
			req:      allocReq("X", 70),
			want:     allocWant{status: AllocConfirmed, confirmed: 70, lines: "[B-01-01/=50 C-02-03/=20]"},
			versions: map[string]int64{locA: 1, locB: 2, locC: 2},
		},
		{
			name:     "everything there is",
			stock:    map[string]int64{locA: 10, locB: 50, locC: 30},
			req:      allocReq("X", 90),
			want:     allocWant{status: AllocConfirmed, confirmed: 90, lines: "[A-05-02/=10 B-01-01/=50 C-02-03/=30]"},
			versions: map[string]int64{locA: 2, locB: 2, locC: 2},
		},
		{
			name:  "equal availability: location order",
			stock: map[string]int64{locA: 20, locB: 20},
			req:   allocReq("X", 30),
			want:  allocWant{status: AllocConfirmed, confirmed: 30, lines: "[A-05-02/=20 B-01-01/=10]"},
		},
		{
			name:  "preferred location first, even the smallest",
			stock: map[string]int64{locA: 10, locB: 50},
			req:   allocReq("X", 30, preferLoc(locA)),
			want:  allocWant{status: AllocConfirmed, confirmed: 30, lines: "[A-05-02/=10 B-01-01/=20]"},
		},
		{
			name:     "preferred location holds it all",
			stock:    map[string]int64{locA: 10, locB: 50},
			req:      allocReq("X", 5, preferLoc(locA)),
			want:     allocWant{status: AllocConfirmed, confirmed: 5, lines: "[A-05-02/=5]"},
			versions: map[string]int64{locA: 2, locB: 1},
		},
		{
			name:  "preferred location without stock",
			stock: map[string]int64{locA: 10, locB: 50},
			req:   allocReq("X", 5, preferLoc(locD)),
			want:  allocWant{status: AllocConfirmed, confirmed: 5, lines: "[B-01-01/=5]"},
		},
		{
			name:     "lot filter",
			stock:    map[string]int64{locA + "/L1": 10, locA + "/L2": 20, locB + "/L1": 15},
			req:      allocReq("X", 20, onlyLot("L1")),
			want:     allocWant{status: AllocConfirmed, confirmed: 20, lines: "[A-05-02/L1=5 B-01-01/L1=15]"},
			versions: map[string]int64{locA + "/L1": 2, locA + "/L2": 1, locB + "/L1": 2},
		},
		{
			name:     "lot filter, not enough of the lot",
			stock:    map[string]int64{locA + "/L1": 10, locA + "/L2": 20},
			req:      allocReq("X", 15, onlyLot("L1")),
			want:     allocWant{status: AllocRejected, reason: ReasonInsufficientStock, lines: "[]"},
			versions: map[string]int64{locA + "/L1": 1, locA + "/L2": 1},
		},
		{
			name:  "no lot asked: oldest lot first",
			stock: map[string]int64{locA + "/L2": 50, locB + "/L1": 15},
			req:   allocReq("X", 20),
			want:  allocWant{status: AllocConfirmed, confirmed: 20, lines: "[A-05-02/L2=5 B-01-01/L1=15]"},
		},
		{
			name:  "partial with allowPartial",
			stock: map[string]int64{locA: 40, locB: 20},
			req:   allocReq("X", 100, partialOK()),
			want:  allocWant{status: AllocPartial, reason: ReasonInsufficientStock, confirmed: 60, backorder: 40, lines: "[A-05-02/=40 B-01-01/=20]"},
		},
		{
			name:     "rejected without allowPartial: nothing reserved",
			stock:    map[string]int64{locA: 40, locB: 20},
			req:      allocReq("X", 100),
			want:     allocWant{status: AllocRejected, reason: ReasonInsufficientStock, lines: "[]"},
			versions: map[string]int64{locA: 1, locB: 1},
		},
		{
			name:  "nothing at all, allowPartial: rejected",
			stock: map[string]int64{},
			req:   allocReq("X", 1, partialOK()),
			want:  allocWant{status: AllocRejected, reason: ReasonInsufficientStock, lines: "[]"},
		},
		{
			name:  "negative onHand counts as none",
			stock: map[string]int64{locA: 10},
			req:   allocReq("X", 12, partialOK()),
			want:  allocWant{status: AllocPartial, reason: ReasonInsufficientStock, confirmed: 10, backorder: 2, lines: "[A-05-02/=10]"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newAllocWorld(t)
			w.stock(c.stock)
			if c.name == "negative onHand counts as none" {
				w.apply(pick("neg", 0, locB, 5))
			}
			before := allRecords(t, w.s)
			res := w.allocate(c.req)
			c.want.seqNum = 1
			a := checkAlloc(t, w.s, "X", c.want)
			if len(res.Decisions) != 1 || res.Decisions[0].Status != c.want.status {
				t.Errorf("decisions %v, want one %s", decisionIDs(res.Decisions), c.want.status)
			}
			if a.RequestedQuantity != c.req.Quantity {
				t.Errorf("requested %d, want %d", a.RequestedQuantity, c.req.Quantity)
			}
			if c.want.status == AllocRejected {
				if after := allRecords(t, w.s); fmtList(after) != fmtList(before) {
					t.Errorf("a rejection changed records:\n%v\n%v", before, after)
				}
			}
			for k, v := range c.versions {
				loc, l, _ := strings.Cut(k, "/")
				if r := mustRecord(t, w.s, loc, l); r.Version != v {
					t.Errorf("record %s version %d, want %d", k, r.Version, v)
				}
			}
		})
	}
}

func TestAllocateDuplicate(t *testing.T) {
	w := newAllocWorld(t)
	w.stock(map[string]int64{locA: 100})
	first := w.allocate(allocReq("ALLOC-1", 30))
	state := w.s.Dump()

	again := w.allocate(allocReq("ALLOC-1", 30))
	if !again.Duplicate || again.Mismatch || len(again.Decisions) != 0 || allocJSON(again.Allocation) != allocJSON(first.Allocation) {
		t.Errorf("same request again: %+v, want a duplicate with the current state and no decision", again)
	}
	if w.s.Dump() != state {
		t.Error("a duplicate changed the store")
	}
	other := w.allocate(allocReq("ALLOC-1", 60, partialOK()))
	if !other.Duplicate || !other.Mismatch || len(other.Decisions) != 0 || other.Allocation.RequestedQuantity != 30 {
		t.Errorf("a different body under the same id: %+v, want a mismatched duplicate", other)
	}
	if w.s.Dump() != state {
		t.Error("a mismatched duplicate changed the store")
	}
	checkRecords(t, w.s, recWant{loc: locA, onHand: 100, allocated: 30, version: 2})

	// Still a duplicate once finished: never a second reservation.
	w.allocate(cancelReq("ALLOC-1"))
	if res := w.allocate(allocReq("ALLOC-1", 30)); !res.Duplicate || res.Allocation.Status != AllocCancelled {
		t.Errorf("re-sent after cancel: %+v, want a duplicate that is CANCELLED", res)
	}
	checkRecords(t, w.s, recWant{loc: locA, onHand: 100, allocated: 0, version: 3})
}

func TestAllocationCancel(t *testing.T) {
	w := newAllocWorld(t)
	w.stock(map[string]int64{locA: 10, locB: 50})
	w.allocate(allocReq("ALLOC-1", 55))
	w.allocate(allocReq("ALLOC-2", 5))
	checkRecords(t, w.s, recWant{loc: locA, onHand: 10, allocated: 10, version: 3}, recWant{loc: locB, onHand: 50, allocated: 50, version: 2})

	res := w.allocate(cancelReq("ALLOC-1"))
	if res.Duplicate || res.Unknown || len(res.Decisions) != 1 {
		t.Fatalf("cancel: %+v", res)
	}
	a := checkAlloc(t, w.s, "ALLOC-1", allocWant{status: AllocCancelled, reason: ReasonCancelled, confirmed: 55, lines: "[]", seqNum: 2})
	if h := a.History[len(a.History)-1]; !sameHistory(h, AllocHistory{At: w.now, Status: AllocCancelled, Reason: ReasonCancelled}) {
		t.Errorf("last history entry %+v", h)
	}
	checkRecords(t, w.s, recWant{loc: locA, onHand: 10, allocated: 5, version: 4}, recWant{loc: locB, onHand: 50, allocated: 0, version: 3})
	checkAlloc(t, w.s, "ALLOC-2", allocWant{status: AllocConfirmed, confirmed: 5, lines: "[A-05-02/=5]", seqNum: 1})

	// Idempotent.
	state := w.s.Dump()
	if res := w.allocate(cancelReq("ALLOC-1")); !res.Duplicate || len(res.Decisions) != 0 || res.Allocation.Status != AllocCancelled {
		t.Errorf("second cancel: %+v, want a duplicate", res)
	}
	if w.s.Dump() != state {
		t.Error("a second cancel changed the store")
	}
	// Unknown.
	if res := w.allocate(cancelReq("NOPE")); !res.Unknown || len(res.Decisions) != 0 {
		t.Errorf("cancel of an unknown allocation: %+v, want Unknown", res)
	}
	if w.s.Dump() != state {
		t.Error("cancelling an unknown allocation changed the store")
	}
	if _, ok, _ := LookupAllocation(w.s, "NOPE"); ok {
		t.Error("cancelling an unknown allocation created it")
	}
	// A rejected allocation has nothing to release.
	w.allocate(allocReq("ALLOC-3", 1000))
	state = w.s.Dump()
	if res := w.allocate(cancelReq("ALLOC-3")); !res.Duplicate || res.Allocation.Status != AllocRejected {
		t.Errorf("cancel of a rejected allocation: %+v", res)
	}
	if w.s.Dump() != state {
		t.Error("cancelling a rejected allocation changed the store")
	}
	// The released stock can be allocated again.
	w.allocate(allocReq("ALLOC-4", 55))
	checkAlloc(t, w.s, "ALLOC-4", allocWant{status: AllocConfirmed, confirmed: 55, lines: "[A-05-02/=5 B-01-01/=50]"})
}

func TestPickAgainstAllocation(t *testing.T) {
	w := newAllocWorld(t)
	w.stock(map[string]int64{locA: 100, locB: 40})
	w.allocate(allocReq("ALLOC-1", 120)) // A 100, B 20
	checkRecords(t, w.s, recWant{loc: locA, onHand: 100, allocated: 100, version: 2}, recWant{loc: locB, onHand: 40, allocated: 20, version: 2})

	res := w.apply(pick("p1", 10, locB, 15, allocation("ALLOC-1")))
	if len(res.Outcome.Warnings) != 0 {
		t.Errorf("warnings %v", res.Outcome.Warnings)
	}
	a := checkAlloc(t, w.s, "ALLOC-1", allocWant{status: AllocConfirmed, confirmed: 120, picked: 15, lines: "[A-05-02/=100 B-01-01/=5]", seqNum: 2})
	if h := a.History[len(a.History)-1]; h.Status != AllocConfirmed || h.Reason != "PICKED" || !h.At.Equal(w.now) {
		t.Errorf("history after a pick %+v", h)
	}
	if len(res.Decisions) != 1 || res.Decisions[0].PickedQuantity != 15 {
		t.Errorf("decisions %+v, want one with pickedQuantity 15", res.Decisions)
	}
	checkRecords(t, w.s, recWant{loc: locB, onHand: 25, allocated: 5, version: 3})
	if e := res.Events[0]; e.Allocated != 5 || e.Available != 20 || e.AllocationID != "ALLOC-1" {
		t.Errorf("event %+v", e)
	}

	// The rest at B, then all of A: FULFILLED.
	w.apply(pick("p2", 11, locB, 5, allocation("ALLOC-1")))
	checkAlloc(t, w.s, "ALLOC-1", allocWant{status: AllocConfirmed, confirmed: 120, picked: 20, lines: "[A-05-02/=100]", seqNum: 3})
	res = w.apply(pick("p3", 12, locA, 100, allocation("ALLOC-1")))
	checkAlloc(t, w.s, "ALLOC-1", allocWant{status: AllocFulfilled, confirmed: 120, picked: 120, lines: "[]", seqNum: 4})
	if len(res.Decisions) != 1 || res.Decisions[0].Status != AllocFulfilled {
		t.Errorf("decisions %v, want FULFILLED", decisionIDs(res.Decisions))
	}
	checkRecords(t, w.s, recWant{loc: locA, onHand: 0, allocated: 0, version: 3}, recWant{loc: locB, onHand: 20, allocated: 0, version: 4})

	// Picking against it again is a plain pick.
	res = w.apply(pick("p4", 13, locB, 1, allocation("ALLOC-1")))
	if !slices.Equal(res.Outcome.Warnings, []string{WarnAllocationNotActive}) || len(res.Decisions) != 0 {
		t.Errorf("pick against a FULFILLED allocation: warnings %v decisions %v", res.Outcome.Warnings, decisionIDs(res.Decisions))
	}
	checkRecords(t, w.s, recWant{loc: locB, onHand: 19, allocated: 0, version: 5})

	// Re-delivering a pick changes nothing.
	state := w.s.Dump()
	if res := w.apply(pick("p1", 10, locB, 15, allocation("ALLOC-1"))); !res.Duplicate || len(res.Decisions) != 0 {
		t.Errorf("re-delivered pick: %+v", res)
	}
	if w.s.Dump() != state {
		t.Error("a re-delivered pick changed the store")
	}
}

func TestPickAgainstAllocationWarnings(t *testing.T) {
	w := newAllocWorld(t)
	w.stock(map[string]int64{locA: 50, locB: 50})
	w.allocate(allocReq("ALLOC-1", 10, preferLoc(locA)))
	for _, c := range []struct {
		name string
		tx   *Transaction
	}{
		{"unknown allocation", pick("p-unknown", 10, locA, 1, allocation("NOPE"))},
		{"no reservation at the picked location", pick("p-elsewhere", 11, locB, 1, allocation("ALLOC-1"))},
		{"another item", pick("p-item", 12, locA, 1, allocation("ALLOC-1"), item("ITEM-OTHER"))},
		{"another lot", pick("p-lot", 13, locA, 1, allocation("ALLOC-1"), lot("L9"))},
	} {
		res := w.apply(c.tx)
		if res.Outcome.Status != StatusApplied || !slices.Contains(res.Outcome.Warnings, WarnAllocationNotActive) || len(res.Decisions) != 0 {
			t.Errorf("%s: status %s warnings %v decisions %v, want applied with [%s]", c.name,
				res.Outcome.Status, res.Outcome.Warnings, decisionIDs(res.Decisions), WarnAllocationNotActive)
		}
	}
	checkAlloc(t, w.s, "ALLOC-1", allocWant{status: AllocConfirmed, confirmed: 10, lines: "[A-05-02/=10]", seqNum: 1})
	checkRecords(t, w.s, recWant{loc: locA, onHand: 49, allocated: 10, version: 3}, recWant{loc: locB, onHand: 49, allocated: 0, version: 2})
	// Cancelled: a plain pick too.
	w.allocate(cancelReq("ALLOC-1"))
	if res := w.apply(pick("p-cancelled", 14, locA, 1, allocation("ALLOC-1"))); !slices.Equal(res.Outcome.Warnings, []string{WarnAllocationNotActive}) {
		t.Errorf("pick against a cancelled allocation: warnings %v", res.Outcome.Warnings)
	}
}

func TestPickLargerThanReservation(t *testing.T) {
	t.Run("excess from free stock", func(t *testing.T) {
		w := newAllocWorld(t)
		w.stock(map[string]int64{locA: 40})
		w.allocate(allocReq("X", 10))
		res := w.apply(pick("p1", 10, locA, 25, allocation("X")))
		checkAlloc(t, w.s, "X", allocWant{status: AllocFulfilled, confirmed: 10, picked: 10, lines: "[]", seqNum: 2})
		checkRecords(t, w.s, recWant{loc: locA, onHand: 15, allocated: 0, version: 3})
		if len(res.Outcome.Warnings) != 0 {
			t.Errorf("warnings %v", res.Outcome.Warnings)
		}
	})
	t.Run("excess eats another allocation, nothing elsewhere", func(t *testing.T) {
		w := newAllocWorld(t)
		w.stock(map[string]int64{locA: 40})
		w.allocate(allocReq("X", 10))
		w.allocate(allocReq("Y", 25))
		res := w.apply(pick("p1", 10, locA, 20, allocation("X")))
		if got := decisionIDs(res.Decisions); !slices.Equal(got, []string{"X:FULFILLED", "Y:PARTIAL"}) {
			t.Errorf("decisions %v", got)
		}
		checkAlloc(t, w.s, "X", allocWant{status: AllocFulfilled, confirmed: 10, picked: 10, lines: "[]", seqNum: 2})
		checkAlloc(t, w.s, "Y", allocWant{status: AllocPartial, reason: ReasonShortfall, confirmed: 20, backorder: 5, lines: "[A-05-02/=20]", seqNum: 2})
		checkRecords(t, w.s, recWant{loc: locA, onHand: 20, allocated: 20, version: 4})
		if e := res.Events[0]; e.Allocated != 20 || e.Available != 0 {
			t.Errorf("event allocated=%d available=%d, want 20 and 0", e.Allocated, e.Available)
		}
	})
	t.Run("excess eats another allocation, re-reserved elsewhere", func(t *testing.T) {
		w := newAllocWorld(t)
		w.stock(map[string]int64{locA: 40, locB: 10})
		w.allocate(allocReq("X", 10, preferLoc(locA)))
		w.allocate(allocReq("Y", 25, preferLoc(locA)))
		w.apply(pick("p1", 10, locA, 20, allocation("X")))
		checkAlloc(t, w.s, "Y", allocWant{status: AllocConfirmed, reason: ReasonShortfall, confirmed: 25, lines: "[A-05-02/=20 B-01-01/=5]", seqNum: 2})
		checkRecords(t, w.s, recWant{loc: locA, onHand: 20, allocated: 20, version: 4}, recWant{loc: locB, onHand: 10, allocated: 5, version: 2})
	})
	t.Run("pick of a partial allocation's whole confirmed quantity", func(t *testing.T) {
		w := newAllocWorld(t)
		w.stock(map[string]int64{locA: 10})
		w.allocate(allocReq("X", 15, partialOK()))
		w.apply(pick("p1", 10, locA, 10, allocation("X")))
		// The backorder is still owed: not FULFILLED.
		checkAlloc(t, w.s, "X", allocWant{status: AllocPartial, reason: ReasonInsufficientStock, confirmed: 10, backorder: 5, picked: 10, lines: "[]", seqNum: 2})
	})
}

func TestShortfallReReservedElsewhere(t *testing.T) {
	w := newAllocWorld(t)
	w.stock(map[string]int64{locA: 100, locB: 50, locC: 5})
	w.allocate(allocReq("X", 80)) // A 80
	res := w.apply(count("c1", 10, locA, 60))
	if got := decisionIDs(res.Decisions); !slices.Equal(got, []string{"X:CONFIRMED"}) {
		t.Fatalf("decisions %v, want X CONFIRMED", got)
	}
	a := checkAlloc(t, w.s, "X", allocWant{status: AllocConfirmed, reason: ReasonShortfall, confirmed: 80, lines: "[A-05-02/=60 B-01-01/=20]", seqNum: 2})
	if h := a.History[len(a.History)-1]; !sameHistory(h, AllocHistory{At: w.now, Status: AllocConfirmed, Reason: ReasonShortfall}) {
		t.Errorf("last history entry %+v", h)
	}
	checkRecords(t, w.s,
		recWant{loc: locA, onHand: 60, allocated: 60, version: 3},
		recWant{loc: locB, onHand: 50, allocated: 20, version: 2},
		recWant{loc: locC, onHand: 5, allocated: 0, version: 1})
	if e := res.Events[0]; e.ResultingOnHand != 60 || e.Allocated != 60 || e.Available != 0 || e.QuantityChange != -40 {
		t.Errorf("count event %+v", e)
	}
	// A negative adjustment does the same, across two records, using up
	// everything free.
	w.apply(adjust("a1", 11, locA, -35))
	checkAlloc(t, w.s, "X", allocWant{status: AllocConfirmed, reason: ReasonShortfall, confirmed: 80, lines: "[A-05-02/=25 B-01-01/=50 C-02-03/=5]", seqNum: 3})
	checkRecords(t, w.s,
		recWant{loc: locA, onHand: 25, allocated: 25, version: 4},
		recWant{loc: locB, onHand: 50, allocated: 50, version: 3},
		recWant{loc: locC, onHand: 5, allocated: 5, version: 2})
	// A pick without an allocation, below zero: nothing free, so what was
	// reserved at A becomes backorder.
	res = w.apply(pick("p1", 12, locA, 30))
	checkAlloc(t, w.s, "X", allocWant{status: AllocPartial, reason: ReasonShortfall, confirmed: 55, backorder: 25, lines: "[B-01-01/=50 C-02-03/=5]", seqNum: 4})
	checkRecords(t, w.s, recWant{loc: locA, onHand: -5, allocated: 0, version: 5})
	if !slices.Equal(res.Outcome.Warnings, []string{WarnNegativeOnHand}) {
		t.Errorf("warnings %v", res.Outcome.Warnings)
	}
	// A later receipt does not bring the backorder back (nothing asks it to).
	w.apply(receipt("r1", 13, locA, 100))
	checkAlloc(t, w.s, "X", allocWant{status: AllocPartial, reason: ReasonShortfall, confirmed: 55, backorder: 25, lines: "[B-01-01/=50 C-02-03/=5]", seqNum: 4})
}

func TestShortfallPreferredLocationFirst(t *testing.T) {
	w := newAllocWorld(t)
	w.stock(map[string]int64{locA: 30, locB: 50, locC: 10})
	w.allocate(allocReq("X", 40, preferLoc(locC))) // C 10, B 30
	w.apply(count("c1", 10, locB, 20))             // B short 10: re-reserved at A (C is full)
	checkAlloc(t, w.s, "X", allocWant{status: AllocConfirmed, reason: ReasonShortfall, confirmed: 40, lines: "[A-05-02/=10 B-01-01/=20 C-02-03/=10]", seqNum: 2})
}

func TestShortfallNewestAllocationFirst(t *testing.T) {
	w := newAllocWorld(t)
	w.stock(map[string]int64{locA: 100})
	w.allocate(allocReq("OLD", 50))
	w.allocate(allocReq("NEW", 40))
	res := w.apply(count("c1", 10, locA, 70))
	if got := decisionIDs(res.Decisions); !slices.Equal(got, []string{"NEW:PARTIAL"}) {
		t.Errorf("decisions %v, want only NEW PARTIAL", got)
	}
	checkAlloc(t, w.s, "NEW", allocWant{status: AllocPartial, reason: ReasonShortfall, confirmed: 20, backorder: 20, lines: "[A-05-02/=20]", seqNum: 2})
	checkAlloc(t, w.s, "OLD", allocWant{status: AllocConfirmed, confirmed: 50, lines: "[A-05-02/=50]", seqNum: 1})
	checkRecords(t, w.s, recWant{loc: locA, onHand: 70, allocated: 70, version: 4})

	res = w.apply(count("c2", 11, locA, 30))
	if got := decisionIDs(res.Decisions); !slices.Equal(got, []string{"NEW:PARTIAL", "OLD:PARTIAL"}) {
		t.Errorf("decisions %v, want NEW then OLD", got)
	}
	checkAlloc(t, w.s, "NEW", allocWant{status: AllocPartial, reason: ReasonShortfall, confirmed: 0, backorder: 40, lines: "[]", seqNum: 3})
	checkAlloc(t, w.s, "OLD", allocWant{status: AllocPartial, reason: ReasonShortfall, confirmed: 30, backorder: 20, lines: "[A-05-02/=30]", seqNum: 2})
	checkRecords(t, w.s, recWant{loc: locA, onHand: 30, allocated: 30, version: 5})
}

// TestShortfallPartlyCovered: short 20 with 5 free elsewhere, so 15 are
// backordered, from the newest allocation first. Which allocation's line
// moves to the free 5 is the processor's choice; the backorders are the
// rule.
func TestShortfallPartlyCovered(t *testing.T) {
	for _, c := range []struct {
		name             string
		old, new         int64
		oldBack, newBack int64
	}{
		{"the newest holds enough to take it all", 50, 50, 0, 15},
		{"the newest holds less than the backorder", 20, 3, 12, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newAllocWorld(t)
			w.stock(map[string]int64{locA: c.old + c.new, locB: 5})
			w.allocate(allocReq("OLD", c.old, preferLoc(locA)))
			w.allocate(allocReq("NEW", c.new, preferLoc(locA)))
			w.apply(count("c1", 10, locA, c.old+c.new-20))
			for _, x := range []struct {
				id        string
				qty, back int64
			}{{"OLD", c.old, c.oldBack}, {"NEW", c.new, c.newBack}} {
				a := mustLookup(t, w.s, x.id)
				wantStatus := AllocConfirmed
				if x.back > 0 {
					wantStatus = AllocPartial
				}
				if a.BackorderQuantity != x.back || a.ConfirmedQuantity != x.qty-x.back || a.Status != wantStatus {
					t.Errorf("%s: %s confirmed %d backorder %d, want %s backorder %d", x.id, a.Status, a.ConfirmedQuantity,
						a.BackorderQuantity, wantStatus, x.back)
				}
			}
			checkRecords(t, w.s,
				recWant{loc: locA, onHand: c.old + c.new - 20, allocated: c.old + c.new - 20, version: 4},
				recWant{loc: locB, onHand: 5, allocated: 5, version: 2})
		})
	}
}

func TestShortfallOfAMove(t *testing.T) {
	t.Run("re-reserved at a third location", func(t *testing.T) {
		w := newAllocWorld(t)
		w.stock(map[string]int64{locA: 50, locC: 30})
		w.allocate(allocReq("X", 50, preferLoc(locA)))
		w.apply(move("m1", 10, locA, locB, 20))
		checkAlloc(t, w.s, "X", allocWant{status: AllocConfirmed, reason: ReasonShortfall, confirmed: 50, lines: "[A-05-02/=30 C-02-03/=20]", seqNum: 2})
	})
	t.Run("destination already had free stock", func(t *testing.T) {
		w := newAllocWorld(t)
		w.stock(map[string]int64{locA: 50, locB: 20})
		w.allocate(allocReq("X", 50, preferLoc(locA)))
		res := w.apply(move("m1", 10, locA, locB, 20))
		checkAlloc(t, w.s, "X", allocWant{status: AllocConfirmed, reason: ReasonShortfall, confirmed: 50, lines: "[A-05-02/=30 B-01-01/=20]", seqNum: 2})
		checkRecords(t, w.s, recWant{loc: locA, onHand: 30, allocated: 30, version: 3}, recWant{loc: locB, onHand: 40, allocated: 20, version: 3})
		if e := res.Events[1]; e.Allocated != 20 || e.Available != 20 {
			t.Errorf("destination event %+v", e)
		}
	})
}

// TestShortfallOfAMoveFollowsTheStock: moving reserved stock from A to an
// empty B leaves the warehouse with the same stock, so the reservation must
// follow it to B, not become a backorder: the shortfall of the MOVE's first
// leg is resolved only once its second leg has added the stock at B.
func TestShortfallOfAMoveFollowsTheStock(t *testing.T) {
	w := newAllocWorld(t)
	w.stock(map[string]int64{locA: 50})
	w.allocate(allocReq("X", 50))
	res := w.apply(move("m1", 10, locA, locB, 20))
	checkAlloc(t, w.s, "X", allocWant{status: AllocConfirmed, reason: ReasonShortfall, confirmed: 50, lines: "[A-05-02/=30 B-01-01/=20]", seqNum: 2})
	checkRecords(t, w.s, recWant{loc: locA, onHand: 30, allocated: 30, version: 3})
	if r := mustRecord(t, w.s, locB, ""); r.OnHand != 20 || r.Allocated != 20 {
		t.Errorf("destination onHand=%d allocated=%d, want 20 and 20", r.OnHand, r.Allocated)
	}
	if len(res.Decisions) != 1 {
		t.Errorf("decisions %v, want one", decisionIDs(res.Decisions))
	}
}

// TestShortfallCoveredByMovingAnOlderAllocation: the shortfall at A/L1 can
// be covered from B/L2 by the older allocation, which takes any lot; only
// the newer one is bound to L1. The issue: "re-reserve the difference from
// other locations ...; what cannot be covered comes off the newest
// allocations first". Nothing needs backordering here: the newest
// allocation cannot move, but the older one can, and must, before anything
// is backordered.
func TestShortfallCoveredByMovingAnOlderAllocation(t *testing.T) {
	w := newAllocWorld(t)
	w.stock(map[string]int64{locA + "/L1": 10, locB + "/L2": 5})
	w.allocate(allocReq("OLD", 5, preferLoc(locA))) // A/L1 5
	w.allocate(allocReq("NEW", 5, onlyLot("L1")))   // A/L1 5
	checkRecords(t, w.s, recWant{loc: locA, lot: "L1", onHand: 10, allocated: 10, version: 3})
	w.apply(count("c1", 10, locA, 5, lot("L1")))
	var back int64
	for _, id := range []string{"OLD", "NEW"} {
		back += mustLookup(t, w.s, id).BackorderQuantity
	}
	if back != 0 {
		t.Errorf("backorder %d after a shortfall of 5 with 5 free at B/L2 usable by OLD; OLD=%s NEW=%s",
			back, fmtLines(mustLookup(t, w.s, "OLD").Lines), fmtLines(mustLookup(t, w.s, "NEW").Lines))
	}
}

// TestShortfallLotBoundAllocationKeepsItsLot: A/L1 empties under two
// allocations: OLD takes any lot, NEW only L1. B/L1 and C/L2 have 5 free
// each, enough for both: NEW to B/L1, OLD to C/L2. Moving the oldest first
// without regard to lots sends OLD to B/L1 (the oldest lot) and leaves NEW
// nowhere to go: a backorder of 5 that could have been covered.
func TestShortfallLotBoundAllocationKeepsItsLot(t *testing.T) {
	w := newAllocWorld(t)
	w.stock(map[string]int64{locA + "/L1": 10, locB + "/L1": 5, locC + "/L2": 5})
	w.allocate(allocReq("OLD", 5, preferLoc(locA)))                // A/L1 5
	w.allocate(allocReq("NEW", 5, onlyLot("L1"), preferLoc(locA))) // A/L1 5
	checkRecords(t, w.s, recWant{loc: locA, lot: "L1", onHand: 10, allocated: 10, version: 3})
	w.apply(count("c1", 10, locA, 0, lot("L1")))
	checkAlloc(t, w.s, "NEW", allocWant{status: AllocConfirmed, reason: ReasonShortfall, confirmed: 5, lines: "[B-01-01/L1=5]", seqNum: 2})
	checkAlloc(t, w.s, "OLD", allocWant{status: AllocConfirmed, reason: ReasonShortfall, confirmed: 5, lines: "[C-02-03/L2=5]", seqNum: 2})
}

func TestShortfallWithLots(t *testing.T) {
	w := newAllocWorld(t)
	w.stock(map[string]int64{locA + "/L1": 20, locB + "/L1": 10, locB + "/L2": 50})
	w.allocate(allocReq("X", 20, onlyLot("L1"), preferLoc(locA))) // A/L1 20
	w.apply(count("c1", 10, locA, 5, lot("L1")))                  // short 15: 10 from B/L1, 5 backordered
	checkAlloc(t, w.s, "X", allocWant{status: AllocPartial, reason: ReasonShortfall, confirmed: 15, backorder: 5, lines: "[A-05-02/L1=5 B-01-01/L1=10]", seqNum: 2})
	// Without a lot asked, any lot covers.
	w.allocate(allocReq("Y", 40, preferLoc(locB)))  // B/L2 40
	w.apply(adjust("a1", 11, locB, -30, lot("L2"))) // B/L2 20, short 20: nothing free elsewhere
	checkAlloc(t, w.s, "Y", allocWant{status: AllocPartial, reason: ReasonShortfall, confirmed: 20, backorder: 20, lines: "[B-01-01/L2=20]", seqNum: 2})
}

func TestAllocationExpire(t *testing.T) {
	w := newAllocWorld(t)
	w.stock(map[string]int64{locA: 100})
	base := w.now
	w.allocate(allocReq("SOON", 10, expiresAt(base.Add(10*time.Second))))
	w.allocate(allocReq("LATER", 20, expiresAt(base.Add(time.Hour))))
	w.allocate(allocReq("NEVER", 30))
	w.allocate(allocReq("PICKED", 5, expiresAt(base.Add(5*time.Second))))
	w.apply(pick("p1", 10, locA, 5, allocation("PICKED")))
	checkAlloc(t, w.s, "PICKED", allocWant{status: AllocFulfilled, confirmed: 5, picked: 5, lines: "[]"})
	w.allocate(allocReq("REJECTED", 1000, expiresAt(base.Add(5*time.Second))))

	if decs := w.expire(base.Add(9 * time.Second)); len(decs) != 0 {
		t.Errorf("expired %v before anything was due", decisionIDs(decs))
	}
	decs := w.expire(base.Add(10 * time.Second)) // due exactly now
	if got := decisionIDs(decs); !slices.Equal(got, []string{"SOON:EXPIRED"}) {
		t.Errorf("expired %v, want SOON", got)
	}
	checkAlloc(t, w.s, "SOON", allocWant{status: AllocExpired, reason: ReasonExpired, confirmed: 10, lines: "[]", seqNum: 2})
	checkRecords(t, w.s, recWant{loc: locA, onHand: 95, allocated: 50, version: 7})
	state := w.s.Dump()
	if decs := w.expire(base.Add(11 * time.Second)); len(decs) != 0 {
		t.Errorf("expired %v again", decisionIDs(decs))
	}
	if w.s.Dump() != state {
		t.Error("a second Expire changed the store")
	}
	if got := decisionIDs(w.expire(base.Add(2 * time.Hour))); !slices.Equal(got, []string{"LATER:EXPIRED"}) {
		t.Errorf("expired %v, want LATER", got)
	}
	checkAlloc(t, w.s, "NEVER", allocWant{status: AllocConfirmed, confirmed: 30, lines: "[A-05-02/=30]", seqNum: 1})
	checkRecords(t, w.s, recWant{loc: locA, onHand: 95, allocated: 30, version: 8})
	// Cancel after expiry: nothing to do.
	if res := w.allocate(cancelReq("SOON")); !res.Duplicate || res.Allocation.Status != AllocExpired {
		t.Errorf("cancel after expiry: %+v", res)
	}
}

// TestAllocationStory is the story's case in both arrival orders: 100 on
// hand, an allocation of 100 requested at 10:00:00, a count of 95 at
// 10:00:02.
func TestAllocationStory(t *testing.T) {
	for _, c := range []struct {
		name       string
		countFirst bool
		partial    bool
		want       allocWant
	}{
		{"allocation first, allowPartial", false, true,
			allocWant{status: AllocPartial, reason: ReasonShortfall, confirmed: 95, backorder: 5, lines: "[A-05-02/=95]", seqNum: 2}},
		{"count first, allowPartial", true, true,
			allocWant{status: AllocPartial, reason: ReasonInsufficientStock, confirmed: 95, backorder: 5, lines: "[A-05-02/=95]", seqNum: 1}},
		{"count first, no partial", true, false,
			allocWant{status: AllocRejected, reason: ReasonInsufficientStock, lines: "[]", seqNum: 1}},
		// A shortfall after confirmation backorders whatever allowPartial said.
		{"allocation first, no partial", false, false,
			allocWant{status: AllocPartial, reason: ReasonShortfall, confirmed: 95, backorder: 5, lines: "[A-05-02/=95]", seqNum: 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newAllocWorld(t)
			w.apply(receipt("r0", -3600, locA, 100))
			var opts []allocOpt
			if c.partial {
				opts = append(opts, partialOK())
			}
			req := allocReq("ALLOC-1", 100, opts...)
			cnt := count("c95", 2, locA, 95)
			var decs []Allocation
			if c.countFirst {
				decs = append(decs, w.apply(cnt).Decisions...)
				decs = append(decs, w.allocate(req).Decisions...)
			} else {
				decs = append(decs, w.allocate(req).Decisions...)
				checkAlloc(t, w.s, "ALLOC-1", allocWant{status: AllocConfirmed, confirmed: 100, lines: "[A-05-02/=100]", seqNum: 1})
				decs = append(decs, w.apply(cnt).Decisions...)
			}
			a := checkAlloc(t, w.s, "ALLOC-1", c.want)
			if len(decs) != int(c.want.seqNum) || allocJSON(decs[len(decs)-1]) != allocJSON(a) {
				t.Errorf("decisions %v", decisionIDs(decs))
			}
			version := int64(3) // the receipt, the count, the reservation
			if c.want.status == AllocRejected {
				version = 2
			}
			checkRecords(t, w.s, recWant{loc: locA, onHand: 95, allocated: c.want.confirmed, version: version})
			if !c.countFirst {
				statuses := []string{}
				for _, h := range a.History {
					statuses = append(statuses, h.Status+"/"+h.Reason)
				}
				if want := []string{"TENTATIVE/", "CONFIRMED/", "PARTIAL/SHORTFALL"}; !slices.Equal(statuses, want) {
					t.Errorf("history %v, want %v", statuses, want)
				}
			}
		})
	}
}

// TestAllocationStoryLateCount: the count of 95 at 10:00:02 arrives after a
// pick of 10 at 10:00:05 against the allocation: the count rebases onto the
// pick (onHand 85), and the allocation keeps what is still there.
func TestAllocationStoryLateCount(t *testing.T) {
	w := newAllocWorld(t)
	w.apply(receipt("r0", -3600, locA, 100))
	w.allocate(allocReq("ALLOC-1", 100, partialOK()))
	w.apply(pick("p10", 5, locA, 10, allocation("ALLOC-1")))
	checkAlloc(t, w.s, "ALLOC-1", allocWant{status: AllocConfirmed, confirmed: 100, picked: 10, lines: "[A-05-02/=90]", seqNum: 2})
	w.apply(count("c95", 2, locA, 95))
	checkAlloc(t, w.s, "ALLOC-1", allocWant{status: AllocPartial, reason: ReasonShortfall, confirmed: 95, backorder: 5, picked: 10, lines: "[A-05-02/=85]", seqNum: 3})
	checkRecords(t, w.s, recWant{loc: locA, onHand: 85, allocated: 85, version: 4})
}

func TestAllocationsOfOtherItemsAreSeparate(t *testing.T) {
	w := newAllocWorld(t)
	w.stock(map[string]int64{locA: 10})
	w.apply(receipt("other", 0, locA, 10, item("ITEM-OTHER")))
	w.allocate(allocReq("X", 10))
	other := allocReq("Y", 10)
	other.ItemID = "ITEM-OTHER"
	other.BodyHash = other.Hash()
	w.allocate(other)
	if a := mustLookup(t, w.s, "Y"); a.Seq != 1 || a.Status != AllocConfirmed {
		t.Errorf("Y = %+v, want seq 1 (its own stock key) CONFIRMED", a)
	}
	// A shortfall of the other item leaves X alone.
	res := w.apply(count("c-other", 1, locA, 0, item("ITEM-OTHER")))
	if got := decisionIDs(res.Decisions); !slices.Equal(got, []string{"Y:PARTIAL"}) {
		t.Errorf("decisions %v, want Y only", got)
	}
	checkAlloc(t, w.s, "X", allocWant{status: AllocConfirmed, confirmed: 10, lines: "[A-05-02/=10]", seqNum: 1})
}

// TestAllocationReportsStoreErrors fails each store operation of every
// allocation path in turn: allocate, cancel, expire, a pick against an
// allocation and a shortfall. Each must return the store's error, so the
// caller discards the batch.
func TestAllocationReportsStoreErrors(t *testing.T) {
	p := New(Config{})
	w := newAllocWorld(t)
	w.stock(map[string]int64{locA: 50, locB: 30, locC: 10})
	w.allocate(allocReq("X", 40, preferLoc(locA), expiresAt(w.now.Add(time.Minute))))
	w.allocate(allocReq("Y", 20, preferLoc(locA)))
	now := w.now.Add(time.Hour)
	for _, c := range []struct {
		name string
		run  func(Store) error
	}{
		{"allocate", func(s Store) error { _, err := p.Allocate(s, allocReq("Z", 25), now); return err }},
		{"cancel", func(s Store) error { _, err := p.Allocate(s, cancelReq("X"), now); return err }},
		{"expire", func(s Store) error { _, _, err := p.Expire(s, now); return err }},
		{"pick against an allocation", func(s Store) error {
			_, err := p.Apply(s, pick("p1", 10, locA, 45, allocation("X")), now)
			return err
		}},
		{"shortfall", func(s Store) error { _, err := p.Apply(s, count("c1", 10, locA, 5), now); return err }},
		{"move", func(s Store) error { _, err := p.Apply(s, move("m1", 10, locA, locD, 30), now); return err }},
	} {
		for n := 1; ; n++ {
			f := &failingStore{memStore: w.s.Clone(), n: n}
			err := c.run(f)
			if f.ops < n { // every operation succeeded
				if err != nil {
					t.Fatalf("%s with no failure: %v", c.name, err)
				}
				break
			}
			if !errors.Is(err, errInjected) {
				t.Errorf("%s, operation %d fails: returned %v, want the store's error", c.name, n, err)
			}
		}
	}
}

func TestAllocationCorruptState(t *testing.T) {
	p := New(Config{})
	w := newAllocWorld(t)
	w.stock(map[string]int64{locA: 50})
	w.allocate(allocReq("X", 40))
	if err := w.s.Set(AllocationKey("X"), []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LookupAllocation(w.s, "X"); !errors.Is(err, errCorrupt) {
		t.Errorf("LookupAllocation of a corrupt allocation: %v", err)
	}
	if _, err := p.Allocate(w.s, allocReq("X", 40), w.now); !errors.Is(err, errCorrupt) {
		t.Errorf("Allocate over a corrupt allocation: %v", err)
	}
	if _, err := p.Apply(w.s, count("c1", 10, locA, 10), w.now); !errors.Is(err, errCorrupt) {
		t.Errorf("a shortfall over a corrupt allocation: %v", err)
	}
	if _, err := OrderAllocations(w.s, "SO-X"); !errors.Is(err, errCorrupt) {
		t.Errorf("OrderAllocations over a corrupt allocation: %v", err)
	}
}

func TestValidAllocationID(t *testing.T) {
	for _, c := range []struct{ id, want string }{
		{"ALLOC-1", ""},
		{"", "allocationId is required"},
		{strings.Repeat("x", 128), ""},
		{strings.Repeat("x", 129), "allocationId is 129 bytes long, the limit is 128"},
		{"A\x00B", "allocationId contains a control character"},
		{"A\nB", "allocationId contains a control character"},
	} {
		if got := ValidAllocationID("allocationId", c.id); got != c.want {
			t.Errorf("ValidAllocationID(%q) = %q, want %q", c.id, got, c.want)
		}
	}
}
