package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invsync/invsync/ingest"
	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
)

// The parts of a run that need no service: the schedule, the workload, the
// matching of events to transactions, and the verdict on a step. Run itself
// needs a running invsync; it is exercised by `invsync bench` (see
// BENCHMARKS.md).

func TestIntendedTimes(t *testing.T) {
	// 10000 tx/s in requests of 100: one request every 10 ms.
	p := newPhase(1, "t", 1000, 100, 10000, int64(time.Second), true, true)
	for _, c := range []struct {
		req  int
		want time.Duration
	}{{0, time.Second}, {1, time.Second + 10*time.Millisecond}, {99, time.Second + 990*time.Millisecond}, {100, 2 * time.Second}} {
		if got := time.Duration(p.intended(c.req)); got != c.want {
			t.Errorf("intended(%d) = %s, want %s", c.req, got, c.want)
		}
	}
	// Rates that do not divide a second do not drift: request i is at
	// exactly i*batch/rate seconds, not a sum of rounded periods.
	p = newPhase(1, "t", 0, 7, 3000, 0, true, false)
	if got, want := p.intended(3000), int64(7*time.Second); got != want {
		t.Errorf("intended(3000) at 3000 tx/s in 7s = %d, want %d", got, want)
	}
	// A backlog phase (rate 0) intends everything at its start.
	p = newPhase(1, "t", 0, 1000, 0, 42, true, false)
	if p.intended(0) != 42 || p.intended(149) != 42 {
		t.Errorf("rate 0: intended = %d, %d; want 42", p.intended(0), p.intended(149))
	}

	for _, c := range []struct {
		rate, batch int
		d           time.Duration
		want        int
	}{{10000, 100, 10 * time.Second, 1000}, {5000, 100, 10 * time.Second, 500}, {30, 100, time.Second, 1}, {150, 100, 10 * time.Second, 15}} {
		if got := requestsFor(c.rate, c.batch, c.d); got != c.want {
			t.Errorf("requestsFor(%d, %d, %s) = %d, want %d", c.rate, c.batch, c.d, got, c.want)
		}
	}

	for _, c := range []struct {
		t    time.Duration
		want int64
	}{{-time.Millisecond, 0}, {0, 100}, {9 * time.Millisecond, 100}, {10 * time.Millisecond, 200}, {time.Second, 10100}, {time.Hour, 100000}} {
		if got := offeredAt(c.t, 10000, 100, 1000); got != c.want {
			t.Errorf("offeredAt(%s) = %d, want %d", c.t, got, c.want)
		}
	}
}

// manualClock is a clock that moves only when the test moves it. A
// sleepUntil that has to wait announces its target on sleeps, then blocks
// until the test advances the clock that far.
type manualClock struct {
	mu     sync.Mutex
	t      int64
	moved  chan struct{} // closed, and replaced, on every advance
	sleeps chan int64
}

func newManualClock() *manualClock {
	return &manualClock{moved: make(chan struct{}), sleeps: make(chan int64)}
}

func (c *manualClock) now() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) sleepUntil(ctx context.Context, t int64) bool {
	if c.now() >= t {
		return true
	}
	select {
	case c.sleeps <- t:
	case <-ctx.Done():
		return false
	}
	for {
		c.mu.Lock()
		now, moved := c.t, c.moved
		c.mu.Unlock()
		if now >= t {
			return true
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return false
		}
	}
}

func (c *manualClock) advanceTo(t int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
	close(c.moved)
	c.moved = make(chan struct{})
}

// scheduleDriver runs schedule on a manual clock and observes it. The jobs
// channel has one slot: a worker that is free. A job waiting in the slot is
// a busy worker, so whether a request finds a free worker is decided by the
// test, not by goroutine timing.
type scheduleDriver struct {
	t    *testing.T
	clk  *manualClock
	b    *bencher
	p    *phase
	done chan struct{}
}

func startSchedule(t *testing.T, ctx context.Context, p *phase, nReq int) *scheduleDriver {
	d := &scheduleDriver{t: t, clk: newManualClock(), p: p, done: make(chan struct{})}
	d.b = &bencher{clock: d.clk, jobs: make(chan job, 1)}
	go func() {
		defer close(d.done)
		d.b.schedule(ctx, p, nReq)
	}()
	return d
}

// expectSleep waits for the scheduler to sleep and fails unless it sleeps
// until want, with the requests handed out so far: queued are waiting in
// the worker's slot.
func (d *scheduleDriver) expectSleep(want int64, queued int, why string) {
	d.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case got := <-d.clk.sleeps:
			if got != want {
				d.t.Fatalf("%s: the scheduler sleeps until %s, want %s", why, time.Duration(got), time.Duration(want))
			}
			if n := len(d.b.jobs); n != queued {
				d.t.Fatalf("%s: %d requests waiting for the worker, want %d", why, n, queued)
			}
			return
		case <-d.done:
			d.t.Fatalf("%s: the scheduler returned", why)
		case <-deadline:
			d.t.Fatalf("%s: the scheduler did not sleep in 10s (behind = %d)", why, d.p.behind.Load())
		case <-time.After(time.Millisecond):
			if n := len(d.b.jobs); n > queued {
				d.t.Fatalf("%s: a request was handed out at %s; the scheduler should sleep until %s first",
					why, time.Duration(d.clk.now()), time.Duration(want))
			}
		}
	}
}

// expectBehind waits until the scheduler has counted n requests behind
// schedule, failing if it sleeps meanwhile: every one of them was due.
func (d *scheduleDriver) expectBehind(n int64, why string) {
	d.t.Helper()
	deadline := time.After(10 * time.Second)
	for d.p.behind.Load() < n {
		select {
		case got := <-d.clk.sleeps:
			d.t.Fatalf("%s: the scheduler sleeps until %s at %s with requests due and behind = %d, want %d",
				why, time.Duration(got), time.Duration(d.clk.now()), d.p.behind.Load(), n)
		case <-deadline:
			d.t.Fatalf("%s: behind = %d after 10s, want %d", why, d.p.behind.Load(), n)
		case <-time.After(time.Millisecond):
		}
	}
	if got := d.p.behind.Load(); got != n {
		d.t.Fatalf("%s: behind = %d, want %d", why, got, n)
	}
}

// take takes the next request, as a worker does, and fails unless it is
// request want and is handed out no earlier than its intended time.
func (d *scheduleDriver) take(want int) {
	d.t.Helper()
	var j job
	select {
	case j = <-d.b.jobs:
	case <-time.After(10 * time.Second):
		d.t.Fatalf("request %d not handed out in 10s", want)
	}
	if j.p != d.p || j.req != want {
		d.t.Fatalf("handed out request %d, want %d", j.req, want)
	}
	if now := d.clk.now(); now < d.p.intended(want) {
		d.t.Fatalf("request %d handed out at %s, before its intended time %s", want, time.Duration(now), time.Duration(d.p.intended(want)))
	}
}

// TestScheduleIsOpenLoop: requests leave in order and never before their
// intended time; when the only worker stalls, every request that falls due
// meanwhile is counted behind schedule and handed out as soon as the
// worker is free, without waiting; and the requests after the stall keep
// their intended times: the schedule does not shift.
func TestScheduleIsOpenLoop(t *testing.T) {
	const nReq, interval = 40, int64(500 * time.Microsecond)
	start := int64(5 * time.Millisecond)
	// 20000 tx/s in requests of 10: one request every 0.5 ms.
	p := newPhase(1, "t", nReq*10, 10, 20000, start, true, true)
	if p.intended(1)-p.intended(0) != interval {
		t.Fatalf("intended times %d apart, want %d", p.intended(1)-p.intended(0), interval)
	}
	d := startSchedule(t, context.Background(), p, nReq)

	// The worker keeps up: the scheduler sleeps until each intended time.
	for i := range 11 {
		d.expectSleep(p.intended(i), 0, fmt.Sprintf("before request %d", i))
		d.clk.advanceTo(p.intended(i))
		d.take(i)
	}

	// The worker stalls for 5.2 ms after taking request 10: requests 11
	// to 20 fall due. 11 finds the worker's slot free; 12 to 20 find it
	// busy and are counted behind, one at a time as the worker frees it.
	d.expectSleep(p.intended(11), 0, "before request 11")
	d.clk.advanceTo(p.intended(10) + int64(5200*time.Microsecond))
	for i := 11; i < 20; i++ {
		d.expectBehind(int64(i-10), fmt.Sprintf("stalled worker, request %d waiting", i+1))
		d.take(i)
	}
	// Request 20 went into the freed slot; 21 is not due yet, and keeps
	// its intended time.
	d.expectSleep(p.intended(21), 1, "after the stall")
	if got := p.behind.Load(); got != 9 {
		t.Errorf("behind = %d after the stall, want 9 (requests 12 to 20)", got)
	}
	d.take(20)

	// Back on schedule.
	for i := 21; i < nReq; i++ {
		if i > 21 {
			d.expectSleep(p.intended(i), 0, fmt.Sprintf("before request %d", i))
		}
		d.clk.advanceTo(p.intended(i))
		d.take(i)
	}
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the scheduler did not return after its last request")
	}
	if got := p.behind.Load(); got != 9 {
		t.Errorf("behind = %d at the end, want 9", got)
	}
}

// TestScheduleStopsOnCancel: a cancelled run stops the schedule while it
// sleeps, handing out nothing more.
func TestScheduleStopsOnCancel(t *testing.T) {
	p := newPhase(1, "t", 100, 10, 1000, int64(time.Second), true, true)
	ctx, cancel := context.WithCancel(context.Background())
	d := startSchedule(t, ctx, p, 10)
	d.expectSleep(p.intended(0), 0, "before request 0")
	cancel()
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the scheduler did not return after its context was cancelled")
	}
	if n := len(d.b.jobs); n != 0 {
		t.Errorf("%d requests handed out after the cancel", n)
	}
}

// TestWallSleepUntil: the wall clock a run uses never wakes early, does not
// wait for a time already past, and gives up when its context is done.
func TestWallSleepUntil(t *testing.T) {
	b := &bencher{epoch: time.Now()}
	ctx := context.Background()
	target := b.now() + int64(20*time.Millisecond)
	if !b.sleepUntil(ctx, target) {
		t.Fatal("sleepUntil returned false with a live context")
	}
	if now := b.now(); now < target {
		t.Errorf("woke at %s, before %s", time.Duration(now), time.Duration(target))
	}
	if !b.sleepUntil(ctx, 0) {
		t.Error("sleepUntil of a past time returned false")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	woke := make(chan bool, 1)
	go func() { woke <- b.sleepUntil(cancelled, b.now()+int64(time.Hour)) }()
	select {
	case ok := <-woke:
		if ok {
			t.Error("sleepUntil an hour ahead returned true with a cancelled context")
		}
	case <-time.After(10 * time.Second):
		t.Error("sleepUntil an hour ahead ignores its cancelled context")
	}
}

func TestWorkloadMixAndValidity(t *testing.T) {
	doc := processors.DemoCatalog()
	cat := processors.NewCatalog(processors.Limits{})
	cat.Load(doc)
	w := &workload{space: newCatalogSpace(doc), records: 10000, seed: 7, run: "testrun"}

	counts := map[processors.TxType]int{}
	const requests, batch = 200, 500
	sentAt := time.Date(2026, 11, 26, 10, 30, 0, 0, time.UTC)
	seenIDs := map[string]bool{}
	for req := range requests {
		rng := w.rng(3, req)
		var txs []scanTx
		for k := range batch {
			txs = w.mixed(txs, rng, 3, req*batch+k, sentAt.Add(-time.Second), "bench-user-01")
		}
		// Through the service's own decoder and catalog check, exactly as
		// ingest accepts an upload.
		body := appendUpload(nil, "BENCH-SCANNER-01", sentAt, txs)
		up, rerr := ingest.DecodeUpload(body)
		if rerr != nil {
			t.Fatalf("request %d: upload rejected: %v\n%s", req, rerr, truncate(body, 500))
		}
		if len(up.Transactions) != batch {
			t.Fatalf("request %d: %d transactions decoded, want %d", req, len(up.Transactions), batch)
		}
		for k, raw := range up.Transactions {
			tx, id, rej := ingest.DecodeTransaction(raw, &up, sentAt, ingest.TimeBounds{})
			if rej != nil {
				t.Fatalf("%s rejected at decode: %v\n%s", id, rej, raw)
			}
			if rej := cat.Check(&tx); rej != nil {
				t.Fatalf("%s rejected by the demo catalog: %v\n%s", id, rej, raw)
			}
			if tx.TransactionID != txs[k].ID || tx.Type != txs[k].Type || tx.Quantity != txs[k].Quantity {
				t.Fatalf("round trip changed %+v into %+v", txs[k], tx)
			}
			if seenIDs[id] {
				t.Fatalf("transactionId %s generated twice", id)
			}
			seenIDs[id] = true
			counts[tx.Type]++
		}
	}
	total := float64(requests * batch)
	for typ, want := range map[processors.TxType]float64{processors.Pick: mixPick, processors.Receipt: mixReceipt,
		processors.Move: mixMove, processors.Adjustment: mixAdjustment, processors.CycleCount: mixCycleCount} {
		if got := 100 * float64(counts[typ]) / total; math.Abs(got-want) > 1 {
			t.Errorf("%s: %.2f%% of the mix, want %.0f%% ± 1", typ, got, want)
		}
	}

	// The same seed, phase and request give the same transactions.
	a := w.mixed(nil, w.rng(3, 17), 3, 0, sentAt, "u")
	b := w.mixed(nil, w.rng(3, 17), 3, 0, sentAt, "u")
	if a[0] != b[0] {
		t.Errorf("not deterministic: %+v vs %+v", a[0], b[0])
	}

	// Preload receipts are valid too.
	var rs []scanTx
	for i := range 2000 {
		rs = w.receipt(rs, w.rng(0, 0), 0, i, sentAt)
	}
	up, rerr := ingest.DecodeUpload(appendUpload(nil, "BENCH-PRELOAD-01", sentAt, rs[:maxUpload]))
	if rerr != nil {
		t.Fatal(rerr)
	}
	for _, raw := range up.Transactions {
		tx, id, rej := ingest.DecodeTransaction(raw, &up, sentAt, ingest.TimeBounds{})
		if rej == nil {
			rej = cat.Check(&tx)
		}
		if rej != nil || tx.Type != processors.Receipt {
			t.Fatalf("preload %s: %v %s", id, rej, tx.Type)
		}
	}
}

// TestCatalogSpace: record indexes name distinct stock records of the demo
// catalog, lots exactly where the item is lot-tracked, spread over stock
// keys; moves stay within warehouse, item and lot.
func TestCatalogSpace(t *testing.T) {
	doc := processors.DemoCatalog()
	cat := processors.NewCatalog(processors.Limits{})
	cat.Load(doc)
	s := newCatalogSpace(doc)
	if s.base != 8*3000*320 {
		t.Fatalf("base = %d, want 7680000", s.base)
	}
	check := func(indexes []int, n int) {
		t.Helper()
		seen := map[string]int{}
		for _, i := range indexes {
			r := s.record(i)
			key := fmt.Sprintf("%s/%s/%s/%s", s.warehouses[r.w], s.items[r.item], s.locations[r.loc], s.lot(r))
			if j, dup := seen[key]; dup {
				t.Fatalf("records %d and %d are both %s", j, i, key)
			}
			seen[key] = i
			to := s.locations[s.moveTarget(i, n)]
			tx := processors.Transaction{TransactionID: "x", Type: processors.Move, WarehouseID: s.warehouses[r.w],
				ItemID: s.items[r.item], LocationID: s.locations[r.loc], LotNumber: s.lot(r), Quantity: 1, ToLocationID: to}
			if rej := cat.Check(&tx); rej != nil {
				t.Fatalf("record %d (%s): MOVE to %s rejected: %v", i, key, to, rej)
			}
		}
	}
	all := make([]int, 50000)
	for i := range all {
		all[i] = i
	}
	check(all, len(all))
	// Around the end of the plain space and into the lot generations.
	var edge []int
	for i := s.base - 30000; i < s.base+30000; i++ {
		edge = append(edge, i)
	}
	for i := s.base + 1536000 - 20000; i < s.base+1536000+20000; i++ {
		edge = append(edge, i)
	}
	check(edge, 20_000_000)

	// 10000 records cover 10000 stock keys: the load reaches every partition.
	keys := map[string]bool{}
	for i := range 10000 {
		r := s.record(i)
		keys[processors.StockKey(s.warehouses[r.w], s.items[r.item])] = true
	}
	if len(keys) != 10000 {
		t.Errorf("10000 records span %d stock keys, want 10000", len(keys))
	}
	// With enough records, a MOVE goes to another record of the set.
	n := 100000
	if r, to := s.record(5), s.moveTarget(5, n); s.record(5+s.stride(5)).loc != to || to == r.loc {
		t.Errorf("moveTarget(5) = %d, want the location of record %d", to, 5+s.stride(5))
	}
}

func encodeEvent(t *testing.T, codec *schemas.Set, eventID string) []byte {
	t.Helper()
	lot := "LOT-1"
	v, err := codec.AppendInventoryEvent(nil, &schemas.InventoryEvent{
		EventID: eventID, EventType: schemas.EventInventoryMove, ItemID: "ITEM-10000", WarehouseID: "WH-001",
		LocationID: "A-01-01", LotNumber: &lot, TransactionID: "x", ScannerID: "s", UserID: "u",
		Timestamp: time.Now(), DeviceTimestamp: time.Now(), CorrectedTimestamp: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParseEventID(t *testing.T) {
	codec, err := schemas.New(context.Background(), schemas.Config{})
	if err != nil {
		t.Fatal(err)
	}
	w := &workload{run: "mwxu1xmf"}
	prefix := "bench." + w.run + "."
	txid := w.txID(12, 34567)
	for _, c := range []struct {
		eventID    string
		phase, seq int
		ok         bool
	}{
		{"evt-" + txid + "-1", 12, 34567, true},
		{"evt-" + txid + "-2", 12, 34567, true},
		{"evt-" + txid, 12, 34567, true}, // eventIds without a leg number also match
		{"evt-" + w.txID(0, 0) + "-1", 0, 0, true},
		{"evt-bench.otherrun.12.34567-1", 0, 0, false}, // another run
		{"evt-" + txid + "x", 0, 0, false},
		{"evt-" + txid + "-", 0, 0, false},
		{"evt-" + txid + "-1-1", 0, 0, false},
		{"evt-" + prefix + "12", 0, 0, false},
		{"evt-" + prefix + "12.", 0, 0, false},
		{"evt-0b6f1f0e-5c1a-4a57-9a3e-3f1f3d7e2a10-1", 0, 0, false}, // a scanner's
		{txid, 0, 0, false},
		{"", 0, 0, false},
	} {
		ph, seq, ok := parseEventID(encodeEvent(t, codec, c.eventID), prefix)
		if ok != c.ok || ph != c.phase || seq != c.seq {
			t.Errorf("parseEventID(%q) = %d, %d, %v; want %d, %d, %v", c.eventID, ph, seq, ok, c.phase, c.seq, c.ok)
		}
	}
	v := encodeEvent(t, codec, "evt-"+txid+"-1")
	for _, bad := range [][]byte{nil, {0}, v[:5], v[:10], append([]byte{1}, v[1:]...), {0, 0, 0, 0, 1, 0x7f}} {
		if _, _, ok := parseEventID(bad, prefix); ok {
			t.Errorf("parseEventID(%x) matched", bad)
		}
	}
}

// TestPhaseMatching: a transaction counts as applied when its last event is
// read (both for a MOVE), its latency runs from its request's intended
// time, and extra events are counted, not double-recorded.
func TestPhaseMatching(t *testing.T) {
	ms := int64(time.Millisecond)
	p := newPhase(2, "t", 4, 2, 200, 0, true, true) // requests of 2, one every 10 ms
	p.legs[0].Store(1)
	p.legs[1].Store(2) // a MOVE
	p.legs[2].Store(1)
	p.legs[3].Store(1)

	p.onEvent(0, 5*ms) // request 0, intended 0
	p.onEvent(1, 7*ms)
	if p.seenTx.Load() != 1 {
		t.Fatalf("seen %d after one leg of the MOVE, want 1", p.seenTx.Load())
	}
	p.onEvent(1, 9*ms)
	p.onEvent(2, 30*ms) // request 1, intended 10 ms
	p.onEvent(2, 31*ms) // duplicate
	p.onEvent(9, 31*ms) // not of this phase
	if p.seenTx.Load() != 3 || p.seenEv.Load() != 5 || p.dupEv.Load() != 1 || p.unknownEv.Load() != 1 {
		t.Errorf("seen %d tx, %d events, %d duplicate, %d unknown; want 3, 5, 1, 1",
			p.seenTx.Load(), p.seenEv.Load(), p.dupEv.Load(), p.unknownEv.Load())
	}
	l := p.latency()
	if l.Count != 3 || math.Abs(l.Max-20) > 0.05 || math.Abs(l.P50-9) > 0.05 {
		t.Errorf("latency %+v; want 3 values: 5, 9 and 20 ms", l)
	}
	if p.done() {
		t.Errorf("done with transaction 3 neither seen nor lost")
	}
	p.rejectedTx.Add(1)
	if !p.done() {
		t.Errorf("not done with every transaction seen or lost")
	}
}

func TestJudge(t *testing.T) {
	const rate = 10000
	d := 10 * time.Second
	// steady builds samples every 100 ms of a service with a constant
	// latency lat applying at most capacity tx/s, with stall seconds of
	// nothing applied from stallAt.
	steady := func(lat time.Duration, capacity float64, stallAt, stall time.Duration, lostShare float64) []sample {
		var out []sample
		var applied float64
		for at := 100 * time.Millisecond; at <= d+time.Second; at += 100 * time.Millisecond {
			offered := offeredAt(at, rate, 100, rate*10/100)
			ready := float64(offeredAt(at-lat, rate, 100, rate*10/100))
			if at < stallAt || at >= stallAt+stall {
				applied = min(ready, applied+capacity/10)
			}
			lost := int64(lostShare * float64(offered))
			out = append(out, sample{At: at, Offered: offered, Seen: int64(applied) - lost, Lost: lost})
			if at >= d && int64(applied) >= offered {
				break // as openLoop: sampling ends once everything is applied
			}
		}
		return out
	}
	for _, c := range []struct {
		name    string
		samples []sample
		holds   bool
		reason  string
	}{
		{"keeps up with 50 ms latency", steady(50*time.Millisecond, 1e9, 0, 0, 0), true, ""},
		{"keeps up with 800 ms latency", steady(800*time.Millisecond, 1e9, 0, 0, 0), true, ""},
		{"caught up after a 2 s stall early on", steady(50*time.Millisecond, 20000, 2*time.Second, 2*time.Second, 0), true, ""},
		{"capacity 80% of the rate", steady(50*time.Millisecond, 8000, 0, 0, 0), false, "applied by the end"},
		{"capacity 90%: delivers 99% but the backlog grows", steady(50*time.Millisecond, 9000, 0, 0, 0), false, "backlog floor growing"},
		{"capacity 97%: within the 5% tolerance", steady(50*time.Millisecond, 9700, 0, 0, 0), true, ""},
		{"a 1 s hiccup late in the step, recovered", steady(50*time.Millisecond, 20000, 8*time.Second, time.Second, 0), true, ""},
		{"stalled at the end", steady(50*time.Millisecond, 1e9, 8*time.Second, 5*time.Second, 0), false, "applied by the end"},
		{"2% of transactions fail", steady(50*time.Millisecond, 1e9, 0, 0, 0.02), false, "failed or were rejected"},
		{"no samples", nil, false, "no samples"},
	} {
		v := judge(rate, d, c.samples)
		if v.Holds != c.holds || !strings.Contains(v.Reason, c.reason) {
			t.Errorf("%s: holds %v (%q), want %v (%q); %+v", c.name, v.Holds, v.Reason, c.holds, c.reason, v)
		}
	}
	v := judge(rate, d, steady(50*time.Millisecond, 1e9, 0, 0, 0))
	if math.Abs(v.Applied-rate) > 0.02*rate || math.Abs(v.Growth) > 0.01*rate {
		t.Errorf("steady: applied %.0f tx/s, growth %.0f tx/s; want %d and 0", v.Applied, v.Growth, rate)
	}
}

func TestCountResults(t *testing.T) {
	ok := func(id string) map[string]any {
		return map[string]any{"transactionId": id, "status": "accepted", "code": nil, "message": nil}
	}
	enc := func(rs ...map[string]any) []byte {
		b, _ := json.Marshal(map[string]any{"results": rs})
		return b
	}
	if a, r, _, err := countResults(enc(ok("a"), ok("b")), 2); err != nil || a != 2 || r != 0 {
		t.Errorf("all accepted: %d, %d, %v", a, r, err)
	}
	rej := map[string]any{"transactionId": "c", "status": "rejected", "code": "UNKNOWN_ITEM", "message": "item X"}
	dup := map[string]any{"transactionId": "d", "status": "duplicate", "code": nil, "message": nil}
	if a, r, why, err := countResults(enc(ok("a"), rej, dup), 3); err != nil || a != 2 || r != 1 || !strings.Contains(why, "UNKNOWN_ITEM") {
		t.Errorf("mixed: %d, %d, %q, %v", a, r, why, err)
	}
	if _, _, _, err := countResults(enc(ok("a")), 2); err == nil {
		t.Errorf("1 result for 2 transactions: no error")
	}
	if _, _, _, err := countResults([]byte("<html>"), 1); err == nil {
		t.Errorf("not JSON: no error")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{URL: "http://127.0.0.1:8080", Brokers: []string{"127.0.0.1:9092"}}).withDefaults().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	err := (Config{URL: "127.0.0.1:8080", BatchSize: 2000, Rates: []int{10, 5}, Records: -1, BrokerKind: "redpanda"}).withDefaults().Validate()
	for _, want := range []string{"URL", "Brokers", "BatchSize", "ascend", "Records", "BrokerKind"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v; want it to name %s", err, want)
		}
	}
}

// TestReportOutputs: the JSON is one line with the documented names, and the
// table copes with a run that stopped early.
func TestReportOutputs(t *testing.T) {
	st := Step{Name: "latency", Rate: 10000, Holds: true, Latency: Latency{Count: 1, P50: 1.5}}
	r := Report{Broker: "embedded", Partitions: 12, Records: 10000, SustainedTPS: 10000, BaselineTPS: 500000,
		Ratio: 0.02, P50Ms: 1.5, Latency: &st, Steps: []Step{st}, Backlog: &Backlog{Scanners: 50}}
	var b strings.Builder
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Count(b.String(), "\n") != 1 || !strings.HasSuffix(b.String(), "}\n") {
		t.Errorf("not one line of JSON: %q", b.String())
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(b.String()), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"broker", "partitions", "records", "sustained_tps", "baseline_tps", "ratio", "p50_ms", "p99_ms", "p999_ms", "rss_mb", "steps", "backlog"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b.String())
		}
	}
	b.Reset()
	r.WriteTable(&b)
	for _, want := range []string{"sustained", "10000", "ratio", "Offline backlog"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	Report{}.WriteTable(&b) // a run that failed before measuring
	if strings.Contains(b.String(), "Throughput") {
		t.Errorf("empty report prints a throughput section:\n%s", b.String())
	}
}
