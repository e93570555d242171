package sim

import (
	"context"
	"time"
)

// invBooks are invsync's figures the story's measures need beyond the
// v2 ones: count accuracy, allocation errors by hour and their causes.
// Main loop only.
type invBooks struct {
	counts, exact, tolerant int
	errorsByHour            []int
	allocCauses             map[string]int
	// lastCount is each slot's latest count: typed, and what was there.
	lastCount map[int][2]int64
}

func newInvBooks(cfg Config, w *World) invBooks {
	return invBooks{errorsByHour: make([]int, int(cfg.Hours+0.999999)), allocCauses: map[string]int{},
		lastCount: map[int][2]int64{}}
}

// counted books a count of the plan against what invsync held.
func (b *invBooks) counted(w *World, slot int, typed, held int64) {
	b.counts++
	if typed == held {
		b.exact++
	}
	if withinTolerance(w, slot, typed, held) {
		b.tolerant++
	}
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
// or (neither) nothing the simulator can tell.
func (b *invBooks) wrongRecord(tr *truth, slot int, held int64) string {
	if c, ok := b.lastCount[slot]; ok && c[0] != c[1] && held == c[0] {
		return CauseMisKeyed
	}
	if tr.unseen[slot] {
		return CauseUnscanned
	}
	return CauseNotAttribute
}

// heldNow reads invsync's on-hand of slot (its warehouse's record).
func (r *runner) heldNow(ctx context.Context, slot int) (int64, error) {
	sl := r.world.Slots[slot]
	ps, err := r.api.positions(ctx, r.cfg.AdminToken, r.world.Warehouses[sl.WH], r.world.Items[sl.Item].ID)
	if err != nil {
		return 0, err
	}
	for _, p := range ps {
		if p.LotNumber == "" && p.LocationID == sl.Loc {
			return p.OnHand, nil
		}
	}
	return 0, nil
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
		Causes: map[string]int{}, Counts: r.inv.counts, Allocations: res.Allocations, Confirmed: res.Confirmed,
		Backorders: res.CloudBackorders, Rejected: st.allocRejected,
		AllocationErrorsByHour: append([]int(nil), r.inv.errorsByHour...)}
	if r.inv.counts > 0 {
		out.CountAccuracy = float64(r.inv.exact) / float64(r.inv.counts)
		out.CountAccuracyTolerance = float64(r.inv.tolerant) / float64(r.inv.counts)
	}
	for s := range r.world.Slots {
		held, ok := r.lastSys[r.slotKey(s)]
		if ok && held != r.truth.onHand[s] || !ok && r.truth.onHand[s] != 0 {
			out.Causes[r.inv.wrongRecord(r.truth, s, held)]++
		}
	}
	for k, v := range r.inv.allocCauses {
		out.Causes[k] += v
	}
	return out
}
