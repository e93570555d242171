package sim

import "testing"

// The audit's accuracy: exact, and within the ABC tolerance of the
// truth (A 1 %: 1 unit of 100; C 5 %: 1 of 20), a zero truth tolerating
// nothing of a unit.
func TestAuditAccuracy(t *testing.T) {
	w := &World{Warehouses: []string{"W"}, Items: []Item{{ID: "A", Class: 0}, {ID: "C", Class: 2}},
		Slots: []Slot{{Item: 0, Loc: "1"}, {Item: 0, Loc: "2"}, {Item: 1, Loc: "3"}, {Item: 1, Loc: "4"}}}
	r := &runner{world: w, truth: &truth{onHand: []int64{100, 100, 20, 0}}}
	exact, tol := r.accuracy(func(s int) int64 { return []int64{100, 101, 21, 2}[s] })
	if exact != 0.25 || tol != 0.75 {
		t.Errorf("accuracy %v, within tolerance %v; want 0.25 and 0.75", exact, tol)
	}
	if w.tolerance(0) >= w.tolerance(2) {
		t.Errorf("an A item's tolerance %v is not tighter than a C item's %v", w.tolerance(0), w.tolerance(2))
	}
}

// The truth never goes below zero, and records what leaves unscanned.
func TestTruth(t *testing.T) {
	tr := &truth{onHand: []int64{5, 5}, reserved: []int64{2, 0}, unseen: map[int]bool{}, everUnseen: map[int]bool{}}
	if got := tr.take(0, 7); got != 5 || tr.onHand[0] != 0 {
		t.Errorf("took %d of 5, %d left", got, tr.onHand[0])
	}
	if got := tr.vanish(0, 3); got != 0 || tr.unseen[0] {
		t.Errorf("vanished %d from nothing (unseen %v)", got, tr.unseen[0])
	}
	if got := tr.vanish(1, 2); got != 2 || !tr.unseen[1] || !tr.everUnseen[1] || tr.free(1) != 3 || tr.free(0) != -2 {
		t.Errorf("vanish: %d, unseen %v, free %d/%d", got, tr.unseen, tr.free(0), tr.free(1))
	}
}

// What invsync's wrong records are put down to, in order: a mis-keyed
// count it applied, shrinkage uncounted since, a right count still held.
func TestInvsyncWrongRecord(t *testing.T) {
	tr := &truth{onHand: []int64{8, 8, 8, 8}, unseen: map[int]bool{1: true}}
	b := invBooks{lastCount: map[int]lastCount{
		0: {id: "k", typed: 80, there: 8},
		2: {id: "h", typed: 8, there: 8},
		3: {id: "a", typed: 8, there: 8},
	}}
	txs := map[string]txRecord{"k": {outcome: "applied"}, "h": {outcome: "held"}, "a": {outcome: "applied"}}
	for _, c := range []struct {
		slot int
		held int64
		want string
	}{{0, 80, CauseMisKeyed}, {1, 10, CauseUnscanned}, {2, 10, CauseHeld}, {3, 10, CauseNotAttribute}} {
		if got := b.wrongRecord(tr, txs, c.slot, c.held); got != c.want {
			t.Errorf("slot %d holding %d: %q, want %q", c.slot, c.held, got, c.want)
		}
	}
}
