package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"
)

// Kind is what a planned event is.
type Kind int

// The kinds of planned events.
const (
	Receipt   Kind = iota // stock arrives and is put away (scanned)
	FloorPick             // stock leaves without an order (scanned)
	Move                  // stock moves between two slots of an item (scanned)
	Count                 // a cycle count of a slot (scanned; may be mis-keyed)
	Shrink                // units vanish: truth changes, nothing is scanned
	Damage                // units are damaged and thrown away unscanned
	OrderLine             // the cloud gets an order line to allocate
)

var kindNames = [...]string{"receipt", "floor pick", "move", "count", "shrinkage", "damage", "order line"}

func (k Kind) String() string { return kindNames[k] }

// MisKey is how a count was typed wrong.
type MisKey int

// Mis-keys: a digit dropped or doubled.
const (
	KeyedRight MisKey = iota
	DigitDropped
	DigitDoubled
)

// Event is one planned physical event (or order line) at a simulated
// moment. Quantities are what the plan wants; a pick or move takes at
// most what is physically there, and a count reads the truth.
type Event struct {
	At      time.Duration
	Kind    Kind
	Slot    int // the slot (for an order line, one slot of the item: its warehouse and item)
	To      int // a move's destination slot
	Qty     int64
	Scanner int // who scans it (a count's first counter)
	MisKey  MisKey
	Digit   int // which digit a mis-key drops or doubles (mod the digits)
	// Second is the scanner counting the slot again Again later (-1: nobody).
	Second int
	Again  time.Duration
	Order  int // order line number within the run
}

// Plan is the day's events in time order, and the cloud's outages.
type Plan struct {
	Events  []Event
	Outages []Zone
}

// newPlan draws the day's events of w from cfg's seed.
func newPlan(cfg Config, w *World) *Plan {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed_0002))
	r := cfg.Rates
	day := cfg.day()
	frac := cfg.Hours / 24
	at := func() time.Duration {
		// Never in the first simulated minute: the opening stock goes
		// in first.
		return time.Minute + time.Duration(rng.Float64()*float64(day-time.Minute))
	}
	var evs []Event
	order := 0
	for wh := range w.Warehouses {
		scanners := w.scannersOf(wh)
		who := func() int { return scanners[rng.IntN(len(scanners))] }
		demand := w.demandPicker(wh)
		add := func(e Event) {
			e.Second, e.Scanner = -1, -1
			if e.Kind != OrderLine {
				e.Scanner = who() // an order line is picked by whoever is free then
			}
			evs = append(evs, e)
		}
		for range poisson(rng, r.OrderLines*frac) {
			s := demand(rng)
			order++
			add(Event{At: at(), Kind: OrderLine, Slot: s, Qty: 1 + rng.Int64N(orderMax(w.Items[w.Slots[s].Item].Class)), Order: order})
		}
		for range poisson(rng, r.Receipts*frac) {
			s := demand(rng)
			lo, hi := openingRange(w.Items[w.Slots[s].Item].Class)
			add(Event{At: at(), Kind: Receipt, Slot: s, Qty: lo + rng.Int64N(hi-lo+1)})
		}
		for range poisson(rng, r.FloorPicks*frac) {
			add(Event{At: at(), Kind: FloorPick, Slot: demand(rng), Qty: 1 + rng.Int64N(5)})
		}
		var pairs [][]int
		for it := range w.Items {
			if ss := w.slotsOf[[2]int{wh, it}]; len(ss) > 1 {
				pairs = append(pairs, ss)
			}
		}
		for range poisson(rng, r.Moves*frac) {
			if len(pairs) == 0 {
				break
			}
			p := pairs[rng.IntN(len(pairs))]
			from, to := p[0], p[1]
			if rng.IntN(2) == 0 {
				from, to = to, from
			}
			add(Event{At: at(), Kind: Move, Slot: from, To: to, Qty: 1 + rng.Int64N(20)})
		}
		for range poisson(rng, r.Shrinkage*frac) {
			add(Event{At: at(), Kind: Shrink, Slot: w.randomSlot(rng, wh), Qty: 1 + rng.Int64N(3)})
		}
		for range poisson(rng, r.Damage*frac) {
			add(Event{At: at(), Kind: Damage, Slot: w.randomSlot(rng, wh), Qty: 1 + rng.Int64N(2)})
		}
	}
	for s, slot := range w.Slots {
		scanners := w.scannersOf(slot.WH)
		for range poisson(rng, r.CountsPerDay[w.Items[slot.Item].Class]*frac) {
			e := Event{At: at(), Kind: Count, Slot: s, Scanner: scanners[rng.IntN(len(scanners))], Second: -1}
			if rng.Float64() < r.MisKey {
				e.MisKey, e.Digit = MisKey(1+rng.IntN(2)), rng.IntN(6)
			}
			if len(scanners) > 1 && rng.Float64() < r.DoubleCount {
				for e.Second = e.Scanner; e.Second == e.Scanner; {
					e.Second = scanners[rng.IntN(len(scanners))]
				}
				e.Again = time.Duration(rng.Float64() * float64(90*time.Second))
			}
			evs = append(evs, e)
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].At < evs[j].At })
	return &Plan{Events: evs, Outages: outages(cfg)}
}

// outages draws the cloud's brief outages (their own random stream: the
// rest of the plan does not depend on them), in time order, apart.
func outages(cfg Config) []Zone {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed_0007))
	day := cfg.day()
	var out []Zone
	for range poisson(rng, cfg.Rates.CloudOutages*cfg.Hours/24) {
		// Log-uniform from 2 to 15 minutes: brief.
		d := time.Duration(float64(2*time.Minute) * math.Pow(7.5, rng.Float64())).Truncate(time.Second)
		from := time.Minute + time.Duration(rng.Float64()*float64(day-time.Minute))
		out = append(out, Zone{From: from, To: min(from+d, day)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].From < out[j].From })
	// Overlapping spells are one outage.
	var merged []Zone
	for _, z := range out {
		if n := len(merged); n > 0 && z.From <= merged[n-1].To {
			merged[n-1].To = max(merged[n-1].To, z.To)
			continue
		}
		merged = append(merged, z)
	}
	return merged
}

// orderMax is the largest quantity of an order line by class.
func orderMax(class int) int64 { return [...]int64{12, 6, 3}[class] }

// demandPicker returns a function drawing a slot of warehouse wh by demand:
// an A item is wanted six times as often as a C item, a B item 2.5 times.
func (w *World) demandPicker(wh int) func(*rand.Rand) int {
	var slots []int
	var cum []float64
	total := 0.0
	for it, item := range w.Items {
		ss := w.slotsOf[[2]int{wh, it}]
		weight := [...]float64{6, 2.5, 1}[item.Class] / float64(len(ss))
		for _, s := range ss {
			total += weight
			slots, cum = append(slots, s), append(cum, total)
		}
	}
	return func(rng *rand.Rand) int {
		x := rng.Float64() * total
		return slots[sort.SearchFloat64s(cum, x)]
	}
}

func (w *World) randomSlot(rng *rand.Rand, wh int) int {
	for {
		if s := rng.IntN(len(w.Slots)); w.Slots[s].WH == wh {
			return s
		}
	}
}

// Digest is a fingerprint of the world and the plan: two runs with the
// same seed and sizes have the same digest.
func Digest(w *World, p *Plan) string {
	h := sha256.New()
	fmt.Fprintf(h, "%v|%v|%v|", w.Warehouses, len(w.Locations), w.Items)
	for i, s := range w.Slots {
		fmt.Fprintf(h, "%v=%d|", s, w.Opening[i])
	}
	for _, s := range w.Scanners {
		fmt.Fprintf(h, "%v|", s)
	}
	for _, e := range p.Events {
		fmt.Fprintf(h, "%+v|", e)
	}
	for _, o := range p.Outages {
		fmt.Fprintf(h, "outage %v|", o)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// misKey applies a mis-key to the counted quantity q: a digit dropped
// (45 → 4; a one-digit count loses its only digit and reads 0) or doubled
// (45 → 455).
func misKey(q int64, m MisKey, digit int) int64 {
	s := fmt.Sprint(q)
	i := digit % len(s)
	var out string
	switch m {
	case DigitDropped:
		out = s[:i] + s[i+1:]
	case DigitDoubled:
		out = s[:i+1] + s[i:]
	default:
		return q
	}
	var v int64
	for _, c := range out {
		v = v*10 + int64(c-'0')
	}
	return v
}
