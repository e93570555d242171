package sim

import (
	"strings"
	"testing"
	"time"
)

func TestSameSeedSameDay(t *testing.T) {
	cfg := Config{Seed: 42}.withDefaults()
	a, b := newWorld(cfg), newWorld(cfg)
	da, db := Digest(a, newPlan(cfg, a)), Digest(b, newPlan(cfg, b))
	if da != db {
		t.Fatalf("seed 42 gave two days: %s and %s", da, db)
	}
	cfg.Seed = 43
	c := newWorld(cfg)
	if dc := Digest(c, newPlan(cfg, c)); dc == da {
		t.Fatalf("seeds 42 and 43 gave the same day %s", dc)
	}
}

func TestWorldShape(t *testing.T) {
	cfg := Config{Seed: 1}.withDefaults()
	w := newWorld(cfg)
	p := newPlan(cfg, w)
	if len(w.Warehouses) != 8 || len(w.Scanners) != 32 || len(w.Slots) < 8*150 || len(w.Slots) > 8*300 {
		t.Fatalf("world: %d warehouses, %d scanners, %d slots", len(w.Warehouses), len(w.Scanners), len(w.Slots))
	}
	var longest time.Duration
	hoursOff := 0
	for _, s := range w.Scanners {
		for _, z := range s.Zones {
			longest = max(longest, z.To-z.From)
		}
		if s.Skew > time.Hour || s.Skew < -time.Hour {
			hoursOff++
		} else if s.Skew > 2*time.Minute || s.Skew < -2*time.Minute {
			t.Errorf("scanner %s is off by %v: more than 2 minutes and less than hours", s.ID, s.Skew)
		}
	}
	if longest != 8*time.Hour || hoursOff != 1 {
		t.Errorf("longest dead zone %v, scanners hours off %d; want 8h and 1", longest, hoursOff)
	}
	kinds := map[Kind]int{}
	last := time.Duration(0)
	for _, e := range p.Events {
		kinds[e.Kind]++
		if e.At < last || e.At < time.Minute || e.At > cfg.day() {
			t.Fatalf("event at %v out of order or outside the day", e.At)
		}
		last = e.At
	}
	for k := Receipt; k <= OrderLine; k++ {
		if kinds[k] == 0 {
			t.Errorf("no %s planned in a default day", k)
		}
	}
	doc := w.catalog()
	if err := doc.Validate(); err != nil {
		t.Errorf("the simulated catalog is invalid: %v", err)
	}
}

func TestQuietHasNoDisturbance(t *testing.T) {
	cfg := Config{Seed: 1, Rates: DefaultRates().Quiet()}.withDefaults()
	w := newWorld(cfg)
	for _, s := range w.Scanners {
		if s.Skew != 0 || len(s.Zones) != 0 {
			t.Fatalf("quiet scanner %s: skew %v, zones %v", s.ID, s.Skew, s.Zones)
		}
	}
	for _, e := range newPlan(cfg, w).Events {
		if e.Kind == Shrink || e.Kind == Damage || e.MisKey != KeyedRight || e.Second >= 0 {
			t.Fatalf("quiet day plans %+v", e)
		}
	}
}

func TestMisKey(t *testing.T) {
	for _, c := range []struct {
		q     int64
		m     MisKey
		digit int
		want  int64
	}{
		{45, DigitDropped, 0, 5}, {45, DigitDropped, 1, 4}, {45, DigitDoubled, 0, 445}, {45, DigitDoubled, 1, 455},
		{7, DigitDropped, 3, 0}, {7, DigitDoubled, 2, 77}, {120, DigitDropped, 5, 12}, {45, KeyedRight, 1, 45},
	} {
		if got := misKey(c.q, c.m, c.digit); got != c.want {
			t.Errorf("misKey(%d, %d, %d) = %d, want %d", c.q, c.m, c.digit, got, c.want)
		}
	}
}

func TestConfigReportsEveryProblem(t *testing.T) {
	err := Config{Warehouses: -1, Hours: 1000, Speed: 5000, IDPrefix: "a b", Rates: Rates{Set: true, MisKey: 2, Moves: -1}}.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"warehouses", "hours", "speed", "id prefix", "mis-keys", "moves", "url", "admin token", "brokers", "mirror database", "work dir"} {
		if !strings.Contains(err.Error(), want+":") {
			t.Errorf("%q not reported in:\n%v", want, err)
		}
	}
}

func TestWorldLookups(t *testing.T) {
	cfg := Config{Seed: 2, Warehouses: 2, ScannersPerWarehouse: 3}.withDefaults()
	w := newWorld(cfg)
	for wh := range w.Warehouses {
		scs := w.scannersOf(wh)
		if len(scs) != 3 {
			t.Fatalf("warehouse %d has scanners %v", wh, scs)
		}
		for _, i := range scs {
			if w.Scanners[i].WH != wh {
				t.Errorf("scanner %d is not of warehouse %d", i, wh)
			}
		}
	}
	for s, sl := range w.Slots {
		if got, ok := w.slotAt(sl.WH, sl.Item, sl.Loc); !ok || got != s {
			t.Fatalf("slotAt(%v) = %d, %v; want %d", sl, got, ok, s)
		}
		if w.itemIndex(w.Items[sl.Item].ID) != sl.Item {
			t.Fatalf("itemIndex(%s)", w.Items[sl.Item].ID)
		}
		lo, hi := openingRange(w.Items[sl.Item].Class)
		if w.Opening[s] < lo || w.Opening[s] > hi {
			t.Errorf("slot %d opens with %d, outside %d..%d", s, w.Opening[s], lo, hi)
		}
	}
	if _, ok := w.slotAt(0, 0, "nowhere"); ok || w.itemIndex("nothing") != -1 {
		t.Error("found what is not there")
	}
	for i, want := range map[int]string{0: "A-01-01", 7: "A-02-03", 50: "B-01-01", 50 * 26: "A2-01-01"} {
		if got := locationName(i); got != want {
			t.Errorf("locationName(%d) = %s, want %s", i, got, want)
		}
	}
	sc := Scanner{Zones: []Zone{{From: time.Hour, To: 2 * time.Hour}}}
	if sc.offline(time.Hour-1) || !sc.offline(time.Hour) || sc.offline(2*time.Hour) {
		t.Error("a dead zone is [From, To)")
	}
}
