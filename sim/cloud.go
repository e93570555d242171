package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	wire "github.com/invsync/invsync/api"
	"github.com/invsync/invsync/scanner"
)

// cloud is the order management side: each order line is allocated
// against what the mirror shows as available (two-phase: the warehouse
// confirms or rejects), and a picker later picks what the allocation holds
// then. It runs in its own goroutines; what touches the truth is handed to
// the main loop through the schedule.
type cloud struct {
	r     *runner
	token string
	work  chan func(context.Context)
	wg    sync.WaitGroup

	mu  sync.Mutex
	rng *rand.Rand
}

// Picking happens 10 to 90 simulated minutes after confirmation; an
// allocation not picked within 4 simulated hours expires (the server runs
// expiry on real time, so the simulator asks for 4h/speed).
const (
	pickAfterMin = 10 * time.Minute
	pickAfterMax = 90 * time.Minute
	allocExpiry  = 4 * time.Hour
)

func newCloud(r *runner, token string) *cloud {
	return &cloud{r: r, token: token, work: make(chan func(context.Context), 1<<14),
		rng: rand.New(rand.NewPCG(r.cfg.Seed, 0x5eed_0004))}
}

// run starts the workers; they stop when the work channel is closed.
func (c *cloud) run(ctx context.Context, workers int) {
	for range workers {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for f := range c.work {
				f(ctx)
			}
		}()
	}
}

// stop closes the work channel and waits for the workers.
func (c *cloud) stop() {
	close(c.work)
	c.wg.Wait()
}

func (c *cloud) submit(f func(context.Context)) {
	select {
	case c.work <- f:
	default:
		c.r.fail(fmt.Errorf("the cloud's work queue is full: the system answers too slowly for speed %v", c.r.cfg.Speed))
	}
}

func (c *cloud) between(lo, hi time.Duration) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return lo + time.Duration(c.rng.Float64()*float64(hi-lo))
}

// order takes an order line that arrived at simulated moment t.
func (c *cloud) order(e Event, t time.Duration) {
	r := c.r
	sl := r.world.Slots[e.Slot]
	wh, item := r.world.Warehouses[sl.WH], r.world.Items[sl.Item].ID
	id := fmt.Sprintf("%sAL-%d-%d", r.cfg.IDPrefix, r.cfg.Seed, e.Order)
	c.submit(func(ctx context.Context) {
		avail, err := r.mirror.available(ctx, wh, item)
		if err != nil {
			r.fail(fmt.Errorf("order line %d: %w", e.Order, err))
			return
		}
		if avail < e.Qty {
			r.count(func(s *stats) { s.cloudBackorders++ })
			return
		}
		body := map[string]any{"allocationId": id, "orderId": fmt.Sprintf("%sSO-%d", r.cfg.IDPrefix, e.Order), "orderLine": 1,
			"warehouseId": wh, "itemId": item, "quantity": e.Qty, "allowPartial": false,
			"expiresAt": time.Now().Add(r.cfg.real(allocExpiry)).UTC().Format(time.RFC3339Nano)}
		var a wire.Allocation
		if err := r.api.call(ctx, http.MethodPost, "/v1/allocations?wait=decided", c.token, body, &a); err != nil {
			r.fail(fmt.Errorf("allocating order line %d: %w", e.Order, err))
			return
		}
		for a.Status == "TENTATIVE" && ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
			if a, err = c.get(ctx, id); err != nil {
				r.fail(fmt.Errorf("reading allocation %s: %w", id, err))
				return
			}
		}
		r.count(func(s *stats) { s.allocations++ })
		if a.Status != "CONFIRMED" {
			r.count(func(s *stats) { s.allocRejected++ })
			return
		}
		now := r.clock.now()
		if now >= r.cfg.day() {
			// Confirmed after the day ended (a restart late in the day
			// costs an hour at 360x): the main loop no longer books it,
			// so it is counted apart rather than read as unconfirmed.
			r.count(func(s *stats) { s.confirmedAfterDay++ })
			return
		}
		r.sched.add(now, "allocation confirmed", func(ctx context.Context, t time.Duration) error {
			c.confirmed(a, sl.WH, sl.Item, t)
			return nil
		})
	})
}

// get reads an allocation the cloud knows exists. A 404 is asked again
// until the run's RetryFor has passed, and counted: it is a server bug (an
// instance that has just restarted must answer 503 until it knows, not
// 404); a 503 is retried by call.
func (c *cloud) get(ctx context.Context, id string) (wire.Allocation, error) {
	r := c.r
	deadline := time.Now().Add(r.cfg.RetryFor)
	for {
		var a wire.Allocation
		err := r.api.call(ctx, http.MethodGet, "/v1/allocations/"+url.PathEscape(id), c.token, nil, &a)
		if err == nil || !isStatus(err, http.StatusNotFound) || time.Now().After(deadline) {
			return a, err
		}
		r.count(func(s *stats) { s.notFound++ })
		select {
		case <-ctx.Done():
			return a, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// confirmed books a confirmed allocation against the truth (an oversell
// when the stock it reserves is not physically there, free of other
// confirmed allocations) and schedules its pick. Main loop.
func (c *cloud) confirmed(a wire.Allocation, wh, item int, t time.Duration) {
	r := c.r
	var booked []bookedLine
	over := false
	for _, l := range a.Lines {
		s, ok := r.world.slotAt(wh, item, l.LocationID)
		if !ok || r.truth.free(s) < l.Quantity {
			over = true
		}
		if ok {
			r.truth.reserved[s] += l.Quantity
			booked = append(booked, bookedLine{slot: s, qty: l.Quantity})
		}
	}
	r.stats.confirmed++
	if over {
		r.stats.oversells++
	}
	r.sched.add(t+c.between(pickAfterMin, pickAfterMax), "pick due", func(ctx context.Context, t time.Duration) error {
		c.pickDue(a.AllocationID, wh, item, booked)
		return nil
	})
}

// bookedLine is a reservation the truth keeps for a confirmed allocation.
type bookedLine struct {
	slot int
	qty  int64
}

// pickDue asks what the allocation holds now (a shortfall may have moved
// it), then hands the pick to the main loop.
func (c *cloud) pickDue(id string, wh, item int, booked []bookedLine) {
	r := c.r
	c.submit(func(ctx context.Context) {
		a, err := c.get(ctx, id)
		if err != nil {
			r.fail(fmt.Errorf("reading allocation %s before picking: %w", id, err))
			return
		}
		r.sched.add(r.clock.now(), "pick", func(ctx context.Context, t time.Duration) error {
			return c.pick(ctx, a, wh, item, booked, t)
		})
	})
}

// pick is the picker at the shelf: it takes what the allocation's lines
// say, as far as the stock is there; a line it cannot fill is an
// allocation error, and the picker counts that location on the spot (the
// cloud then cancels what is left of the allocation). Main loop.
func (c *cloud) pick(ctx context.Context, a wire.Allocation, wh, item int, booked []bookedLine, t time.Duration) error {
	r := c.r
	for _, b := range booked {
		r.truth.reserved[b.slot] -= b.qty
	}
	if a.Status != "CONFIRMED" {
		r.stats.notPicked++ // expired, backordered or rejected by a shortfall meanwhile
		return nil
	}
	scanners := r.world.scannersOf(wh)
	c.mu.Lock()
	picker := scanners[c.rng.IntN(len(scanners))]
	c.mu.Unlock()
	short := false
	var scans []scanner.Scan
	for _, l := range a.Lines {
		s, ok := r.world.slotAt(wh, item, l.LocationID)
		if !ok {
			if !short {
				r.inv.allocError(r.truth, -1, t)
			}
			short = true
			continue
		}
		got := r.truth.take(s, l.Quantity)
		if got > 0 {
			p := r.scanOf("PICK", s, got)
			p.AllocationID = a.AllocationID
			scans = append(scans, p)
		}
		if got < l.Quantity {
			if !short {
				r.inv.allocError(r.truth, s, t)
			}
			short = true
			r.stats.counts++
			delete(r.truth.unseen, s)
			scans = append(scans, r.scanOf("CYCLE_COUNT", s, r.truth.onHand[s]))
		}
	}
	r.stats.picked++
	if short {
		r.stats.allocErrors++
		id := a.AllocationID
		c.submit(func(ctx context.Context) {
			err := r.api.call(ctx, http.MethodDelete, "/v1/allocations/"+url.PathEscape(id), c.token, nil, nil)
			if err != nil && !isStatus(err, http.StatusConflict) && !isStatus(err, http.StatusNotFound) {
				r.fail(fmt.Errorf("cancelling the rest of allocation %s: %w", id, err))
			}
		})
	}
	if len(scans) == 0 {
		return nil
	}
	return r.scan(ctx, picker, t, scans...)
}

// slotAt finds the slot of an item at a location.
func (w *World) slotAt(wh, item int, loc string) (int, bool) {
	for _, s := range w.slotsOf[[2]int{wh, item}] {
		if w.Slots[s].Loc == loc {
			return s, true
		}
	}
	return 0, false
}
