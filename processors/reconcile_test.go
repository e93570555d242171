package processors

import (
	"slices"
	"testing"
	"time"
)

// reconWorld: one record at locA (onHand 95, version 2) and one at locB
// (onHand 10, version 1), and a processor with a 2-minute grace.
func reconWorld(t *testing.T) (*Processor, *memStore) {
	t.Helper()
	p := New(Config{})
	s := newMemStore()
	mustApply(t, p, s, receipt("r1", 1, locA, 100), t0)
	mustApply(t, p, s, pick("p1", 2, locA, 5), t0)
	mustApply(t, p, s, receipt("r2", 3, locB, 10), t0)
	return p, s
}

func piece(id string, complete bool, ps ...CloudPosition) *ReportPiece {
	return &ReportPiece{PieceID: id + "#0", ReportID: id, WarehouseID: testWH, Complete: complete, Positions: ps, By: "cloud-1"}
}

func cpos(loc string, onHand, version int64) CloudPosition {
	return CloudPosition{ItemID: testItem, LocationID: loc, OnHand: onHand, Version: version}
}

func mustCompare(t *testing.T, p *Processor, s Store, pc *ReportPiece, now time.Time) ReportResult {
	t.Helper()
	res, err := p.CompareReport(s, pc, now)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestCompareOutcomes states each comparison outcome of one record.
func TestCompareOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name                     string
		cloud                    []CloudPosition
		complete                 bool
		agreed, behind, compared int
		kinds                    []string // discrepancy kinds opened, in order
		corrections              int
	}{
		{"agrees", []CloudPosition{cpos(locA, 95, 2), cpos(locB, 10, 1)}, true, 2, 0, 2, nil, 0},
		{"behind is not a discrepancy", []CloudPosition{cpos(locA, 100, 1)}, false, 0, 1, 1, nil, 0},
		{"same version, other onHand", []CloudPosition{cpos(locA, 100, 2)}, false, 0, 0, 1, []string{KindMismatch}, 1},
		{"a version never produced", []CloudPosition{cpos(locA, 95, 7)}, false, 0, 0, 1, []string{KindAhead}, 1},
		{"a record the warehouse lacks", []CloudPosition{cpos("C-09-09", 4, 1)}, false, 0, 0, 1, []string{KindUnknownToWarehouse}, 0},
		{"absent from a complete report", []CloudPosition{cpos(locA, 95, 2)}, true, 1, 0, 2, []string{KindMissingInCloud}, 1},
		{"absent from a partial report is fine", []CloudPosition{cpos(locA, 95, 2)}, false, 1, 0, 1, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, s := reconWorld(t)
			res := mustCompare(t, p, s, piece("rep-1", tc.complete, tc.cloud...), t0.Add(time.Hour))
			if res.Agreed != tc.agreed || res.Behind != tc.behind || res.Compared != tc.compared {
				t.Errorf("agreed %d behind %d compared %d, want %d %d %d", res.Agreed, res.Behind, res.Compared, tc.agreed, tc.behind, tc.compared)
			}
			var kinds []string
			for _, d := range res.Discrepancies {
				kinds = append(kinds, d.Kind)
				if d.Status != DiscrepancyOpen || len(d.History) != 1 || d.History[0].By != "cloud-1" {
					t.Errorf("discrepancy %+v: want OPEN with one history step by cloud-1", d)
				}
			}
			if !sameStrings(kinds, tc.kinds) || len(res.Opened) != len(tc.kinds) {
				t.Errorf("opened %v (%v), want %v", kinds, res.Opened, tc.kinds)
			}
			if len(res.Events) != tc.corrections {
				t.Fatalf("%d corrections, want %d", len(res.Events), tc.corrections)
			}
			for _, e := range res.Events {
				r, _ := loadRecord(s, e.WarehouseID, e.ItemID, e.LocationID, e.LotNumber)
				if e.Type != Correction || e.QuantityChange != 0 || e.ResultingOnHand != r.OnHand || e.Version != r.Version {
					t.Errorf("correction %+v does not restate the warehouse's record %+v", e, r)
				}
			}
			// Comparing the same piece again changes nothing.
			before := s.countPrefix(nil)
			again := mustCompare(t, p, s, piece("rep-1", tc.complete, tc.cloud...), t0.Add(2*time.Hour))
			if !again.Duplicate || again.Agreed != res.Agreed || len(again.Events) != 0 || len(again.Discrepancies) != 0 || s.countPrefix(nil) != before {
				t.Errorf("a repeated piece: %+v", again)
			}
		})
	}
}

// TestStaleAfterGrace: behind is fine until a report more than the grace
// period later still lacks the version the first one missed.
func TestStaleAfterGrace(t *testing.T) {
	p, s := reconWorld(t)
	now := t0.Add(time.Hour)
	if r := mustCompare(t, p, s, piece("a", false, cpos(locA, 100, 1)), now); r.Behind != 1 || len(r.Opened) != 0 {
		t.Fatalf("first report: %+v", r)
	}
	if r := mustCompare(t, p, s, piece("b", false, cpos(locA, 100, 1)), now.Add(time.Minute)); r.Behind != 1 || len(r.Opened) != 0 {
		t.Fatalf("within the grace: %+v", r)
	}
	r := mustCompare(t, p, s, piece("c", false, cpos(locA, 100, 1)), now.Add(3*time.Minute))
	if len(r.Discrepancies) != 1 || r.Discrepancies[0].Kind != KindStale || len(r.Events) != 1 {
		t.Fatalf("past the grace: %+v", r)
	}
	// Caught up with what it missed, then behind a newer change: a new
	// grace, not STALE... the STALE one resolves once a report agrees.
	mustApply(t, p, s, pick("p2", 4, locA, 1), t0)
	if r := mustCompare(t, p, s, piece("d", false, cpos(locA, 95, 2)), now.Add(4*time.Minute)); r.Behind != 1 {
		t.Fatalf("caught up, behind again: %+v", r)
	}
	r = mustCompare(t, p, s, piece("e", false, cpos(locA, 94, 3)), now.Add(5*time.Minute))
	if r.Agreed != 1 || len(r.Resolved) != 1 {
		t.Fatalf("agreeing report: %+v", r)
	}
	d, _, _ := LookupDiscrepancy(s, r.Resolved[0])
	if d.Status != DiscrepancyResolved || d.Resolution != ResolutionCloudCorrected {
		t.Errorf("after agreeing: %+v", d)
	}
}

// TestOneOpenDiscrepancyPerRecord: a record found diverging again updates
// its open discrepancy instead of opening a copy.
func TestOneOpenDiscrepancyPerRecord(t *testing.T) {
	p, s := reconWorld(t)
	first := mustCompare(t, p, s, piece("a", false, cpos(locA, 100, 2)), t0.Add(time.Hour))
	second := mustCompare(t, p, s, piece("b", false, cpos(locA, 95, 9)), t0.Add(2*time.Hour))
	if first.Opened[0] != second.Opened[0] {
		t.Fatalf("a second discrepancy %s for the record with %s open", second.Opened[0], first.Opened[0])
	}
	all, _ := Discrepancies(s, testWH)
	if len(all) != 1 || all[0].Kind != KindAhead || len(all[0].History) != 2 || *all[0].CloudVersion != 9 {
		t.Fatalf("discrepancies %+v", all)
	}
	if n := len(mustCompare(t, p, s, piece("c", false, cpos(locA, 95, 9)), t0.Add(3*time.Hour)).Discrepancies); n != 0 {
		t.Errorf("the same finding republished the discrepancy (%d)", n)
	}
}

func strp(s string) *string { return &s }

// TestDiscrepancyLifecycle: OPEN → INVESTIGATING → RESOLVED, every step in
// the history with who; RESOLVED is final; RECOUNT_REQUESTED asks for a
// count task, and the count carrying its id completes it.
func TestDiscrepancyLifecycle(t *testing.T) {
	tasks := &taskTable{m: map[string]CountTask{}}
	p := New(Config{CountTasks: tasks})
	s := newMemStore()
	mustApply(t, p, s, receipt("r1", 1, locA, 100), t0)
	id := mustCompare(t, p, s, piece("a", false, cpos(locA, 90, 1)), t0.Add(time.Hour)).Opened[0]
	upd := func(cmdID string, u DiscrepancyUpdate) CommandResult {
		t.Helper()
		u.DiscrepancyID = id
		res, err := p.Command(s, &Command{CommandID: cmdID, Kind: CommandDiscrepancyUpdate, Discrepancy: &u}, t0.Add(2*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for _, bad := range []DiscrepancyUpdate{
		{Status: strp(DiscrepancyResolved)},
		{Status: strp(DiscrepancyResolved), Resolution: strp(ResolutionCloudCorrected)},
		{Status: strp(DiscrepancyInvestigating), Resolution: strp(ResolutionWrittenOff)},
		{Status: strp(DiscrepancyOpen)},
		{Status: strp("CLOSED")},
	} {
		if r := upd("bad-"+*bad.Status, bad); r.Code != CodeInvalidTransition {
			t.Errorf("%+v: %+v, want INVALID_TRANSITION", bad, r)
		}
	}
	r := upd("c1", DiscrepancyUpdate{Status: strp(DiscrepancyInvestigating), Assignee: strp("sup-1"), Note: "looking", By: "sup-1"})
	if r.Code != "" || r.Discrepancy.Status != DiscrepancyInvestigating || r.Discrepancy.Assignee != "sup-1" {
		t.Fatalf("investigate: %+v", r)
	}
	if again := upd("c1", DiscrepancyUpdate{Status: strp(DiscrepancyResolved), Resolution: strp(ResolutionWrittenOff)}); !again.Duplicate || again.Discrepancy.Status != DiscrepancyInvestigating {
		t.Errorf("a repeated command id changed something: %+v", again)
	}
	r = upd("c2", DiscrepancyUpdate{Status: strp(DiscrepancyResolved), Resolution: strp(ResolutionRecountRequested), By: "sup-1"})
	d := r.Discrepancy
	if r.Code != "" || d.Status != DiscrepancyResolved || d.Resolution != ResolutionRecountRequested || len(r.CountTasks) != 1 {
		t.Fatalf("resolve with a recount: %+v", r)
	}
	if h := d.History; len(h) != 3 || h[1].By != "sup-1" || h[1].Note != "looking" || h[2].Resolution != ResolutionRecountRequested {
		t.Errorf("history %+v", h)
	}
	if r := upd("c3", DiscrepancyUpdate{Status: strp(DiscrepancyInvestigating)}); r.Code != CodeInvalidTransition {
		t.Errorf("a resolved discrepancy changed: %+v", r)
	}
	task := r.CountTasks[0]
	if task.LocationID != locA || task.ItemID != testItem || task.Status != CountTaskOpen || task.DiscrepancyID != id {
		t.Fatalf("task %+v", task)
	}
	tasks.m[task.CountTaskID] = task
	res := mustApply(t, p, s, count("cnt", 10, locA, 100, func(tx *Transaction) { tx.CountTaskID = task.CountTaskID }), t0)
	if len(res.CountTasks) != 1 || res.CountTasks[0].Status != CountTaskDone || res.CountTasks[0].CompletedBy != "cnt" {
		t.Errorf("count with the task: %+v", res.CountTasks)
	}
	res = mustApply(t, p, s, count("cnt2", 11, locB, 1, func(tx *Transaction) { tx.CountTaskID = task.CountTaskID }), t0)
	if !slices.Contains(res.Outcome.Warnings, WarnCountTaskMismatch) || len(res.CountTasks) != 0 {
		t.Errorf("a count at another location: %+v", res)
	}
	res = mustApply(t, p, s, count("cnt3", 12, locA, 1, func(tx *Transaction) { tx.CountTaskID = "ct-nope" }), t0)
	if !slices.Contains(res.Outcome.Warnings, WarnCountTaskUnknown) {
		t.Errorf("an unknown task: %+v", res.Outcome)
	}
}

type taskTable struct{ m map[string]CountTask }

func (t *taskTable) CountTask(id string) (CountTask, bool) { c, ok := t.m[id]; return c, ok }

// classed is a Tolerances with one class-A item.
type classed map[string]float64

func (c classed) CountTolerance(item string) (float64, bool) { v, ok := c[item]; return v, ok }

// TestHeldCounts: a count of a classed item off by more than its tolerance
// is held (nothing changes) until approved (applied as of its scan time)
// or rejected; a later count supersedes a held one; items without a class
// are never held.
func TestHeldCounts(t *testing.T) {
	p := New(Config{Tolerances: classed{testItem: 0.01}})
	s := newMemStore()
	mustApply(t, p, s, receipt("r1", 1, locA, 100), t0)
	mustApply(t, p, s, receipt("r2", 20, locA, 50), t0) // after the count below
	if res := mustApply(t, p, s, count("ok", 10, locA, 101), t0); res.Outcome.Status != StatusApplied {
		t.Fatalf("a count within 1 %%: %+v", res.Outcome)
	}
	before := recordStates(t, s)
	res := mustApply(t, p, s, count("off", 12, locA, 90), t0)
	if res.Outcome.Status != StatusHeld || res.Outcome.Code != CodeVarianceReview || len(res.Events) != 0 {
		t.Fatalf("a count 11 %% off: %+v", res)
	}
	if !slices.Equal(recordStates(t, s), before) {
		t.Fatalf("a held count changed the record")
	}
	held, _ := HeldCounts(s, testWH, HeldPending)
	if len(held) != 1 || held[0].Expected != 101 || held[0].Counted != 90 {
		t.Fatalf("held counts %+v (expected is the onHand the count would replace, 101)", held)
	}
	dec := func(id, txid string, approve bool) CommandResult {
		t.Helper()
		r, err := p.Command(s, &Command{CommandID: id, Kind: CommandCountDecision, Count: &CountDecision{TransactionID: txid, Approve: approve, By: "sup-1"}}, t0)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := dec("d1", "off", true)
	if r.Code != "" || r.Outcome.Status != StatusApplied || len(r.Events) != 1 || r.Held.Status != HeldApproved {
		t.Fatalf("approve: %+v", r)
	}
	// As of its scan time (+12s): 90 + the receipt of 50 at +20s.
	if rs := recordStates(t, s); rs[0].onHand != 140 {
		t.Errorf("after approval: %v, want onHand 140", rs)
	}
	if o, _, _ := LookupOutcome(s, "off"); o.Status != StatusApplied {
		t.Errorf("stored outcome %+v", o)
	}
	if r := dec("d2", "off", false); r.Code != CodeCountNotHeld {
		t.Errorf("deciding twice: %+v", r)
	}
	// Held, then superseded by a later count.
	mustApply(t, p, s, count("off2", 30, locA, 10), t0)
	mustApply(t, p, s, count("later", 31, locA, 140), t0)
	if o, _, _ := LookupOutcome(s, "off2"); o.Status != StatusRejected || o.Code != CodeCountSuperseded {
		t.Errorf("superseded held count: %+v", o)
	}
	// Held, then rejected.
	mustApply(t, p, s, count("off3", 40, locA, 1), t0)
	if r := dec("d3", "off3", false); r.Code != "" || r.Outcome.Status != StatusRejected || r.Outcome.Code != CodeCountRejected {
		t.Errorf("reject: %+v", r)
	}
	if rs := recordStates(t, s); rs[0].onHand != 140 {
		t.Errorf("a rejected count changed onHand: %v", rs)
	}
	// No class: never held.
	mustApply(t, p, s, receipt("rx", 1, locA, 100, item("OTHER")), t0)
	if res := mustApply(t, p, s, count("cx", 5, locA, 1, item("OTHER")), t0); res.Outcome.Status != StatusApplied {
		t.Errorf("an unclassed item's count: %+v", res.Outcome)
	}
}
