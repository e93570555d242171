package sim

import (
	"context"
	"math/rand/v2"
	"time"
)

// The story's two systems, modelled beside the real one. Each is a world
// of its own: its own physical stock (the plan's receipts, floor picks,
// moves, counts, shrinkage and damage happen in it as in invsync's, by the
// same scanners at the same moments), its own warehouse record, its own
// cloud view, and its own allocations and picks of the day's order lines.
// Nothing passes between the worlds: a system sees only the counts of the
// plan and those its own pickers make.

// The systems' names in Result.Systems (the contract of --json).
const (
	SystemInvsync     = "invsync"
	SystemStoryAfter  = "story_after"
	SystemStoryBefore = "story_before"
)

// Systems is the order of the columns.
var Systems = []string{SystemInvsync, SystemStoryAfter, SystemStoryBefore}

// The causes a wrong record or an allocation error is attributed to.
const (
	CauseUnscanned    = "unscanned shrinkage"
	CauseMisKeyed     = "mis-keyed count applied"
	CausePaperTypo    = "mis-keyed from paper"
	CauseLateCount    = "late offline count applied last-write-wins"
	CauseLateUpdate   = "late offline update applied after a count"
	CauseSkew         = "skewed clock"
	CauseLost         = "lost update"
	CauseStaleView    = "allocation against a stale view"
	CauseAfterAlloc   = "stock gone between allocation and pick"
	CauseInFlight     = "not yet delivered"
	CauseHeld         = "count held for review"
	CauseNotAttribute = "not attributed"
)

// The story's parameters, each from the story or a stated assumption
// (ACCURACY.md lists them).
const (
	// "Cloud subscribes to topic, receives event within 1-2 seconds."
	// The before's webhooks are assumed to take as long (the story gives
	// no figure for them).
	storyLatencyMin, storyLatencyMax = time.Second, 2 * time.Second
	// "99.7% event delivery success rate": a delivery fails with
	// probability 0.003 and is retried ("with retry logic") after the
	// story's 30-second background sync period.
	storyDeliveryFails = 0.003
	storyRetryAfter    = 30 * time.Second
	// "it acquires soft lock for 30 minutes".
	storyLockTTL = 30 * time.Minute
)

type storyKind int

const (
	storyBefore storyKind = iota
	storyAfter
)

// lwwRecord is one stock record of a story warehouse: on-hand, the device
// timestamp of its latest write (last write wins, the timestamp as
// tiebreaker), the physical order of that write, and a version.
type lwwRecord struct {
	onHand  int64
	last    time.Duration // device timestamp, as simulated time
	lastSeq int
	written bool
	version int
}

// change is one scanned change of one slot's stock (a receipt, a pick,
// one side of a move), tracked until the warehouse has applied it.
type change struct {
	seq     int
	slot    int
	d       int64
	keyed   int64 // what reaches the record (a typo from paper differs)
	applied bool
	stale   bool // a count taken after it was applied first: it counts twice
}

// storyOp is one scan as it travels to a story warehouse.
type storyOp struct {
	seq       int
	scanner   int // -1: a picker's count at the shelf, online
	at        time.Duration
	ts        time.Duration // device timestamp
	offline   bool
	changes   []*change
	count     bool
	slot      int
	typed     int64 // a count's quantity as it reaches the record
	trueQty   int64 // what was physically there
	planCount bool  // a count of the plan (count accuracy)
}

// storyMeasures are a story system's books.
type storyMeasures struct {
	counts, countsExact, countsTolerant int
	allocations, confirmed, backorders  int
	rejected, oversells, allocErrors    int
	errorsByHour                        []int
	latency                             []time.Duration
	lost, duplicated                    int
	allocCauses                         map[string]int
	lockWarnings, keyedFromPaper        int
}

// storySys is the story's before or after system.
type storySys struct {
	kind    storyKind
	world   *World
	rates   Rates
	day     time.Duration
	seed    uint64
	outages []Zone
	rng     *rand.Rand
	agenda  schedule
	seq     int

	phys     []int64
	rec      []lwwRecord
	view     []int64
	viewVer  []int
	lostD    []int64 // units of changes the cloud never received, by slot
	changes  [][]*change
	vanished [][]change // unscanned losses (seq, units)
	contrib  []map[string]int64
	locks    map[int]storyLock

	cloudHeld, whHeld, physHeld []int64

	m storyMeasures
}

type storyLock struct {
	scanner int
	until   time.Duration
}

func newStory(kind storyKind, cfg Config, w *World, p *Plan) *storySys {
	n := len(w.Slots)
	s := &storySys{kind: kind, world: w, rates: cfg.Rates, day: cfg.day(), seed: cfg.Seed, outages: p.Outages,
		rng:  rand.New(rand.NewPCG(cfg.Seed, 0x5eed_0010+uint64(kind))),
		phys: append([]int64(nil), w.Opening...), rec: make([]lwwRecord, n), view: append([]int64(nil), w.Opening...),
		viewVer: make([]int, n), lostD: make([]int64, n), changes: make([][]*change, n), vanished: make([][]change, n),
		contrib: make([]map[string]int64, n), locks: map[int]storyLock{},
		cloudHeld: make([]int64, n), whHeld: make([]int64, n), physHeld: make([]int64, n),
		m: storyMeasures{allocCauses: map[string]int{}, errorsByHour: make([]int, int(cfg.Hours+0.999999))}}
	for i := range n {
		s.rec[i] = lwwRecord{onHand: w.Opening[i]}
		s.contrib[i] = map[string]int64{}
	}
	if kind == storyAfter {
		for t := ReconcileEvery; t < s.day; t += ReconcileEvery {
			s.agenda.add(t, "reconcile", func(_ context.Context, t time.Duration) error {
				s.reconcile(t)
				return nil
			})
		}
	}
	return s
}

func (s *storySys) name() string {
	if s.kind == storyBefore {
		return SystemStoryBefore
	}
	return SystemStoryAfter
}

// advance runs what the system has due up to t.
func (s *storySys) advance(t time.Duration) {
	for {
		a, _ := s.agenda.next(t)
		if a == nil {
			return
		}
		_ = a.do(context.Background(), a.at)
	}
}

// endOfDay delivers everything still on its way (dead zones end, outages
// end); picks and reconciliations due after the day are not done.
func (s *storySys) endOfDay() {
	s.advance(s.day)
	for {
		a, _ := s.agenda.next(1 << 62)
		if a == nil {
			return
		}
		if a.what == "deliver" {
			_ = a.do(context.Background(), max(a.at, s.day))
		}
	}
}

// cloudDown reports whether t falls in a cloud outage, and its end.
func (s *storySys) cloudDown(t time.Duration) (bool, time.Duration) {
	for _, o := range s.outages {
		if t >= o.From && t < o.To {
			return true, o.To
		}
	}
	return false, 0
}

func (s *storySys) latency() time.Duration {
	return storyLatencyMin + time.Duration(s.rng.Float64()*float64(storyLatencyMax-storyLatencyMin))
}

// The physical day, as the plan has it (main loop, at simulated moment t).

func (s *storySys) newChange(slot int, d int64) *change {
	c := &change{seq: s.seq, slot: slot, d: d, keyed: d}
	s.changes[slot] = append(s.changes[slot], c)
	s.contrib[slot][CauseInFlight] -= d // the stock moved; the record has not heard yet
	return c
}

// physical runs one planned event; scanner is who scans it.
func (s *storySys) physical(e Event, t time.Duration) {
	s.seq++
	op := &storyOp{seq: s.seq, scanner: e.Scanner, at: t}
	switch e.Kind {
	case Receipt:
		s.phys[e.Slot] += e.Qty
		op.changes = []*change{s.newChange(e.Slot, e.Qty)}
	case FloorPick, Move:
		got := s.take(e.Slot, e.Qty)
		if got == 0 {
			return
		}
		op.changes = []*change{s.newChange(e.Slot, -got)}
		if e.Kind == Move {
			s.phys[e.To] += got
			op.changes = append(op.changes, s.newChange(e.To, got))
		}
	case Shrink, Damage:
		got := s.take(e.Slot, e.Qty)
		if got > 0 {
			s.vanished[e.Slot] = append(s.vanished[e.Slot], change{seq: s.seq, d: got})
			s.contrib[e.Slot][CauseUnscanned] += got
		}
		return
	case Count:
		s.count(e.Slot, e.Scanner, t, e.MisKey, e.Digit)
		return
	case OrderLine:
		s.order(e, t)
		return
	}
	s.send(op)
}

// secondCount is the plan's second count of a slot by another scanner.
func (s *storySys) secondCount(slot, scanner int, t time.Duration) {
	s.seq++
	s.count(slot, scanner, t, KeyedRight, 0)
}

func (s *storySys) take(slot int, q int64) int64 {
	q = max(0, min(q, s.phys[slot]))
	s.phys[slot] -= q
	return q
}

// count is a cycle count of the plan.
func (s *storySys) count(slot, scanner int, t time.Duration, m MisKey, digit int) {
	typed := misKey(s.phys[slot], m, digit)
	s.send(&storyOp{seq: s.seq, scanner: scanner, at: t, count: true, slot: slot, typed: typed, trueQty: s.phys[slot], planCount: true})
}

// withinTolerance: counted and held differ by at most the item's ABC
// tolerance of the held quantity.
func withinTolerance(w *World, slot int, counted, held int64) bool {
	return float64(abs(counted-held)) <= w.tolerance(slot)*float64(max(held, 1))
}

// send takes a scan from the scanner to the warehouse: at once when the
// scanner is online; from a dead zone, at the spell's end — after, from
// the device's queue in order with its own timestamps; before, keyed in
// from paper then, stamped then, some typed wrong.
func (s *storySys) send(op *storyOp) {
	var skew time.Duration
	var sc *Scanner
	if op.scanner >= 0 {
		sc = &s.world.Scanners[op.scanner]
		skew = sc.Skew
	}
	op.ts = op.at + skew
	if sc == nil || !sc.offline(op.at) {
		s.apply(op, op.at)
		return
	}
	op.offline = true
	back := op.at
	for _, z := range sc.Zones {
		if op.at >= z.From && op.at < z.To {
			back = max(back, z.To)
		}
	}
	if s.kind == storyBefore {
		s.m.keyedFromPaper++
		op.ts = back + skew
		if s.rng.Float64() < s.rates.MisKey {
			m, digit := MisKey(1+s.rng.IntN(2)), s.rng.IntN(6)
			if op.count {
				op.typed = misKey(op.typed, m, digit)
			} else {
				for _, c := range op.changes {
					c.keyed = sign(c.d) * misKey(abs(c.d), m, digit)
				}
			}
		}
	}
	s.agenda.add(back, "deliver", func(_ context.Context, now time.Duration) error {
		s.apply(op, now)
		return nil
	})
}

func sign(x int64) int64 {
	if x < 0 {
		return -1
	}
	return 1
}

// apply is the warehouse taking a scan at now: deltas add, a count wins
// if its timestamp is not older than the record's latest write.
func (s *storySys) apply(op *storyOp, now time.Duration) {
	if !op.count {
		for _, c := range op.changes {
			r := &s.rec[c.slot]
			r.onHand += c.keyed
			r.version++
			if !r.written || op.ts > r.last {
				r.last, r.written = op.ts, true
			}
			c.applied = true
			cause := CauseInFlight
			if c.stale {
				cause = CauseLateUpdate
			}
			s.contrib[c.slot][cause] += c.d
			if c.keyed != c.d {
				s.contrib[c.slot][CausePaperTypo] += c.keyed - c.d
			}
			s.toCloud(op, c.slot, c.keyed, now)
		}
		return
	}
	slot, r := op.slot, &s.rec[op.slot]
	if op.planCount {
		// Count accuracy: the count against what the record holds when
		// the count reaches it.
		s.m.counts++
		if op.typed == r.onHand {
			s.m.countsExact++
		}
		if withinTolerance(s.world, slot, op.typed, r.onHand) {
			s.m.countsTolerant++
		}
	}
	if s.kind == storyAfter && !op.offline && op.scanner >= 0 {
		// Location locks: another scanner counting here in the last 30
		// minutes holds a soft lock; this counter is warned and stops.
		if l, ok := s.locks[slot]; ok && l.scanner != op.scanner && now < l.until {
			s.m.lockWarnings++
			return
		}
		s.locks[slot] = storyLock{scanner: op.scanner, until: now + storyLockTTL}
	}
	if r.written && op.ts < r.last {
		// Refused as older. If it was in fact newer, a clock decided.
		if op.seq > r.lastSeq {
			s.relabel(slot, CauseSkew)
		}
		return
	}
	before := r.onHand
	r.onHand, r.last, r.lastSeq, r.written = op.typed, op.ts, op.seq, true
	r.version++
	s.recount(op, now)
	s.toCloud(op, slot, op.typed-before, now)
}

// recount re-attributes a record's error after a count is applied:
// record − stock = (typed − what was there) + what changed since the
// count, scanned changes the count erased (already applied) or that
// are still on their way, and unscanned losses since.
func (s *storySys) recount(op *storyOp, now time.Duration) {
	slot := op.slot
	erased := CauseLateCount
	if !op.offline {
		erased = CauseSkew // an online count erasing newer changes: only a clock ahead does that
	}
	c := map[string]int64{}
	c[CauseMisKeyed] = op.typed - op.trueQty
	for _, ch := range s.changes[slot] {
		switch {
		case ch.seq > op.seq && ch.applied:
			c[erased] -= ch.d
		case ch.seq > op.seq:
			c[CauseInFlight] -= ch.d
		case !ch.applied:
			ch.stale = true // the count already holds it
		}
	}
	for _, v := range s.vanished[slot] {
		if v.seq > op.seq {
			c[CauseUnscanned] += v.d
		}
	}
	s.contrib[slot] = c
}

// relabel puts every settled part of a record's error on cause.
func (s *storySys) relabel(slot int, cause string) {
	c := s.contrib[slot]
	for k, v := range c {
		if k != CauseInFlight && k != cause && v != 0 {
			c[cause] += v
			delete(c, k)
		}
	}
}

// toCloud sends the warehouse's change of a record to the cloud: before,
// a webhook (the change) lost while the cloud is down; after, an event
// (the change and the resulting position with its version) on a durable
// queue, redelivered until it arrives.
func (s *storySys) toCloud(op *storyOp, slot int, d int64, now time.Duration) {
	r := s.rec[slot]
	timed := !op.offline && op.scanner >= 0 && (op.count || op.changes[0].slot == slot)
	if s.kind == storyBefore {
		if down, _ := s.cloudDown(now); down {
			s.m.lost++
			s.lostD[slot] += d
			return
		}
		at := now + s.latency()
		s.agenda.add(at, "deliver", func(_ context.Context, _ time.Duration) error {
			s.view[slot] += d
			if timed {
				s.m.latency = append(s.m.latency, at-op.at)
			}
			return nil
		})
		return
	}
	at := now + s.latency()
	for s.rng.Float64() < storyDeliveryFails {
		at += storyRetryAfter
	}
	for {
		down, end := s.cloudDown(at)
		if !down {
			break
		}
		at = end + s.latency()
	}
	on, ver := r.onHand, r.version
	s.agenda.add(at, "deliver", func(_ context.Context, _ time.Duration) error {
		if ver > s.viewVer[slot] {
			s.view[slot], s.viewVer[slot] = on, ver
		}
		if timed {
			s.m.latency = append(s.m.latency, at-op.at)
		}
		return nil
	})
}

// reconcile is the after's 15-minute job: the warehouse wins.
func (s *storySys) reconcile(t time.Duration) {
	if down, _ := s.cloudDown(t); down {
		return
	}
	for i := range s.rec {
		s.view[i], s.viewVer[i] = s.rec[i].onHand, s.rec[i].version
	}
}
