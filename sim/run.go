package sim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// runner is one run: the world, its truth, the systems and the books.
type runner struct {
	cfg   Config
	world *World
	plan  *Plan
	clock *clock
	truth *truth
	// stories are the story's after and before, in this order.
	stories []*storySys
	inv     invBooks
	rec     *recorder
	net     *network
	fleet   *fleet
	api     *api
	mirror  *mirrorView
	tap     *tap
	cloud   *cloud
	super   *supervisor
	watch   *latencyWatch
	sched   schedule

	stats     stats // main-loop counters, and the others under statsMu
	statsMu   sync.Mutex
	hours     []Hour
	lastSys   map[string]int64
	discSeen  map[string]string
	discKinds map[string]int
	faults    []string
	faultsMu  sync.Mutex
	lost      []string // transactionIds lost
	unsent    int
	agreement float64

	rng   *rand.Rand // runtime choices of the main loop (recounts)
	rngMu sync.Mutex

	bg      sync.WaitGroup // supervisor rounds, faults
	faultMu sync.Mutex     // faults run one at a time
	failMu  sync.Mutex
	failErr error
	failAt  time.Duration // the simulated moment of the first failure
}

// count changes counters from any goroutine.
func (r *runner) count(f func(*stats)) {
	r.statsMu.Lock()
	f(&r.stats)
	r.statsMu.Unlock()
}

// fail records the first error of a goroutine; the main loop stops on it.
func (r *runner) fail(err error) {
	t := r.clock.now()
	r.failMu.Lock()
	if r.failErr == nil {
		r.failErr, r.failAt = err, t
	}
	r.failMu.Unlock()
}

func (r *runner) failed() error {
	r.failMu.Lock()
	defer r.failMu.Unlock()
	return r.failErr
}

// Run simulates one day against the system cfg names and returns what it
// measured. A run that fails midway returns the Result so far (Completed
// false, StoppedAt, Error: the last hourly audit's figures) with the
// error.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	cfg = cfg.withDefaults()
	w := newWorld(cfg)
	r := &runner{cfg: cfg, world: w, plan: newPlan(cfg, w), truth: newTruth(w),
		discSeen: map[string]string{}, discKinds: map[string]int{},
		rng: rand.New(rand.NewPCG(cfg.Seed, 0x5eed_0006))}
	r.clock = newClock(cfg.Speed, time.Now(), cfg.day())
	r.stories = []*storySys{newStory(storyAfter, cfg, w, r.plan), newStory(storyBefore, cfg, w, r.plan)}
	r.inv = newInvBooks(cfg, w)
	r.rec = newRecorder()
	r.api = newAPI(cfg.URL, cfg.HTTPTimeout, cfg.RetryFor)
	began := time.Now()
	res := r.baseResult()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopAt, err := r.run(ctx)
	res = r.result(res, began)
	if err != nil {
		r.failMu.Lock()
		if r.failErr != nil && errors.Is(err, r.failErr) {
			stopAt = clockOf(r.failAt) // where the failure happened, not where the main loop noticed it
		}
		r.failMu.Unlock()
		res.Completed, res.StoppedAt, res.Error = false, stopAt, oneLine(err)
		return res, fmt.Errorf("the simulation stopped at %s: %w", stopAt, err)
	}
	res.Completed = true
	return res, nil
}

// run is Run's body; it returns where it stopped when it fails.
func (r *runner) run(ctx context.Context) (string, error) {
	cfg := r.cfg
	p := func(format string, args ...any) { fmt.Fprintf(cfg.Progress, "simulate: "+format+"\n", args...) }
	p("world: %d warehouses, %d locations each, %d items, %d records, %d scanners; %d planned events over %v simulated hours at %vx (digest %.12s)",
		len(r.world.Warehouses), len(r.world.Locations), len(r.world.Items), len(r.world.Slots), len(r.world.Scanners),
		len(r.plan.Events), cfg.Hours, cfg.Speed, Digest(r.world, r.plan))
	if err := r.setUp(ctx); err != nil {
		return "set-up", err
	}
	defer r.tearDown()

	p("opening stock: %d receipts", len(r.world.Slots))
	r.rec.over.Store(true) // the opening is put away before the day, fault-free
	if err := r.openingStock(ctx); err != nil {
		return "opening stock", err
	}
	if left, err := r.fleet.drain(ctx, 0, 3*time.Minute, r.failed); err != nil || left > 0 {
		return "opening stock", errors.Join(err, fmt.Errorf("%d opening receipts still queued after 3 minutes", left))
	}
	r.rec.over.Store(false)

	r.planDay()
	r.clock.start()
	t, err := r.mainLoop(ctx)
	if err != nil {
		return clockOf(t), err
	}
	if err := r.endOfDay(ctx); err != nil {
		return "end of day (" + clockOf(r.cfg.day()) + ")", err
	}
	return "", nil
}

// setUp puts the catalog, creates the tokens, and starts the tap, the
// mirror view, the devices, the cloud and the supervisor.
func (r *runner) setUp(ctx context.Context) error {
	cfg := r.cfg
	if err := r.api.call(ctx, http.MethodPut, "/v1/catalog", cfg.AdminToken, r.world.catalog(), nil); err != nil {
		return fmt.Errorf("putting the simulated catalog: %w", err)
	}
	if err := r.waitCatalog(ctx); err != nil {
		return err
	}
	token := cfg.CloudToken
	if token == "" {
		var err error
		if token, err = r.api.createToken(ctx, cfg.AdminToken, cfg.IDPrefix+"sim-cloud", "cloud", []string{"*"}); err != nil {
			return fmt.Errorf("creating the cloud's token: %w", err)
		}
	}
	var err error
	if r.tap, err = newTap(ctx, cfg); err != nil {
		return err
	}
	go r.tap.run(ctx)
	mctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if r.mirror, err = openMirror(mctx, cfg.MirrorDB); err != nil {
		return err
	}
	r.net = newNetwork(ctx, cfg, r.clock, r.rec)
	if r.fleet, err = openFleet(ctx, cfg, r.world, r.clock, r.rec, r.net, r.api); err != nil {
		return err
	}
	r.fleet.run(ctx)
	r.cloud = newCloud(r, token)
	r.cloud.run(ctx, 4)
	r.super = newSupervisor(r)
	r.watch = &latencyWatch{r: r}
	go r.watch.run(ctx)
	return nil
}

// waitCatalog waits until the catalog put has reached the API (it travels
// through Kafka).
func (r *runner) waitCatalog(ctx context.Context) error {
	last := r.world.Warehouses[len(r.world.Warehouses)-1]
	lastItem := r.world.Items[len(r.world.Items)-1].ID
	deadline := time.Now().Add(time.Minute)
	for {
		var doc struct {
			Items []struct {
				ItemID string `json:"itemId"`
			} `json:"items"`
		}
		err := r.api.call(ctx, http.MethodGet, "/v1/catalog?warehouseId="+last, r.cfg.AdminToken, nil, &doc)
		if err == nil {
			for _, it := range doc.Items {
				if it.ItemID == lastItem {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the simulated catalog did not show on GET /v1/catalog within a minute (last: %v)", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// planDay puts the day on the schedule: the plan, the hourly audits, the
// supervisor's rounds (every 15 simulated minutes) and the faults.
func (r *runner) planDay() {
	for _, e := range r.plan.Events {
		r.sched.add(e.At, e.Kind.String(), func(ctx context.Context, t time.Duration) error { return r.physical(ctx, e, t) })
	}
	day := r.cfg.day()
	for h := time.Hour; h < day; h += time.Hour {
		r.sched.add(h, "audit", func(ctx context.Context, t time.Duration) error { return r.hourly(ctx, t) })
	}
	for s := ReconcileEvery; s < day; s += ReconcileEvery {
		r.sched.add(s, "supervisor", func(ctx context.Context, t time.Duration) error {
			r.super.round(ctx)
			return nil
		})
	}
	for _, f := range r.cfg.Faults {
		r.sched.add(time.Duration(f.At*float64(day)), "fault "+f.Name, func(ctx context.Context, t time.Duration) error {
			r.bg.Add(1)
			go func() {
				defer r.bg.Done()
				// One fault at a time: a restart still under way when the
				// next fault is due finishes first.
				r.faultMu.Lock()
				defer r.faultMu.Unlock()
				began := time.Now()
				err := f.Do(ctx)
				note := fmt.Sprintf("%s at %s: back after %.1fs", f.Name, clockOf(t), time.Since(began).Seconds())
				if err != nil {
					note = fmt.Sprintf("%s at %s: %v", f.Name, clockOf(t), err)
					r.fail(fmt.Errorf("fault %s: %w", f.Name, err))
				}
				fmt.Fprintf(r.cfg.Progress, "simulate: fault: %s\n", note)
				r.faultsMu.Lock()
				r.faults = append(r.faults, note)
				r.faultsMu.Unlock()
			}()
			return nil
		})
	}
}

// mainLoop runs the schedule in simulated time until the day is over.
func (r *runner) mainLoop(ctx context.Context) (time.Duration, error) {
	day := r.cfg.day()
	for {
		t := r.clock.now()
		if err := r.failed(); err != nil {
			return t, err
		}
		if ctx.Err() != nil {
			return t, ctx.Err()
		}
		a, next := r.sched.next(min(t, day))
		if a != nil {
			for _, s := range r.stories {
				s.advance(a.at)
			}
			if err := a.do(ctx, a.at); err != nil {
				return a.at, fmt.Errorf("%s: %w", a.what, err)
			}
			continue
		}
		if t >= day && (next < 0 || next >= day) {
			return day, nil
		}
		wait := 20 * time.Millisecond
		if next >= 0 {
			wait = min(wait, r.cfg.real(next-t))
		}
		time.Sleep(max(wait, time.Millisecond))
	}
}

// hourly is an audit on the hour, with a progress line.
func (r *runner) hourly(ctx context.Context, t time.Duration) error {
	r.clock.pause()
	defer r.clock.resume()
	began := time.Now()
	h, err := r.audit(ctx, t)
	if err != nil {
		return err
	}
	r.hours = append(r.hours, h)
	r.statsMu.Lock()
	st := r.stats
	r.statsMu.Unlock()
	fmt.Fprintf(r.cfg.Progress, "simulate: %s  accuracy invsync %.2f%% story after %.2f%% story before %.2f%%  scans %d (%d queued offline)  allocations %d, oversells %d, allocation errors %d  discrepancies +%d/-%d  (audit %.1fs)\n",
		clockOf(t), 100*h.Accuracy, 100*h.LWW, 100*h.Before, st.scans, h.QueuedOffline, st.allocations, st.oversells, st.allocErrors,
		h.DiscrepancyOpened, h.DiscrepancyResolved, time.Since(began).Seconds())
	return nil
}

// endOfDay ends the dead zones and the faults, lets everything arrive,
// and takes the final audit.
func (r *runner) endOfDay(ctx context.Context) error {
	p := func(format string, args ...any) { fmt.Fprintf(r.cfg.Progress, "simulate: "+format+"\n", args...) }
	day := r.cfg.day()
	r.clock.pause()
	r.rec.over.Store(true)
	r.bg.Wait()
	if err := r.failed(); err != nil {
		return err
	}
	p("day over: dead zones end; waiting for every queue to drain")
	r.net.stale.Wait()
	if left, err := r.fleet.drain(ctx, day, 3*time.Minute, r.failed); err != nil || left > 0 {
		return errors.Join(err, fmt.Errorf("%d scans still queued 3 minutes after the day ended", left))
	}
	// Work the cloud still had in hand (picks due after the day) is not
	// done: the main loop no longer runs.
	p("waiting for the events topic and the mirror to catch up")
	if err := r.tap.caughtUp(ctx); err != nil {
		return err
	}
	if err := r.mirrorCaughtUp(ctx); err != nil {
		return err
	}
	time.Sleep(2 * pollEvery) // the latency watch's last look
	for _, s := range r.stories {
		s.endOfDay()
	}
	h, err := r.audit(ctx, day)
	if err != nil {
		return err
	}
	r.hours = append(r.hours, h)
	return r.settle(ctx)
}

// mirrorCaughtUp waits until the mirror has consumed the events topic to
// its end.
func (r *runner) mirrorCaughtUp(ctx context.Context) error {
	ends, err := r.tap.adm.ListEndOffsets(ctx, r.tap.topic)
	if err != nil {
		return fmt.Errorf("listing the end offsets of %s: %w", r.tap.topic, err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		got, err := r.mirror.consumed(ctx, r.tap.topic)
		behind := err != nil
		if err == nil {
			ends.Each(func(o kadm.ListedOffset) {
				if o.Err == nil && got[o.Partition] < o.Offset {
					behind = true
				}
			})
		}
		if !behind {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the mirror had not caught up with %s 3 minutes after the day ended (%v)", r.tap.topic, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// tearDown stops everything the run started.
func (r *runner) tearDown() {
	if r.cloud != nil {
		r.cloud.stop()
	}
	r.bg.Wait()
	if r.fleet != nil {
		_ = r.fleet.close()
	}
	if r.tap != nil {
		r.tap.close()
	}
	if r.mirror != nil {
		_ = r.mirror.close()
	}
}
