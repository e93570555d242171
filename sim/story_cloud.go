package sim

import (
	"context"
	"hash/fnv"
	"sort"
	"time"
)

// The story systems' cloud: allocations against its view (after, confirmed
// by the warehouse line by line), and the pickers who fill them.

// storyAlloc is an allocation of a story cloud.
type storyAlloc struct {
	order int
	lines []storyLine
}

type storyLine struct {
	slot  int
	qty   int64
	cause string // what to blame if the pick falls short
}

// order is an order line reaching the cloud (after an outage, when the
// cloud is back). The cloud allocates against its own view; after, the
// warehouse confirms each line against its record or rejects it.
func (s *storySys) order(e Event, t time.Duration) {
	if down, end := s.cloudDown(t); down {
		s.agenda.add(end, "order", func(_ context.Context, t time.Duration) error {
			s.order(e, t)
			return nil
		})
		return
	}
	sl := s.world.Slots[e.Slot]
	slots := append([]int(nil), s.world.slotsOf[[2]int{sl.WH, sl.Item}]...)
	free := func(i int) int64 { return s.view[i] - s.cloudHeld[i] }
	sort.SliceStable(slots, func(a, b int) bool { return free(slots[a]) > free(slots[b]) })
	var total int64
	for _, i := range slots {
		total += max(0, free(i))
	}
	if total < e.Qty {
		s.m.backorders++
		return
	}
	a := storyAlloc{order: e.Order}
	left := e.Qty
	for _, i := range slots {
		q := min(left, max(0, free(i)))
		if q == 0 {
			continue
		}
		a.lines = append(a.lines, storyLine{slot: i, qty: q, cause: s.blame(i)})
		left -= q
		if left == 0 {
			break
		}
	}
	s.m.allocations++
	if s.kind == storyAfter {
		for _, l := range a.lines {
			if s.rec[l.slot].onHand-s.whHeld[l.slot] < l.qty {
				s.m.rejected++
				s.m.backorders++
				return
			}
		}
	}
	s.m.confirmed++
	over := false
	for _, l := range a.lines {
		if s.phys[l.slot]-s.physHeld[l.slot] < l.qty {
			over = true
		}
		s.cloudHeld[l.slot] += l.qty
		s.whHeld[l.slot] += l.qty
		s.physHeld[l.slot] += l.qty
	}
	if over {
		s.m.oversells++
	}
	s.agenda.add(t+pickDelay(s.seed, e.Order), "pick", func(_ context.Context, t time.Duration) error {
		s.pick(a, t)
		return nil
	})
}

// blame is what an allocation against slot would owe a shortfall to, as
// things stand: a cloud view behind the warehouse, a warehouse record
// wrong, or else a stock that changes after the allocation.
func (s *storySys) blame(slot int) string {
	switch {
	case s.view[slot] != s.rec[slot].onHand && s.lostD[slot] != 0:
		return CauseLost
	case s.view[slot] != s.rec[slot].onHand:
		return CauseStaleView
	case s.rec[slot].onHand != s.phys[slot]:
		return dominant(s.contrib[slot])
	}
	return CauseAfterAlloc
}

// dominant is the cause holding the largest share of an error.
func dominant(c map[string]int64) string {
	best, bv := CauseNotAttribute, int64(0)
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v := abs(c[k]); v > bv {
			best, bv = k, v
		}
	}
	return best
}

// pick is the story's picker at the shelf: it takes what the lines say
// as far as the stock is there; a line it cannot fill is an allocation
// error, and it counts that slot on the spot.
func (s *storySys) pick(a storyAlloc, t time.Duration) {
	short := ""
	for _, l := range a.lines {
		s.cloudHeld[l.slot] -= l.qty
		s.whHeld[l.slot] -= l.qty
		s.physHeld[l.slot] -= l.qty
	}
	wh := s.world.Slots[a.lines[0].slot].WH
	scanners := s.world.scannersOf(wh)
	picker := scanners[a.order%len(scanners)]
	for _, l := range a.lines {
		s.seq++
		got := s.take(l.slot, l.qty)
		if got > 0 {
			s.send(&storyOp{seq: s.seq, scanner: picker, at: t, changes: []*change{s.newChange(l.slot, -got)}})
		}
		if got < l.qty {
			if short == "" {
				short = l.cause
			}
			s.seq++
			s.send(&storyOp{seq: s.seq, scanner: -1, at: t, count: true, slot: l.slot, typed: s.phys[l.slot], trueQty: s.phys[l.slot]})
		}
	}
	if short != "" {
		s.m.allocErrors++
		s.m.allocCauses[short]++
		if h := int(t / time.Hour); h < len(s.m.errorsByHour) {
			s.m.errorsByHour[h]++
		}
	}
}

// pickDelay is when an allocation of order line n is picked after its
// confirmation, 10 to 90 minutes, the same in both story systems.
func pickDelay(seed uint64, n int) time.Duration {
	h := fnv.New64a()
	var b [16]byte
	for i := range 8 {
		b[i], b[8+i] = byte(seed>>(8*i)), byte(uint64(n)>>(8*i))
	}
	h.Write(b[:])
	f := float64(h.Sum64()>>11) / (1 << 53)
	return pickAfterMin + time.Duration(f*float64(pickAfterMax-pickAfterMin))
}
