package sim

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// The audit: every slot's on-hand in invsync (the warehouse's positions,
// read through the API) against the truth, and each story system's record
// against its own stock, at one simulated moment (the clock is paused
// meanwhile).

// systemPositions reads invsync's on-hand of every record of the world.
func (r *runner) systemPositions(ctx context.Context) (map[string]int64, error) {
	type job struct{ wh, item int }
	jobs := make(chan job)
	out := map[string]int64{}
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				mu.Lock()
				failed := firstErr != nil
				mu.Unlock()
				if failed {
					continue // one failure ends the audit: the rest is not asked
				}
				wh, item := r.world.Warehouses[j.wh], r.world.Items[j.item].ID
				ps, err := r.api.positions(ctx, r.cfg.AdminToken, wh, item)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("reading the positions of %s in %s: %w", item, wh, err)
				}
				for _, p := range ps {
					if p.LotNumber == "" {
						out[recordKey(wh, item, p.LocationID)] = p.OnHand
					}
				}
				mu.Unlock()
			}
		}()
	}
	for wh := range r.world.Warehouses {
		for item := range r.world.Items {
			mu.Lock()
			failed := firstErr != nil
			mu.Unlock()
			if failed || ctx.Err() != nil {
				break
			}
			jobs <- job{wh, item}
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return out, firstErr
}

// slotKey is the record key of slot s.
func (r *runner) slotKey(s int) string {
	sl := r.world.Slots[s]
	return recordKey(r.world.Warehouses[sl.WH], r.world.Items[sl.Item].ID, sl.Loc)
}

// accuracy compares a view of on-hand with the truth: the share of slots
// equal, and the share within the item's ABC count tolerance.
func (r *runner) accuracy(view func(s int) int64) (exact, tolerant float64) {
	var eq, tol int
	for s := range r.world.Slots {
		got, want := view(s), r.truth.onHand[s]
		if got == want {
			eq++
		}
		if float64(abs(got-want)) <= r.world.tolerance(s)*float64(max(want, 1)) {
			tol++
		}
	}
	n := float64(len(r.world.Slots))
	return float64(eq) / n, float64(tol) / n
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// audit measures one moment of the day (main loop, clock paused).
func (r *runner) audit(ctx context.Context, t time.Duration) (Hour, error) {
	h := Hour{At: t, Hour: t.Hours()}
	left, err := r.fleet.drain(ctx, t, 20*time.Second, r.failed)
	if err != nil {
		return h, err
	}
	sys, err := r.systemPositions(ctx)
	if err != nil {
		return h, err
	}
	h.Accuracy, h.AccuracyTolerance = r.accuracy(func(s int) int64 { return sys[r.slotKey(s)] })
	for _, s := range r.stories {
		s.advance(t)
	}
	h.LWW, h.LWWTolerance = r.stories[0].accuracy()
	h.Before, h.BeforeTolerance = r.stories[1].accuracy()
	queued, _, err := r.fleet.pending()
	if err != nil {
		return h, err
	}
	h.QueuedOffline = queued
	if left > 0 {
		fmt.Fprintf(r.cfg.Progress, "simulate: %s: %d scans of online scanners were still queued after 20s\n", clockOf(t), left)
	}
	opened, resolved, err := r.discrepancies(ctx)
	if err != nil {
		return h, err
	}
	h.DiscrepancyOpened, h.DiscrepancyResolved = opened, resolved
	r.lastSys = sys
	return h, nil
}

// discrepancies counts the discrepancies opened and resolved since the
// previous call.
func (r *runner) discrepancies(ctx context.Context) (opened, resolved int, err error) {
	for _, wh := range r.world.Warehouses {
		ds, err := r.api.discrepancies(ctx, r.cfg.AdminToken, wh)
		if err != nil {
			return 0, 0, fmt.Errorf("listing discrepancies: %w", err)
		}
		for _, d := range ds {
			prev, known := r.discSeen[d.DiscrepancyID]
			if !known {
				opened++
				r.discKinds[d.Kind]++
			}
			if d.Status == "RESOLVED" && prev != "RESOLVED" {
				resolved++
			}
			r.discSeen[d.DiscrepancyID] = d.Status
		}
	}
	return opened, resolved, nil
}

// recordKey names a stock record (lot numbers are not used by the world).
func recordKey(wh, item, loc string) string { return wh + "\x00" + item + "\x00" + loc }
