package bench

// PeerResult is what a peer run measured. Its JSON form is the `peer`
// object of `invsync bench --json`.
type PeerResult struct {
	Name string `json:"name"` // "kstreams"
	// SustainedTPS is the highest rate step of the search that held (0 if
	// none did); AllStepsHeld: the search ran out of steps, so it is a
	// lower bound.
	SustainedTPS int  `json:"sustained_tps"`
	AllStepsHeld bool `json:"all_steps_held"`
	// P50Ms, P99Ms and P999Ms are the latency percentiles at LatencyRate,
	// the measured rate closest to PeerConfig.HeadlineRate.
	LatencyRate int     `json:"latency_rate"`
	P50Ms       float64 `json:"p50_ms"`
	P99Ms       float64 `json:"p99_ms"`
	P999Ms      float64 `json:"p999_ms"`
	// RSSMB is the JVM's peak resident set (VmHWM) over the run; CPUSec
	// the CPU time it used, start-up included.
	RSSMB  float64 `json:"rss_mb"`
	CPUSec float64 `json:"cpu_s"`
	// Steps are the latency steps, then the search's, in the order run.
	Steps   []PeerStep `json:"steps"`
	Preload Preload    `json:"preload"`
	// Settings disclose the configuration behind the numbers.
	Settings    map[string]string `json:"settings"`
	RunID       string            `json:"run_id"`
	DurationSec float64           `json:"duration_s"`
	// Log is the path of the peer's log.
	Log string `json:"log"`
}

// PeerStep is one open-loop step of a peer run.
type PeerStep struct {
	Name   string  `json:"name"` // "latency 1/3", "step 2/10"
	Rate   int     `json:"rate"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p999_ms"`
	MaxMs  float64 `json:"max_ms"`
	Held   bool    `json:"held"`
	Reason string  `json:"reason,omitempty"`
	// As in Step.
	AppliedTPS      float64 `json:"applied_tps"`
	BacklogGrowth   float64 `json:"backlog_floor_growth_tps"`
	Offered         int64   `json:"offered"`
	Seen            int64   `json:"seen"`
	Failed          int64   `json:"failed"`
	Behind          int64   `json:"behind_schedule"`
	DuplicateEvents int64   `json:"duplicate_events"`
}

func peerStep(s Step) PeerStep {
	return PeerStep{
		Name: s.Name, Rate: s.Rate, P50Ms: s.Latency.P50, P99Ms: s.Latency.P99, P999Ms: s.Latency.P999,
		MaxMs: s.Latency.Max, Held: s.Holds, Reason: s.Reason, AppliedTPS: s.AppliedTPS,
		BacklogGrowth: s.BacklogGrowth, Offered: s.Offered, Seen: s.Seen, Failed: s.Failed + s.Rejected,
		Behind: s.Behind, DuplicateEvents: s.DuplicateEvents,
	}
}

// headline sets the result's latency figures from the step measured
// closest to rate, the earlier on a tie (the latency steps run first).
func (r *PeerResult) headline(rate int) {
	best := -1
	for i, s := range r.Steps {
		if best < 0 || absInt(s.Rate-rate) < absInt(r.Steps[best].Rate-rate) {
			best = i
		}
	}
	if best < 0 {
		return
	}
	s := r.Steps[best]
	r.LatencyRate, r.P50Ms, r.P99Ms, r.P999Ms = s.Rate, s.P50Ms, s.P99Ms, s.P999Ms
}

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
