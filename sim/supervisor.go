package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// supervisor answers held counts the way a careful supervisor would,
// without knowing the truth: a held count gets a recount by another
// scanner; when two held counts of a record agree, the latest is approved
// (a later count that is within tolerance supersedes a held one by
// itself). After three recounts that never agree the latest is approved.
type supervisor struct {
	r    *runner
	busy atomic.Bool

	mu       sync.Mutex
	seen     map[string]bool  // held counts already handled
	last     map[string]int64 // record → counted of its previous held count
	recounts map[string]int   // record → recounts sent
	rng      *rand.Rand
}

const maxRecounts = 3

func newSupervisor(r *runner) *supervisor {
	return &supervisor{r: r, seen: map[string]bool{}, last: map[string]int64{}, recounts: map[string]int{},
		rng: rand.New(rand.NewPCG(r.cfg.Seed, 0x5eed_0005))}
}

// round looks at every warehouse's held counts, in its own goroutine (a
// round still running is not started twice).
func (s *supervisor) round(ctx context.Context) {
	if !s.busy.CompareAndSwap(false, true) {
		return
	}
	s.r.bg.Add(1)
	go func() {
		defer s.r.bg.Done()
		defer s.busy.Store(false)
		for wh := range s.r.world.Warehouses {
			if err := s.warehouse(ctx, wh); err != nil {
				s.r.fail(err)
				return
			}
		}
	}()
}

func (s *supervisor) warehouse(ctx context.Context, wh int) error {
	r := s.r
	held, err := r.api.heldCounts(ctx, r.cfg.AdminToken, r.world.Warehouses[wh])
	if err != nil {
		return fmt.Errorf("listing held counts: %w", err)
	}
	for _, h := range held {
		s.mu.Lock()
		if s.seen[h.TransactionID] {
			s.mu.Unlock()
			continue
		}
		s.seen[h.TransactionID] = true
		key := recordKey(r.world.Warehouses[wh], h.ItemID, h.LocationID)
		prev, hadPrev := s.last[key]
		s.last[key] = h.Counted
		n := s.recounts[key]
		agree := hadPrev && prev == h.Counted
		if !agree && n < maxRecounts {
			s.recounts[key] = n + 1
		}
		after := 5*time.Minute + time.Duration(s.rng.Float64()*float64(15*time.Minute))
		s.mu.Unlock()
		r.count(func(st *stats) { st.held++ })
		if agree || n >= maxRecounts {
			path := "/v1/counts/" + url.PathEscape(h.TransactionID) + "/approve"
			err := r.api.call(ctx, http.MethodPost, path, r.cfg.AdminToken, map[string]string{"note": "confirmed by a recount (simulated supervisor)"}, nil)
			if err != nil && !isStatus(err, http.StatusConflict) && !isStatus(err, http.StatusNotFound) {
				return fmt.Errorf("approving held count %s: %w", h.TransactionID, err)
			}
			if err == nil {
				r.count(func(st *stats) { st.approved++ })
			}
			continue
		}
		slot, ok := r.world.slotAt(wh, r.world.itemIndex(h.ItemID), h.LocationID)
		if !ok {
			continue
		}
		r.sched.add(r.clock.now()+after, "recount", func(ctx context.Context, t time.Duration) error {
			return r.recount(ctx, slot, t)
		})
	}
	return nil
}

// recount has another scanner of the warehouse count slot (mis-keyed as
// often as any count). Main loop.
func (r *runner) recount(ctx context.Context, slot int, t time.Duration) error {
	scanners := r.world.scannersOf(r.world.Slots[slot].WH)
	r.rngMu.Lock()
	i := scanners[r.rng.IntN(len(scanners))]
	m, digit := KeyedRight, 0
	if r.rng.Float64() < r.cfg.Rates.MisKey {
		m, digit = MisKey(1+r.rng.IntN(2)), r.rng.IntN(6)
	}
	r.rngMu.Unlock()
	r.stats.recounts++
	_, err := r.countSlot(ctx, slot, i, t, m, digit)
	return err
}

// itemIndex finds an item by id (-1 if unknown).
func (w *World) itemIndex(id string) int {
	for i, it := range w.Items {
		if it.ID == id {
			return i
		}
	}
	return -1
}
