package ingest

import (
	"bufio"
	"bytes"
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/auth"
	"github.com/invsync/invsync/processors"
)

// The console's overview (GET /v1/console/overview) is built from this
// instance's own /metrics, sampled every overviewEvery into an hour of
// history, so the console needs no metrics server: rates and quantiles
// are differences between samples.
const (
	overviewEvery   = 10 * time.Second
	overviewHistory = time.Hour
)

// Latency metrics the overview reports, the first one present winning:
// scan-to-event where it exists, else the processors' apply latency.
var latencyMetrics = []string{"invsync_scan_to_event_seconds", "invsync_apply_latency_seconds"}

// metricSample is what the overview reads of one scrape.
type metricSample struct {
	at          time.Time
	accepted    float64 // uploaded transactions accepted, total
	applied     float64 // transactions applied or rejected by the processors, total
	deadLetters float64
	snapshots   float64 // stock records published in snapshots, total
	latencyName string
	buckets     map[float64]float64 // le -> cumulative count of latencyName
	lag         map[int]float64     // partition -> lag (owned here)
	restoring   map[int]float64     // partition -> changelog records left
}

// overview keeps the samples. Safe for concurrent use.
type overview struct {
	mu           sync.Mutex
	samples      []metricSample // oldest first, at most an hour
	lastSnapshot time.Time      // when the snapshot counter last moved
}

// RunSampler samples this instance's metrics for the console's overview
// until ctx ends. Without it the overview has no history, only the
// sample taken when it is asked for.
func (s *Server) RunSampler(ctx context.Context) error {
	t := time.NewTicker(overviewEvery)
	defer t.Stop()
	for {
		s.sampleMetrics()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Server) sampleMetrics() metricSample {
	m := s.scrape()
	o := &s.overview
	o.mu.Lock()
	defer o.mu.Unlock()
	if n := len(o.samples); n > 0 && m.snapshots > o.samples[n-1].snapshots {
		o.lastSnapshot = m.at
	}
	o.samples = append(o.samples, m)
	cut := 0
	for cut < len(o.samples) && m.at.Sub(o.samples[cut].at) > overviewHistory {
		cut++
	}
	o.samples = append(o.samples[:0], o.samples[cut:]...)
	return m
}

// scrape reads this instance's /metrics in process.
func (s *Server) scrape() metricSample {
	m := metricSample{at: s.cfg.Now(), buckets: map[float64]float64{}, lag: map[int]float64{}, restoring: map[int]float64{}}
	if s.cfg.Metrics == nil {
		return m
	}
	rec := httptest.NewRecorder()
	s.cfg.Metrics.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	latency := map[string]map[float64]float64{}
	sc := bufio.NewScanner(bytes.NewReader(rec.Body.Bytes()))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, labels, v, ok := parseMetricLine(sc.Text())
		if !ok {
			continue
		}
		switch name {
		case "invsync_transactions_received_total":
			if labels["result"] == string(api.StatusAccepted) {
				m.accepted += v
			}
		case "invsync_transactions_applied_total":
			m.applied += v
		case "invsync_records_dead_lettered_total":
			m.deadLetters += v
		case "invsync_snapshot_records_total":
			m.snapshots += v
		case "invsync_consumer_lag":
			if p, err := strconv.Atoi(labels["partition"]); err == nil {
				m.lag[p] = v
			}
		case "invsync_restore_remaining":
			if p, err := strconv.Atoi(labels["partition"]); err == nil {
				m.restoring[p] = v
			}
		default:
			base, isBucket := strings.CutSuffix(name, "_bucket")
			if !isBucket {
				continue
			}
			le, err := strconv.ParseFloat(labels["le"], 64)
			if err != nil {
				continue
			}
			if latency[base] == nil {
				latency[base] = map[float64]float64{}
			}
			latency[base][le] += v
		}
	}
	for _, name := range latencyMetrics {
		if b, ok := latency[name]; ok {
			m.latencyName, m.buckets = name, b
			break
		}
	}
	return m
}

// parseMetricLine reads one sample line of the Prometheus text format:
// name{label="value",...} value.
func parseMetricLine(line string) (name string, labels map[string]string, v float64, ok bool) {
	if line == "" || line[0] == '#' {
		return "", nil, 0, false
	}
	sp := strings.LastIndexByte(line, ' ')
	if sp < 0 {
		return "", nil, 0, false
	}
	v, err := strconv.ParseFloat(line[sp+1:], 64)
	if err != nil {
		return "", nil, 0, false
	}
	head := line[:sp]
	name = head
	if i := strings.IndexByte(head, '{'); i >= 0 {
		name = head[:i]
		labels = map[string]string{}
		for _, kv := range strings.Split(strings.TrimSuffix(head[i+1:], "}"), ",") {
			k, val, found := strings.Cut(kv, "=")
			if found {
				labels[k] = strings.Trim(val, `"`)
			}
		}
	}
	return name, labels, v, true
}

// quantile estimates quantile q of the observations between two
// cumulative bucket sets (linear within a bucket); NaN without any.
func quantile(q float64, from, to map[float64]float64) float64 {
	les := make([]float64, 0, len(to))
	for le := range to {
		les = append(les, le)
	}
	sort.Float64s(les)
	if len(les) == 0 {
		return math.NaN()
	}
	total := to[les[len(les)-1]] - from[les[len(les)-1]]
	if total <= 0 {
		return math.NaN()
	}
	rank, prevLe, prevN := q*total, 0.0, 0.0
	for _, le := range les {
		n := to[le] - from[le]
		if n >= rank {
			if math.IsInf(le, 1) {
				return prevLe
			}
			if n == prevN {
				return le
			}
			return prevLe + (le-prevLe)*(rank-prevN)/(n-prevN)
		}
		prevLe, prevN = le, n
	}
	return prevLe
}

// overviewPoint is one point of the overview's charts.
type overviewPoint struct {
	At        time.Time `json:"at"`
	TPS       float64   `json:"transactionsPerSecond"`
	AppliedPS float64   `json:"appliedPerSecond"`
	P50       *float64  `json:"p50Seconds"`
	P99       *float64  `json:"p99Seconds"`
	Lag       float64   `json:"lag"`
}

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func point(a, b *metricSample) overviewPoint {
	secs := b.at.Sub(a.at).Seconds()
	p := overviewPoint{At: b.at.UTC()}
	if secs > 0 {
		p.TPS, p.AppliedPS = max(0, (b.accepted-a.accepted)/secs), max(0, (b.applied-a.applied)/secs)
	}
	switch {
	case a.latencyName == b.latencyName:
		p.P50, p.P99 = finite(quantile(0.5, a.buckets, b.buckets)), finite(quantile(0.99, a.buckets, b.buckets))
	case a.latencyName == "":
		// A histogram appears on /metrics with its first observation:
		// everything in it is newer than a.
		p.P50, p.P99 = finite(quantile(0.5, nil, b.buckets)), finite(quantile(0.99, nil, b.buckets))
	}
	for _, l := range b.lag {
		p.Lag += l
	}
	return p
}

type partitionJSON struct {
	Partition int32  `json:"partition"`
	Owner     string `json:"owner"` // base URL of the owning instance, "self" for this one, "" unknown
	Lag       *int64 `json:"lag"`
	Restoring bool   `json:"restoring"`
	Remaining *int64 `json:"restoreRemaining,omitempty"`
}

// getOverview answers GET /v1/console/overview (admin, supervisor,
// reader): the flow, the partitions and their owners, Kafka, the dead
// letters, the last snapshot and the fleet, with an hour of history.
func (s *Server) getOverview(c *gin.Context) {
	now := s.sampleNow()
	o := &s.overview
	o.mu.Lock()
	samples := append([]metricSample(nil), o.samples...)
	lastSnap := o.lastSnapshot
	o.mu.Unlock()
	series := make([]overviewPoint, 0, len(samples))
	for i := 1; i < len(samples); i++ {
		series = append(series, point(&samples[i-1], &samples[i]))
	}
	latest := now
	// The headline figures: over the last minute, or what history there is.
	ref := &latest
	for i := len(samples) - 1; i >= 0; i-- {
		if latest.at.Sub(samples[i].at) >= time.Minute || i == 0 {
			ref = &samples[i]
			break
		}
	}
	head := point(ref, &latest)
	if ref == &latest { // one sample: quantiles since start
		head.P50, head.P99 = finite(quantile(0.5, nil, latest.buckets)), finite(quantile(0.99, nil, latest.buckets))
	}

	ready, why := s.cfg.Ready.Ready()
	out := gin.H{
		"at":                    latest.at.UTC(),
		"transactionsPerSecond": head.TPS,
		"appliedPerSecond":      head.AppliedPS,
		"latency":               gin.H{"metric": latest.latencyName, "p50Seconds": head.P50, "p99Seconds": head.P99},
		"kafka":                 gin.H{"ready": ready, "detail": why},
		"deadLetters":           latest.deadLetters,
		"lastSnapshotAt":        nil,
		"series":                series,
	}
	if !lastSnap.IsZero() {
		out["lastSnapshotAt"] = lastSnap.UTC()
	}
	out["partitions"], out["instances"] = s.partitionOwners(c.Request.Context(), &latest)
	if s.cfg.Fleet != nil && s.cfg.Tokens != nil {
		counts := map[string]int{}
		for _, st := range processors.FleetStatuses {
			counts[st] = 0
		}
		var queued int64
		for _, v := range s.fleet(latest.at, func(whs []string) bool { return visible(c, whs) }) {
			counts[v.Status]++
			queued += v.Queued
		}
		out["scanners"] = gin.H{"byStatus": counts, "queuedOnDevices": queued}
	}
	c.JSON(http.StatusOK, out)
}

// sampleNow takes a fresh sample when the last is older than a second
// (the overview is never staler than its poll), and returns the latest.
func (s *Server) sampleNow() metricSample {
	o := &s.overview
	o.mu.Lock()
	n := len(o.samples)
	var last metricSample
	if n > 0 {
		last = o.samples[n-1]
	}
	o.mu.Unlock()
	if n > 0 && s.cfg.Now().Sub(last.at) < time.Second {
		return last
	}
	return s.sampleMetrics()
}

// partitionOwners lists every partition with its owner (from the
// consumer group, when this instance knows its peers) and, for this
// instance's own, the lag and restore progress; and the instances.
func (s *Server) partitionOwners(ctx context.Context, m *metricSample) ([]partitionJSON, []string) {
	n := s.cfg.Partitions
	instances := []string{"self"}
	if s.cfg.Router != nil {
		if peers, err := s.cfg.Router.PeerURLs(ctx); err == nil {
			instances = append(instances, peers...)
		}
	}
	out := make([]partitionJSON, 0, n)
	for p := int32(0); p < n; p++ {
		pj := partitionJSON{Partition: p}
		if l, ok := m.lag[int(p)]; ok {
			v := int64(l)
			pj.Lag, pj.Owner = &v, "self"
		}
		if r, ok := m.restoring[int(p)]; ok && r > 0 {
			v := int64(r)
			pj.Restoring, pj.Remaining, pj.Owner = true, &v, "self"
		}
		switch {
		case pj.Owner != "":
		case len(instances) == 1:
			pj.Owner = "self"
		default:
			// "" from the router: rebalancing, or this instance before
			// its first poll; either way not known yet.
			if url, err := s.cfg.Router.OwnerURL(ctx, p); err == nil {
				pj.Owner = url
			}
		}
		out = append(out, pj)
	}
	return out, instances
}

func (s *Server) overviewRoutes(v1 *gin.RouterGroup) {
	v1.GET("/console/overview", allow(auth.ReadScanners), s.getOverview)
}
