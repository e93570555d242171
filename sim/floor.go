package sim

import (
	"context"
	"fmt"
	"time"

	"github.com/invsync/invsync/scanner"
)

// The floor: what happens physically, as the main loop runs the plan. Each
// function changes the truth and has the right scanner scan what a worker
// would scan.

// scanOf is a scan of slot s.
func (r *runner) scanOf(typ string, s int, q int64) scanner.Scan {
	sl := r.world.Slots[s]
	return scanner.Scan{Type: typ, WarehouseID: r.world.Warehouses[sl.WH], ItemID: r.world.Items[sl.Item].ID,
		LocationID: sl.Loc, Quantity: q, UserID: "sim-worker"}
}

// physical runs one planned event at simulated moment t, in invsync's
// world and in each story system's.
func (r *runner) physical(ctx context.Context, e Event, t time.Duration) error {
	if e.Kind == OrderLine {
		if down, end := r.cloudDown(t); down {
			// The cloud is out: the order line waits for it, in every
			// system.
			r.sched.add(end, "order line after an outage", func(ctx context.Context, t time.Duration) error {
				return r.physical(ctx, e, t)
			})
			return nil
		}
	}
	for _, s := range r.stories {
		if e.Kind == OrderLine {
			s.order(e, t) // the outage was waited for above
			continue
		}
		s.physical(e, t)
	}
	tr := r.truth
	switch e.Kind {
	case Receipt:
		tr.onHand[e.Slot] += e.Qty
		return r.scan(ctx, e.Scanner, t, r.scanOf("RECEIPT", e.Slot, e.Qty))
	case FloorPick:
		if got := tr.take(e.Slot, e.Qty); got > 0 {
			return r.scan(ctx, e.Scanner, t, r.scanOf("PICK", e.Slot, got))
		}
	case Move:
		if got := tr.take(e.Slot, e.Qty); got > 0 {
			tr.onHand[e.To] += got
			s := r.scanOf("MOVE", e.Slot, got)
			s.ToLocationID = r.world.Slots[e.To].Loc
			return r.scan(ctx, e.Scanner, t, s)
		}
	case Count:
		if err := r.planCount(ctx, e.Slot, e.Scanner, t, e.MisKey, e.Digit); err != nil {
			return err
		}
		if e.Second >= 0 {
			r.sched.add(t+e.Again, "second count", func(ctx context.Context, t time.Duration) error {
				r.stats.doubleCounts++
				for _, s := range r.stories {
					s.secondCount(e.Slot, e.Second, t)
				}
				return r.planCount(ctx, e.Slot, e.Second, t, KeyedRight, 0)
			})
		}
	case Shrink:
		r.stats.shrinkUnits += tr.vanish(e.Slot, e.Qty)
	case Damage:
		r.stats.damageUnits += tr.vanish(e.Slot, e.Qty)
	case OrderLine:
		r.cloud.order(e, t)
	default:
		return fmt.Errorf("unknown event kind %d", e.Kind)
	}
	return nil
}

// planCount is a count of the plan (count accuracy is measured on these).
func (r *runner) planCount(ctx context.Context, s, i int, t time.Duration, m MisKey, digit int) error {
	id, err := r.countSlot(ctx, s, i, t, m, digit)
	r.inv.planCounts = append(r.inv.planCounts, planCount{id: id, slot: s})
	return err
}

// countSlot has scanner i count slot s at t: it reads the truth, and types it
// in, rightly or not.
func (r *runner) countSlot(ctx context.Context, s, i int, t time.Duration, m MisKey, digit int) (string, error) {
	q := r.truth.onHand[s]
	typed := misKey(q, m, digit)
	if typed != q {
		r.stats.misKeys++
	}
	r.stats.counts++
	delete(r.truth.unseen, s)
	ids, err := r.fleet.scan(ctx, i, t, r.scanOf("CYCLE_COUNT", s, typed))
	if err != nil {
		return "", err
	}
	r.inv.lastCount[s] = lastCount{id: ids[0], typed: typed, there: q}
	r.counted(i, t, 1)
	return ids[0], nil
}

// scan queues scans on scanner i and counts them.
func (r *runner) scan(ctx context.Context, i int, t time.Duration, scans ...scanner.Scan) error {
	_, err := r.fleet.scan(ctx, i, t, scans...)
	if err == nil {
		r.counted(i, t, len(scans))
	}
	return err
}

// counted adds n scans of scanner i at t to the counters.
func (r *runner) counted(i int, t time.Duration, n int) {
	r.stats.scans += n
	if r.world.Scanners[i].offline(t) {
		r.stats.offlineScans += n
	}
}

// openingStock puts the day's opening stock away: a receipt per slot,
// scanned by the first scanner of each warehouse at the day's start.
func (r *runner) openingStock(ctx context.Context) error {
	for wh := range r.world.Warehouses {
		var scans []scanner.Scan
		for s, sl := range r.world.Slots {
			if sl.WH == wh && r.world.Opening[s] > 0 {
				scans = append(scans, r.scanOf("RECEIPT", s, r.world.Opening[s]))
			}
		}
		for len(scans) > 0 {
			n := min(len(scans), 500)
			if err := r.scan(ctx, r.world.scannersOf(wh)[0], 0, scans[:n]...); err != nil {
				return err
			}
			scans = scans[n:]
		}
	}
	return nil
}
