package ingest

import (
	"math"
	"testing"
)

func TestQuantileFromBucketDifferences(t *testing.T) {
	inf := math.Inf(1)
	from := map[float64]float64{0.01: 10, 0.1: 10, 1: 10, inf: 10}
	to := map[float64]float64{0.01: 10, 0.1: 60, 1: 110, inf: 110}
	// 100 new observations: 50 in (0.01, 0.1], 50 in (0.1, 1].
	for _, tc := range []struct{ q, want float64 }{{0.5, 0.1}, {0.25, 0.055}, {0.99, 0.982}} {
		if got := quantile(tc.q, from, to); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("q%.2f = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := quantile(0.5, to, to); !math.IsNaN(got) {
		t.Errorf("no new observations: %v, want NaN", got)
	}
	if got := quantile(0.5, nil, to); math.Abs(got-0.1) > 0.02 {
		t.Errorf("since start: %v", got)
	}
}

func TestParseMetricLine(t *testing.T) {
	name, labels, v, ok := parseMetricLine(`invsync_apply_latency_seconds_bucket{otel_scope_name="x",le="+Inf"} 42`)
	if !ok || name != "invsync_apply_latency_seconds_bucket" || labels["le"] != "+Inf" || v != 42 {
		t.Fatalf("%q %v %v %v", name, labels, v, ok)
	}
	if _, _, _, ok := parseMetricLine("# HELP x y"); ok {
		t.Fatal("a comment parsed")
	}
}

// A histogram first appears on /metrics with its first observation: a
// point from a sample without it counts everything in the later one.
func TestPointWhenTheLatencyHistogramAppears(t *testing.T) {
	inf := math.Inf(1)
	a := metricSample{accepted: 0}
	b := metricSample{accepted: 20, latencyName: latencyMetrics[1], buckets: map[float64]float64{0.01: 4, 0.1: 10, inf: 10}}
	b.at = a.at.Add(10e9)
	p := point(&a, &b)
	if p.TPS != 2 || p.P50 == nil || p.P99 == nil || *p.P50 <= 0.01 || *p.P50 > 0.1 || *p.P99 <= *p.P50 {
		t.Fatalf("point = %+v (p50 %v, p99 %v)", p, p.P50, p.P99)
	}
}
