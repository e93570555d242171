package sim

import (
	"sort"
	"time"
)

// The story systems' books at the end of the day.

// accuracy is the share of records equal to the stock, and within the
// item's ABC tolerance.
func (s *storySys) accuracy() (exact, tolerant float64) {
	var eq, tol int
	for i := range s.rec {
		got, want := s.rec[i].onHand, s.phys[i]
		if got == want {
			eq++
		}
		if float64(abs(got-want)) <= s.world.tolerance(i)*float64(max(want, 1)) {
			tol++
		}
	}
	n := float64(len(s.rec))
	return float64(eq) / n, float64(tol) / n
}

// result is the system's column (at the end of the day).
func (s *storySys) result() SystemResult {
	out := SystemResult{Counts: s.m.counts, Allocations: s.m.allocations, Confirmed: s.m.confirmed,
		Backorders: s.m.backorders, Rejected: s.m.rejected,
		AllocationErrors: s.m.allocErrors, Oversells: s.m.oversells, Lost: s.m.lost, Duplicated: s.m.duplicated,
		AllocationErrorsByHour: append([]int(nil), s.m.errorsByHour...), Causes: map[string]int{},
		LockWarnings: s.m.lockWarnings, KeyedFromPaper: s.m.keyedFromPaper}
	if s.m.counts > 0 {
		out.CountAccuracy = float64(s.m.countsExact) / float64(s.m.counts)
		out.CountAccuracyTolerance = float64(s.m.countsTolerant) / float64(s.m.counts)
	}
	out.RecordAccuracy, out.RecordAccuracyTolerance = s.accuracy()
	agree := 0
	for i := range s.rec {
		if s.view[i] == s.rec[i].onHand {
			agree++
		}
		if s.rec[i].onHand != s.phys[i] {
			out.Causes[dominant(s.contrib[i])]++
		}
	}
	out.CloudAgreement = float64(agree) / float64(len(s.rec))
	for k, v := range s.m.allocCauses {
		out.Causes[k] += v
	}
	p50, p99 := quantiles(s.m.latency)
	out.ScanToCloudP50, out.ScanToCloudP99 = ms(p50), ms(p99)
	return out
}

// quantiles returns the p50 and p99 of ds (sorted in place).
func quantiles(ds []time.Duration) (p50, p99 time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
	return at(0.5), at(0.99)
}
