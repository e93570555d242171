package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/invsync/invsync/processors"
)

// World is the fleet: warehouses with their locations, the catalog's
// items, the slots (an item at a location of a warehouse: the stock
// records audited), and the scanners with their clocks and dead zones.
// It depends on the seed and the sizes alone.
type World struct {
	Warehouses []string
	Locations  []string // the same location names in every warehouse
	Items      []Item
	Slots      []Slot
	// Opening is each slot's stock when the day starts (put away with
	// receipts before the first event).
	Opening  []int64
	Scanners []Scanner

	slotsOf map[[2]int][]int // (warehouse, item) → slot indexes
}

// Item is a catalog item with its ABC class (0 = A, 1 = B, 2 = C).
type Item struct {
	ID    string
	Class int
}

// Slot is one audited stock record: an item at a location of a warehouse.
type Slot struct {
	WH, Item int
	Loc      string
}

// Scanner is one device: its warehouse, how far its clock is off, and
// when it is in a dead zone (simulated time since the day's start).
type Scanner struct {
	ID    string
	WH    int
	Skew  time.Duration
	Zones []Zone
}

// Zone is a dead-zone spell.
type Zone struct{ From, To time.Duration }

// offline reports whether the scanner is in a dead zone at t.
func (s *Scanner) offline(t time.Duration) bool {
	for _, z := range s.Zones {
		if t >= z.From && t < z.To {
			return true
		}
	}
	return false
}

// classes are the ABC class names by index.
const classes = "ABC"

// newWorld builds the world of cfg (defaults applied) from its seed.
func newWorld(cfg Config) *World {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed_0001))
	w := &World{slotsOf: map[[2]int][]int{}}
	for i := range cfg.Warehouses {
		w.Warehouses = append(w.Warehouses, fmt.Sprintf("%sWH-%02d", cfg.IDPrefix, i+1))
	}
	for i := range cfg.Locations {
		w.Locations = append(w.Locations, locationName(i))
	}
	for i := range cfg.Items {
		// A fifth of the items are A, three tenths B, the rest C: the
		// usual Pareto split of a warehouse's range.
		class := 2
		switch {
		case i < cfg.Items/5:
			class = 0
		case i < cfg.Items/2:
			class = 1
		}
		w.Items = append(w.Items, Item{ID: fmt.Sprintf("SKU-%05d", i+1), Class: class})
	}
	for wh := range w.Warehouses {
		for it, item := range w.Items {
			n := 1
			if rng.Float64() < 0.3 {
				n = 2 // a reserve location beside the pick face
			}
			used := map[string]bool{}
			for range n {
				loc := w.Locations[rng.IntN(len(w.Locations))]
				if used[loc] {
					continue
				}
				used[loc] = true
				w.slotsOf[[2]int{wh, it}] = append(w.slotsOf[[2]int{wh, it}], len(w.Slots))
				w.Slots = append(w.Slots, Slot{WH: wh, Item: it, Loc: loc})
				lo, hi := openingRange(item.Class)
				w.Opening = append(w.Opening, lo+rng.Int64N(hi-lo+1))
			}
		}
	}
	w.Scanners = newScanners(cfg, w, rng)
	return w
}

// openingRange is the stock of a slot when the day starts, and the size
// of a receipt, by class: a pick face holds about two days of demand, so
// some items run short during a day and the cloud meets real scarcity.
func openingRange(class int) (int64, int64) {
	switch class {
	case 0:
		return 20, 80
	case 1:
		return 8, 40
	}
	return 3, 15
}

// locationName is aisle-bay-level, as "A-05-02": 50 locations an aisle.
func locationName(i int) string {
	aisle := string(rune('A' + (i/50)%26))
	if n := i / (50 * 26); n > 0 {
		aisle += strconv.Itoa(n + 1)
	}
	return fmt.Sprintf("%s-%02d-%02d", aisle, (i%50)/5+1, i%5+1)
}

// newScanners makes the fleet with its clock errors and dead zones.
func newScanners(cfg Config, w *World, rng *rand.Rand) []Scanner {
	var out []Scanner
	day := cfg.day()
	for wh := range w.Warehouses {
		for s := range cfg.ScannersPerWarehouse {
			sc := Scanner{ID: fmt.Sprintf("%s-SC%02d", w.Warehouses[wh], s+1), WH: wh}
			if cfg.Rates.ClockSkew && rng.Float64() < 1.0/3 {
				sc.Skew = time.Duration((rng.Float64()*2 - 1) * float64(2*time.Minute)).Truncate(time.Millisecond)
			}
			for range poisson(rng, cfg.Rates.DeadZones*cfg.Hours/24) {
				// Log-uniform from 5 minutes to 2 hours: mostly short
				// spells in a corner of the racking.
				d := time.Duration(float64(5*time.Minute) * math.Pow(24, rng.Float64()))
				from := time.Duration(rng.Float64() * float64(day))
				sc.Zones = append(sc.Zones, Zone{From: from, To: min(from+d, day)})
			}
			out = append(out, sc)
		}
	}
	if cfg.Rates.ClockSkew && len(out) > 1 {
		out[1].Skew = 3 * time.Hour // one device whose clock is hours off
	}
	if cfg.Rates.DeadZones > 0 {
		// One scanner spends 8 hours out of reach (the story's longest
		// offline shift), starting in the first half of the day.
		last := &out[len(out)-1]
		from := time.Duration((0.1 + 0.3*rng.Float64()) * float64(day))
		last.Zones = append(last.Zones, Zone{From: from, To: min(from+8*time.Hour, day)})
	}
	return out
}

// poisson draws a Poisson-distributed count of mean m.
func poisson(rng *rand.Rand, m float64) int {
	if m <= 0 {
		return 0
	}
	if m > 50 {
		return max(0, int(math.Round(m+math.Sqrt(m)*rng.NormFloat64())))
	}
	l, k, p := math.Exp(-m), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// catalog is the master data the simulator puts to the system.
func (w *World) catalog() processors.CatalogDoc {
	doc := processors.CatalogDoc{CountTolerances: map[string]float64{}}
	for class, tol := range processors.DefaultCountTolerances {
		doc.CountTolerances[class] = tol
	}
	for _, wh := range w.Warehouses {
		doc.Warehouses = append(doc.Warehouses, processors.Warehouse{WarehouseID: wh, Locations: w.Locations})
	}
	for _, it := range w.Items {
		doc.Items = append(doc.Items, processors.Item{ItemID: it.ID, Description: "simulated " + classes[it.Class:it.Class+1] + " item",
			AbcClass: classes[it.Class : it.Class+1]})
	}
	return doc
}

// tolerance is the count tolerance of slot's item class.
func (w *World) tolerance(slot int) float64 {
	c := classes[w.Items[w.Slots[slot].Item].Class : w.Items[w.Slots[slot].Item].Class+1]
	return processors.DefaultCountTolerances[c]
}

// scannersOf returns the scanner indexes of warehouse wh.
func (w *World) scannersOf(wh int) []int {
	var out []int
	for i, s := range w.Scanners {
		if s.WH == wh {
			out = append(out, i)
		}
	}
	return out
}
