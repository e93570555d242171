package bench

import (
	"context"
	"os"
	"strconv"
	"testing"
)

// BenchmarkMirrorCatchUp measures events per second applied into SQLite
// and PostgreSQL (when POSTGRES_URL is set) by a mirror catching up on a
// backlog. MIRROR_BENCH_EVENTS sets the backlog (default 20,000) and
// MIRROR_BENCH_RECORDS the distinct stock records (default a tenth of the
// events; equal to the events, every event is a row of its own and nothing
// folds within a batch).
//
//	go test -run '^$' -bench MirrorCatchUp -benchtime 1x ./bench/
func BenchmarkMirrorCatchUp(b *testing.B) {
	events, records := 20_000, 2_000
	if v, err := strconv.Atoi(os.Getenv("MIRROR_BENCH_EVENTS")); err == nil && v > 0 {
		events, records = v, v/10
	}
	if v, err := strconv.Atoi(os.Getenv("MIRROR_BENCH_RECORDS")); err == nil && v > 0 {
		records = v
	}
	urls := map[string]string{"sqlite": "sqlite"}
	if pg := os.Getenv("POSTGRES_URL"); pg != "" {
		urls["postgres"] = pg
	} else {
		b.Log("POSTGRES_URL is not set: PostgreSQL is not measured (bash scripts/postgres.sh up)")
	}
	for _, name := range []string{"sqlite", "postgres"} {
		url, ok := urls[name]
		if !ok {
			continue
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				res, err := MirrorCatchUp(context.Background(), CatchUpConfig{Database: url, Events: events, StockRecords: records})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(res.EventsPerSecond, "events/s")
				b.Logf("%+v", res)
			}
		})
	}
}

// TestMirrorCatchUp runs the catch-up benchmark small, so it keeps working.
func TestMirrorCatchUp(t *testing.T) {
	res, err := MirrorCatchUp(context.Background(), CatchUpConfig{Events: 3000, StockRecords: 500, Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 500 || res.EventsPerSecond <= 0 || res.Database != "sqlite" || res.Broker != "embedded" {
		t.Fatalf("result %+v", res)
	}
}
