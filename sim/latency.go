package sim

import (
	"context"
	"sort"
	"sync"
	"time"
)

// latencyWatch measures scan-to-cloud: from the moment a scan was queued
// on an online device to the moment the mirror's row of its record
// reached the version its event left (read from the tap). It polls the
// mirror every pollEvery, so a measure is late by at most that.
type latencyWatch struct {
	r *runner

	mu      sync.Mutex
	samples []time.Duration
}

const pollEvery = 50 * time.Millisecond

// run watches until ctx ends.
func (w *latencyWatch) run(ctx context.Context) {
	type pending struct {
		txid string
		ref  eventRef
		at   time.Time
	}
	var waiting []pending
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	drain:
		for {
			select {
			case id := <-w.r.tap.fresh:
				at, online, ok := w.r.rec.queuedAt(id)
				ref, found := w.r.tap.ref(id)
				if ok && online && found {
					waiting = append(waiting, pending{txid: id, ref: ref, at: at})
				}
			default:
				break drain
			}
		}
		if len(waiting) == 0 {
			continue
		}
		rows, err := w.r.mirror.positions(ctx)
		if err != nil {
			continue // the mirror's database is busy or restarting: next poll
		}
		now := time.Now()
		kept := waiting[:0]
		for _, p := range waiting {
			if row, ok := rows[p.ref.key]; ok && row.version >= p.ref.version {
				w.mu.Lock()
				w.samples = append(w.samples, now.Sub(p.at))
				w.mu.Unlock()
				continue
			}
			kept = append(kept, p)
		}
		waiting = kept
	}
}

// quantiles returns the p50 and p99 of the samples and their number.
func (w *latencyWatch) quantiles() (p50, p99 time.Duration, n int, all []time.Duration) {
	w.mu.Lock()
	all = append([]time.Duration(nil), w.samples...)
	w.mu.Unlock()
	if len(all) == 0 {
		return 0, 0, 0, nil
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	q := func(f float64) time.Duration { return all[min(len(all)-1, int(f*float64(len(all))))] }
	return q(0.50), q(0.99), len(all), all
}
