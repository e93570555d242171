package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"
	"time"
)

// Report is everything a run measured. Its JSON form (WriteJSON) is the
// machine-readable result: the top-level figures are named as `invsync
// bench --json` documents them.
type Report struct {
	Started     time.Time `json:"started"`
	RunID       string    `json:"run_id"`
	DurationSec float64   `json:"duration_s"`

	// The configuration disclosed with the numbers.
	Broker      string            `json:"broker"` // "embedded" or "kafka"
	Partitions  int               `json:"partitions"`
	Records     int               `json:"records"`      // distinct stock records the load touches
	RecordBytes int               `json:"record_bytes"` // average Avro Transaction record value
	BatchSize   int               `json:"batch_size"`
	Scanners    int               `json:"scanners"`
	GOMAXPROCS  int               `json:"gomaxprocs"` // of the bench process
	StepSeconds float64           `json:"step_s"`
	Settings    map[string]string `json:"settings,omitempty"`

	// Sustained throughput: the highest rate step that held, and what was
	// measured applied during it.
	SustainedTPS        int     `json:"sustained_tps"`
	SustainedAppliedTPS float64 `json:"sustained_applied_tps"`
	// AllStepsHeld: the search ran out of steps, so SustainedTPS is a
	// lower bound; higher Rates would find the limit.
	AllStepsHeld bool `json:"all_steps_held"`
	// BaselineTPS is raw franz-go produce → consume on the same broker;
	// Ratio = SustainedTPS / BaselineTPS.
	BaselineTPS float64 `json:"baseline_tps"`
	Ratio       float64 `json:"ratio"`

	// End-to-end latency at LatencyRate (the Latency phase).
	LatencyRate int     `json:"latency_rate"`
	P50Ms       float64 `json:"p50_ms"`
	P99Ms       float64 `json:"p99_ms"`
	P999Ms      float64 `json:"p999_ms"`
	MaxMs       float64 `json:"max_ms"`

	// RSSMB is the peak resident set of the process under test (Config.RSS)
	// from preload to the end of the backlog drain, before the baseline;
	// 0 when unknown.
	RSSMB float64 `json:"rss_mb"`
	// Refusals counts uploads the service refused for back-pressure (503
	// BACKLOG_FULL or 429, with Retry-After) and the bench resent.
	Refusals int64 `json:"backpressure_refusals"`

	// Peer is the Kafka Streams peer's run of the same load on the same
	// broker (invsync bench --peer kstreams); nil without it.
	Peer *PeerSummary `json:"peer,omitempty"`
	// Direct is invsync's processors measured as the peer is, the load
	// produced straight into the transactions topic (invsync bench
	// --direct); nil without it.
	Direct *PeerSummary `json:"direct,omitempty"`
	// Floor is the exactly-once floor's run (PeerFloor: a stateless relay
	// with invsync's transaction cycle) of the same load on the same
	// broker (invsync bench --floor); nil without it.
	Floor *PeerSummary `json:"floor,omitempty"`

	Preload  Preload  `json:"preload"`
	Latency  *Step    `json:"latency"`
	Steps    []Step   `json:"steps"`
	Backlog  *Backlog `json:"backlog,omitempty"`
	Baseline Baseline `json:"baseline"`
}

// PeerSummary is the peer's figures beside ours: its sustained rate and
// its latency at the report's LatencyRate.
type PeerSummary struct {
	Name         string  `json:"name"`
	SustainedTPS int     `json:"sustained_tps"`
	AllStepsHeld bool    `json:"all_steps_held"`
	LatencyRate  int     `json:"latency_rate"`
	P50Ms        float64 `json:"p50_ms"`
	P99Ms        float64 `json:"p99_ms"`
	RSSMB        float64 `json:"rss_mb"`
	// Steps are the peer's latency steps and search, as run.
	Steps []PeerStep `json:"steps"`
	// Error is why the peer's run ended early, if it did.
	Error string `json:"error,omitempty"`
}

// SummaryOf is the part of a peer's result a Report carries.
func SummaryOf(r PeerResult, err error) *PeerSummary {
	p := &PeerSummary{Name: r.Name, SustainedTPS: r.SustainedTPS, AllStepsHeld: r.AllStepsHeld, LatencyRate: r.LatencyRate,
		P50Ms: r.P50Ms, P99Ms: r.P99Ms, RSSMB: r.RSSMB, Steps: r.Steps}
	if err != nil {
		p.Error = err.Error()
	}
	return p
}

// writePeer prints a peer's steps (or the direct run's) and its figures
// beside ours.
func (r Report) writePeer(w io.Writer, p *PeerSummary) {
	fmt.Fprintf(w, "\n%s on the same broker, same load, produced straight into its input topic (open loop; intended send → event read), ms\n", p.Name)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\trate tx/s\tapplied tx/s\tp50\tp99\tp99.9\tmax\tholds\t")
	for _, s := range p.Steps {
		holds := "yes"
		if !s.Held {
			holds = "NO"
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%s\t\n", s.Name, s.Rate, s.AppliedTPS, s.P50Ms, s.P99Ms, s.P999Ms, s.MaxMs, holds)
	}
	_ = tw.Flush()
	if p.Error != "" {
		fmt.Fprintf(w, "  the peer's run ended early: %s\n", p.Error)
	}
	ratio := func(a, b float64) string {
		if b == 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f×", a/b)
	}
	fmt.Fprintf(w, "  sustained: invsync %d tx/s, %s %d tx/s (%s)\n", r.SustainedTPS, p.Name, p.SustainedTPS, ratio(float64(r.SustainedTPS), float64(p.SustainedTPS)))
	fmt.Fprintf(w, "  p99 at %d tx/s: invsync %.1f ms, %s %.1f ms at %d tx/s (%s)\n", r.LatencyRate, r.P99Ms, p.Name, p.P99Ms, p.LatencyRate, ratio(r.P99Ms, p.P99Ms))
}

// Latency is an HdrHistogram summary, in milliseconds.
type Latency struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

// Step is one open-loop phase at a fixed rate.
type Step struct {
	Name     string  `json:"name"`
	Rate     int     `json:"rate"` // offered, tx/s
	Seconds  float64 `json:"seconds"`
	Offered  int64   `json:"offered"`  // transactions scheduled
	Accepted int64   `json:"accepted"` // answered accepted
	Rejected int64   `json:"rejected"` // answered rejected (none expected)
	Failed   int64   `json:"failed"`   // in requests that failed (transport error, non-200)
	Seen     int64   `json:"seen"`     // applied: every event read
	Missing  int64   `json:"missing"`  // accepted, not read by the end of the drain
	// Behind counts requests handed out after their intended time because
	// every scanner connection was busy; MaxLateMs is the worst delay.
	// Latency still counts from the intended time.
	Behind    int64   `json:"behind_schedule"`
	MaxLateMs float64 `json:"max_late_ms"`
	// Measured from mid-step until everything was applied or the grace
	// period ended (AppliedTPS, EventsPerSec), and from the second quarter
	// to the last (BacklogGrowth: the growth of the consumer lag's floor).
	AppliedTPS    float64 `json:"applied_tps"`
	EventsPerSec  float64 `json:"events_per_s"`
	BacklogGrowth float64 `json:"backlog_floor_growth_tps"`
	// Delivered is the share of offered transactions applied (or lost) by
	// the end of the step and its grace period.
	Delivered       float64 `json:"delivered"`
	Holds           bool    `json:"holds"`
	Reason          string  `json:"reason,omitempty"`
	FirstError      string  `json:"first_error,omitempty"`
	DuplicateEvents int64   `json:"duplicate_events"`
	Latency         Latency `json:"latency"`
}

// Preload is the bulk RECEIPT of every stock record before measuring.
type Preload struct {
	Records  int     `json:"records"`
	Requests int     `json:"requests"`
	Retries  int64   `json:"retries"`
	Rejected int64   `json:"rejected"`
	Seconds  float64 `json:"seconds"`
	TPS      float64 `json:"tps"`
}

// Backlog is the offline-backlog drain.
type Backlog struct {
	Scanners        int   `json:"scanners"`
	ScansPerScanner int   `json:"scans_per_scanner"`
	Transactions    int   `json:"transactions"`
	Requests        int   `json:"requests"`
	Retries         int64 `json:"retries"`
	Rejected        int64 `json:"rejected"`
	Seen            int64 `json:"seen"`
	// UploadSeconds: until every upload was answered; DrainSeconds: until
	// the last event was read, both from the moment all scanners start.
	UploadSeconds float64 `json:"upload_s"`
	DrainSeconds  float64 `json:"drain_s"`
	TPS           float64 `json:"tps"`
	// Latency of each transaction from the start of the uploads.
	Latency Latency `json:"latency"`
}

// Baseline is raw franz-go produce → consume of the same records.
type Baseline struct {
	Topic       string  `json:"topic"`
	Records     int     `json:"records"`
	RecordBytes int     `json:"record_bytes"`
	Producer    string  `json:"producer"` // its settings
	Seconds     float64 `json:"seconds"`  // first produce → last consume
	TPS         float64 `json:"tps"`
	ProduceTPS  float64 `json:"produce_tps"` // until every produce was acknowledged
}

// WriteJSON writes the report as one line of JSON.
func (r Report) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding the report: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteTable writes the report for people.
func (r Report) WriteTable(w io.Writer) {
	fmt.Fprintf(w, "\ninvsync bench, %s (run %s, %.0f s)\n", r.Started.Format(time.RFC3339), r.RunID, r.DurationSec)
	fmt.Fprintf(w, "  broker %s, %d partitions, %d stock records, transaction record %d B (Avro), batch %d, %d scanner connections, bench GOMAXPROCS %d\n",
		r.Broker, r.Partitions, r.Records, r.RecordBytes, r.BatchSize, r.Scanners, r.GOMAXPROCS)
	for _, k := range slices.Sorted(maps.Keys(r.Settings)) {
		fmt.Fprintf(w, "  %s: %s\n", k, r.Settings[k])
	}
	if r.Preload.Records > 0 {
		fmt.Fprintf(w, "  preload: %d RECEIPTs in %.1f s (%.0f tx/s, closed loop, uploads of 1000)\n",
			r.Preload.Records, r.Preload.Seconds, r.Preload.TPS)
	}
	if r.Latency == nil {
		return // nothing was measured
	}

	fmt.Fprintf(w, "\nEnd-to-end latency (open loop; intended send → event read), ms\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\trate tx/s\tapplied tx/s\tlag floor Δ tx/s\tp50\tp90\tp99\tp99.9\tmax\tbehind\terrors\tmissing\tholds\t")
	row := func(s Step) {
		holds := "yes"
		if !s.Holds {
			holds = "NO"
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%+.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%d\t%d\t%s\t\n",
			s.Name, s.Rate, s.AppliedTPS, s.BacklogGrowth, s.Latency.P50, s.Latency.P90, s.Latency.P99,
			s.Latency.P999, s.Latency.Max, s.Behind, s.Failed+s.Rejected, s.Missing, holds)
	}
	row(*r.Latency)
	for _, s := range r.Steps {
		row(s)
	}
	_ = tw.Flush()
	for _, s := range r.Steps {
		if !s.Holds {
			fmt.Fprintf(w, "  %s at %d tx/s does not hold: %s\n", s.Name, s.Rate, s.Reason)
		}
		if s.FirstError != "" {
			fmt.Fprintf(w, "  %s first error: %s\n", s.Name, s.FirstError)
		}
	}

	fmt.Fprintf(w, "\nThroughput\n")
	limit := ""
	if r.AllStepsHeld {
		limit = "; every step held, so this is a lower bound: add higher rates"
	}
	fmt.Fprintf(w, "  sustained      %8d tx/s  (highest step that held; %.0f tx/s applied during it%s)\n", r.SustainedTPS, r.SustainedAppliedTPS, limit)
	if r.BaselineTPS > 0 {
		fmt.Fprintf(w, "  baseline       %8.0f rec/s (raw franz-go produce → consume, %d records of %d B, %s)\n",
			r.BaselineTPS, r.Baseline.Records, r.Baseline.RecordBytes, r.Baseline.Producer)
		fmt.Fprintf(w, "  ratio          %8.4f\n", r.Ratio)
	} else {
		fmt.Fprintf(w, "  baseline       not measured\n")
	}
	if b := r.Backlog; b != nil {
		fmt.Fprintf(w, "\nOffline backlog drain: %d scanners × %d scans (8 h, one per 10 s) = %d transactions\n",
			b.Scanners, b.ScansPerScanner, b.Transactions)
		fmt.Fprintf(w, "  uploaded in %.1f s, all applied in %.1f s (%.0f tx/s); per transaction p50 %.0f ms, p99 %.0f ms, max %.0f ms; %d retries\n",
			b.UploadSeconds, b.DrainSeconds, b.TPS, b.Latency.P50, b.Latency.P99, b.Latency.Max, b.Retries)
	}
	rss := "unknown"
	if r.RSSMB > 0 {
		rss = fmt.Sprintf("%.0f MB", r.RSSMB)
	}
	for _, p := range []*PeerSummary{r.Direct, r.Floor, r.Peer} {
		if p != nil {
			r.writePeer(w, p)
		}
	}
	fmt.Fprintf(w, "\nPeak RSS of the service: %s\n", rss)
	if r.Refusals > 0 {
		fmt.Fprintf(w, "Uploads refused for back-pressure and resent: %d\n", r.Refusals)
	}
	fmt.Fprintf(w, "Summary: sustained %d tx/s = %.4f × baseline %.0f rec/s; at %d tx/s p50 %.1f ms, p99 %.1f ms, p99.9 %.1f ms\n",
		r.SustainedTPS, r.Ratio, r.BaselineTPS, r.LatencyRate, r.P50Ms, r.P99Ms, r.P999Ms)
}
