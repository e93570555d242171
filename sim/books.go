package sim

import "time"

// invBooks are invsync's figures the story's measures need beyond the
// v2 ones: count accuracy, allocation errors by hour and their causes.
// Main loop only.
type invBooks struct {
	planCounts   []planCount
	errorsByHour []int
	allocCauses  map[string]int
	// lastCount is each slot's latest count.
	lastCount map[int]lastCount
}

func newInvBooks(cfg Config, w *World) invBooks {
	return invBooks{errorsByHour: make([]int, int(cfg.Hours+0.999999)), allocCauses: map[string]int{},
		lastCount: map[int]lastCount{}}
}

// lastCount is a slot's latest count: its transaction, what was typed
// and what was there.
type lastCount struct {
	id           string
	typed, there int64
}

// planCount is a count of the plan as queued on its device.
type planCount struct {
	id   string
	slot int
}

// countAccuracy measures the plan's counts against what invsync held when
// it took each: a count applied at once left an event whose change is
// the counted quantity less what was held; a count held for review was
// beyond the item's tolerance of it. Counts not answered, rejected, or
// accepted as pending and never applied, are not measured.
func (r *runner) countAccuracy() (n, exact, tolerant int) {
	txs, _, _ := r.rec.snapshot()
	for _, c := range r.inv.planCounts {
		tx, ok := txs[c.id]
		if !ok || !tx.accepted {
			continue
		}
		switch tx.outcome {
		case "held":
			n++
		case "applied", "pending":
			// pending: accepted before its outcome was known (a restart
			// under way); its event, if any, tells.
			ref, ok := r.tap.ref(c.id)
			if !ok {
				continue
			}
			n++
			held := ref.onHand - ref.change
			if ref.change == 0 {
				exact++
			}
			if withinTolerance(r.world, c.slot, ref.onHand, held) {
				tolerant++
			}
		}
	}
	return n, exact, tolerant
}

// allocError books an allocation invsync confirmed and the picker could
// not fill at slot (-1: a location the item does not lie in).
func (b *invBooks) allocError(tr *truth, slot int, t time.Duration) {
	cause := CauseStaleView // scans the warehouse had not yet had (offline, in flight)
	if slot >= 0 && tr.unseen[slot] {
		cause = CauseUnscanned
	}
	b.allocCauses[cause]++
	if h := int(t / time.Hour); h < len(b.errorsByHour) {
		b.errorsByHour[h]++
	}
}

// wrongRecord names what a record invsync holds wrong at the end owes its
// error to: a mis-keyed count it applied, shrinkage nobody counted since,
// a count (right) still held for review, or (none of these) nothing the
// simulator can tell.
func (b *invBooks) wrongRecord(tr *truth, txs map[string]txRecord, slot int, held int64) string {
	c, counted := b.lastCount[slot]
	switch {
	case counted && c.typed != c.there && held == c.typed:
		return CauseMisKeyed
	case tr.unseen[slot]:
		return CauseUnscanned
	case counted && txs[c.id].outcome == "held" && held != c.typed:
		return CauseHeld
	}
	return CauseNotAttribute
}

// cloudDown reports whether the cloud is out at t, and when it is back.
func (r *runner) cloudDown(t time.Duration) (bool, time.Duration) {
	for _, o := range r.plan.Outages {
		if t >= o.From && t < o.To {
			return true, o.To
		}
	}
	return false, 0
}

// invsyncResult is invsync's column.
func (r *runner) invsyncResult(res Result, st stats) SystemResult {
	out := SystemResult{RecordAccuracy: res.RecordAccuracy, RecordAccuracyTolerance: res.RecordAccuracyTolerance,
		AllocationErrors: res.AllocationErrors, Oversells: res.Oversells, ScanToCloudP50: res.ScanToCloudP50,
		ScanToCloudP99: res.ScanToCloudP99, Lost: res.Lost, Duplicated: res.Duplicated, CloudAgreement: res.CloudAgreement,
		Causes: map[string]int{}, Allocations: res.Allocations, Confirmed: res.Confirmed,
		Backorders: res.CloudBackorders, Rejected: st.allocRejected,
		AllocationErrorsByHour: append([]int(nil), r.inv.errorsByHour...)}
	if r.tap != nil {
		n, exact, tolerant := r.countAccuracy()
		out.Counts = n
		if n > 0 {
			out.CountAccuracy = float64(exact) / float64(n)
			out.CountAccuracyTolerance = float64(tolerant) / float64(n)
		}
	}
	txs, _, _ := r.rec.snapshot()
	for s := range r.world.Slots {
		held, ok := r.lastSys[r.slotKey(s)]
		if ok && held != r.truth.onHand[s] || !ok && r.truth.onHand[s] != 0 {
			out.Causes[r.inv.wrongRecord(r.truth, txs, s, held)]++
		}
	}
	for k, v := range r.inv.allocCauses {
		out.Causes[k] += v
	}
	return out
}
