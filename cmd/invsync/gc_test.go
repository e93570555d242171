package main

import (
	"io"
	"log/slog"
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	prevLimit, prevPercent := debug.SetMemoryLimit(-1), debug.SetGCPercent(-1)
	debug.SetGCPercent(prevPercent)
	t.Cleanup(func() {
		debug.SetMemoryLimit(prevLimit)
		debug.SetGCPercent(prevPercent)
	})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	cases := []struct {
		name                     string
		mib                      int
		env                      map[string]string
		wantLimitMiB, wantPct    int
		runtimeLimit, runtimePct int64
	}{
		{"limit and percentage", 160, nil, 160, gcPercentUnderLimit, 160 << 20, gcPercentUnderLimit},
		{"GOGC wins over the percentage", 200, map[string]string{"GOGC": "100"}, 200, 0, 200 << 20, 77},
		{"GOMEMLIMIT wins: nothing set", 160, map[string]string{"GOMEMLIMIT": "1GiB"}, 0, 0, 123 << 20, 77},
		{"no limit: nothing set", 0, nil, 0, 0, 123 << 20, 77},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			debug.SetMemoryLimit(123 << 20)
			debug.SetGCPercent(77)
			limit, pct := tuneGC(c.mib, env(c.env), log)
			if limit != c.wantLimitMiB || pct != c.wantPct {
				t.Errorf("tuneGC = %d MiB, %d %%; want %d MiB, %d %%", limit, pct, c.wantLimitMiB, c.wantPct)
			}
			if got := debug.SetMemoryLimit(-1); got != c.runtimeLimit {
				t.Errorf("runtime memory limit = %d; want %d", got, c.runtimeLimit)
			}
			got := debug.SetGCPercent(77)
			if int64(got) != c.runtimePct {
				t.Errorf("runtime GC percent = %d; want %d", got, c.runtimePct)
			}
		})
	}
}
