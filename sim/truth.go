package sim

// truth is the physical stock, owned by the simulator's main loop (one
// goroutine): what an all-knowing auditor would find at each slot.
type truth struct {
	onHand []int64
	// reserved is what confirmed allocations still wait to pick at each
	// slot, as the allocations' lines said when they were confirmed.
	reserved []int64
	// unseen marks the slots whose stock changed without a scan
	// (shrinkage, damage) since their last count.
	unseen map[int]bool
	// everUnseen counts the slots ever changed without a scan.
	everUnseen map[int]bool
}

func newTruth(w *World) *truth {
	return &truth{onHand: append([]int64(nil), w.Opening...), reserved: make([]int64, len(w.Slots)),
		unseen: map[int]bool{}, everUnseen: map[int]bool{}}
}

// take removes up to q units from slot and returns how many were there to
// take: physical stock never goes below zero.
func (t *truth) take(slot int, q int64) int64 {
	q = min(q, t.onHand[slot])
	if q < 0 {
		q = 0
	}
	t.onHand[slot] -= q
	return q
}

// vanish is shrinkage or damage: units leave unscanned.
func (t *truth) vanish(slot int, q int64) int64 {
	q = t.take(slot, q)
	if q > 0 {
		t.unseen[slot], t.everUnseen[slot] = true, true
	}
	return q
}

// free is what a picker could still take at slot for a new allocation:
// the stock less what confirmed allocations wait to pick there.
func (t *truth) free(slot int) int64 { return t.onHand[slot] - t.reserved[slot] }
