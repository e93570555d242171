package sim

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// The day's outages are brief, inside the day, apart, and drawn from
// their own stream: turning them off changes nothing else in the plan.
func TestPlanOutages(t *testing.T) {
	cfg := Config{Seed: 3, Rates: DefaultRates()}.withDefaults()
	cfg.Rates.CloudOutages = 40
	w := newWorld(cfg)
	p := newPlan(cfg, w)
	if len(p.Outages) < 20 {
		t.Fatalf("%d outages for 40 expected", len(p.Outages))
	}
	for i, o := range p.Outages {
		if o.From < time.Minute || o.To > cfg.day() || o.To <= o.From {
			t.Errorf("outage %v outside the day", o)
		}
		if i > 0 && o.From <= p.Outages[i-1].To {
			t.Errorf("outages %v and %v overlap", p.Outages[i-1], o)
		}
	}
	quiet := cfg
	quiet.Rates.CloudOutages = 0
	q := newPlan(quiet, w)
	if len(q.Outages) != 0 || len(q.Events) != len(p.Events) {
		t.Fatalf("without outages: %d outages, %d events (with: %d)", len(q.Outages), len(q.Events), len(p.Events))
	}
	for i := range q.Events {
		if q.Events[i] != p.Events[i] {
			t.Fatalf("event %d differs without outages: %+v, %+v", i, q.Events[i], p.Events[i])
		}
	}
	if Digest(w, p) == Digest(w, q) {
		t.Error("the digest does not see the outages")
	}
	one := outages(Config{Seed: 3, Hours: 24, Rates: Rates{Set: true, CloudOutages: 1}})
	for _, o := range one {
		if d := o.To - o.From; d < 2*time.Minute || d > 15*time.Minute {
			t.Errorf("an outage of %v is not brief (2 to 15 minutes)", d)
		}
	}
}

// The plan draws what the rates say: order lines, receipts and counts by
// class, within a few standard deviations of their means.
func TestPlanRates(t *testing.T) {
	cfg := Config{Seed: 5}.withDefaults()
	w := newWorld(cfg)
	p := newPlan(cfg, w)
	kinds := map[Kind]float64{}
	countsByClass := [3]float64{}
	for _, e := range p.Events {
		kinds[e.Kind]++
		if e.Kind == Count {
			countsByClass[w.Items[w.Slots[e.Slot].Item].Class]++
		}
		if e.Kind == Count && (e.Scanner < 0 || w.Scanners[e.Scanner].WH != w.Slots[e.Slot].WH) {
			t.Fatalf("count %+v by a scanner of another warehouse", e)
		}
	}
	near := func(name string, got, mean float64) {
		if math.Abs(got-mean) > 4*math.Sqrt(mean)+1 {
			t.Errorf("%s: %v planned, mean %v", name, got, mean)
		}
	}
	r, whs := cfg.Rates, float64(cfg.Warehouses)
	near("order lines", kinds[OrderLine], r.OrderLines*whs)
	near("receipts", kinds[Receipt], r.Receipts*whs)
	near("shrinkage", kinds[Shrink], r.Shrinkage*whs)
	slots := [3]float64{}
	for _, s := range w.Slots {
		slots[w.Items[s.Item].Class]++
	}
	for c := range 3 {
		near("counts of class "+classes[c:c+1], countsByClass[c], r.CountsPerDay[c]*slots[c])
	}
}

// Demand favours A items: six times a C item's, 2.5 times for B.
func TestDemandPicker(t *testing.T) {
	cfg := Config{Seed: 1}.withDefaults()
	w := newWorld(cfg)
	pick := w.demandPicker(0)
	rng := rand.New(rand.NewPCG(1, 2))
	byClass := [3]float64{}
	for range 60000 {
		s := pick(rng)
		if w.Slots[s].WH != 0 {
			t.Fatalf("slot %d is not in warehouse 0", s)
		}
		byClass[w.Items[w.Slots[s].Item].Class]++
	}
	items := [3]float64{}
	for _, it := range w.Items {
		items[it.Class]++
	}
	perItem := func(c int) float64 { return byClass[c] / items[c] }
	if a := perItem(0) / perItem(2); a < 5.5 || a > 6.5 {
		t.Errorf("an A item is wanted %.2f times as often as a C item, want 6", a)
	}
	if b := perItem(1) / perItem(2); b < 2.2 || b > 2.8 {
		t.Errorf("a B item is wanted %.2f times as often as a C item, want 2.5", b)
	}
}

func TestPoisson(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, m := range []float64{0, 0.5, 6, 240} {
		sum := 0
		for range 4000 {
			sum += poisson(rng, m)
		}
		if got := float64(sum) / 4000; math.Abs(got-m) > 0.05*m+0.02 {
			t.Errorf("poisson(%v) averages %v", m, got)
		}
	}
}
