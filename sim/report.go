package sim

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Chart file names inside a report directory.
const (
	ChartAccuracy      = "accuracy.svg"
	ChartLatency       = "latency.svg"
	ChartDiscrepancies = "discrepancies.svg"
)

// WriteReport writes report.md and the charts (SVG) of r to dir, creating
// it. command is the command line that produced r, quoted in the report.
func WriteReport(dir string, r Result, command string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	charts := map[string][]byte{
		ChartAccuracy:      accuracyChart(r),
		ChartLatency:       latencyChart(r),
		ChartDiscrepancies: discrepancyChart(r),
	}
	for name, data := range charts {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	var b bytes.Buffer
	WriteMarkdown(&b, r, command, "")
	if err := os.WriteFile(filepath.Join(dir, "report.md"), b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing report.md: %w", err)
	}
	return nil
}

// WriteMarkdown writes the report's text, with the charts linked from
// chartDir (relative to where the text will be).
func WriteMarkdown(b *bytes.Buffer, r Result, command, chartDir string) {
	pct := func(f float64) string { return fmt.Sprintf("%.2f %%", 100*f) }
	state := "completed"
	if !r.Completed {
		state = "**stopped at " + r.StoppedAt + "**: " + r.Error
	}
	fmt.Fprintf(b, "# invsync simulate: seed %d\n\n", r.Seed)
	fmt.Fprintf(b, "`%s`\n\n", command)
	fmt.Fprintf(b, "%d warehouses, %d scanners, %d audited stock records, %g simulated hours at %gx (%.0f s real), %s. Plan digest `%.16s`.\n\n",
		r.Warehouses, r.Scanners, r.Records, r.SimulatedHours, r.Speed, r.RealSeconds, state, r.PlanDigest)
	fmt.Fprintln(b, "| | invsync | last-write-wins, same transactions | the story (last-write-wins) |")
	fmt.Fprintln(b, "|---|---|---|---|")
	fmt.Fprintf(b, "| record accuracy (on-hand = truth) | %s | %s | %.1f %% (was %.1f %%), by cycle-count variance |\n",
		pct(r.RecordAccuracy), pct(r.LWWRecordAccuracy), 100*Story.AccuracyAfter, 100*Story.AccuracyBefore)
	fmt.Fprintf(b, "| record accuracy within ABC tolerance | %s | %s | |\n", pct(r.RecordAccuracyTolerance), pct(r.LWWRecordAccuracyTolerance))
	fmt.Fprintf(b, "| allocation errors | %d (%.1f a day) | | %g a day (was %g) |\n", r.AllocationErrors, r.AllocationErrorsPerDay, Story.AllocErrorsAfter, Story.AllocErrorsBefore)
	fmt.Fprintf(b, "| oversells | %d | | |\n", r.Oversells)
	fmt.Fprintf(b, "| scan to cloud, p50 / p99 | %.0f / %.0f ms (%d scans) | | %.1f s average |\n", r.ScanToCloudP50, r.ScanToCloudP99, r.LatencySamples, Story.LatencyS)
	fmt.Fprintf(b, "| cloud agreement (mirror = warehouse at the end) | %s | | |\n", pct(r.CloudAgreement))
	fmt.Fprintf(b, "| lost / duplicated | %d / %d | | zero data loss |\n\n", r.Lost, r.Duplicated)
	fmt.Fprintf(b, "The day: %d transactions (%d scanned offline), %d counts (%d mis-keyed, %d counted twice, %d recounts; %d held for review, %d approved), "+
		"%d units of shrinkage and %d damaged without a scan (on %d records), %d allocations decided (%d confirmed; %d order lines the cloud backordered on the mirror's figures), "+
		"%d dead-zone spells, %d lost answers, %d stale request copies, %d duplicate answers.\n\n",
		r.Transactions, r.OfflineScans, r.Counts, r.MisKeys, r.DoubleCounts, r.Recounts, r.HeldCounts, r.ApprovedCounts,
		r.ShrinkageUnits, r.DamageUnits, r.UnseenSlots, r.Allocations, r.Confirmed, r.CloudBackorders,
		r.DeadZoneSpells, r.LostAnswers, r.StaleCopies, r.DuplicateAnswers)
	for _, f := range r.Faults {
		fmt.Fprintf(b, "- fault: %s\n", f)
	}
	if len(r.Faults) > 0 {
		fmt.Fprintln(b)
	}
	link := func(name string) string { return filepath.ToSlash(filepath.Join(chartDir, name)) }
	fmt.Fprintf(b, "![Record accuracy over the day](%s)\n\n![Scan-to-cloud latency](%s)\n\n![Discrepancies per hour](%s)\n\n",
		link(ChartAccuracy), link(ChartLatency), link(ChartDiscrepancies))
	fmt.Fprintln(b, "| hour | invsync | within tolerance | last-write-wins | within tolerance | scans queued offline | discrepancies opened | resolved |")
	fmt.Fprintln(b, "|---|---|---|---|---|---|---|---|")
	for _, h := range r.Hours {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %d | %d | %d |\n", clockOf(h.At), pct(h.Accuracy), pct(h.AccuracyTolerance),
			pct(h.LWW), pct(h.LWWTolerance), h.QueuedOffline, h.DiscrepancyOpened, h.DiscrepancyResolved)
	}
	if len(r.DiscrepancyKinds) > 0 {
		var kinds []string
		for k, n := range r.DiscrepancyKinds {
			kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		}
		sort.Strings(kinds)
		fmt.Fprintf(b, "\nDiscrepancies opened by kind: %s.\n", strings.Join(kinds, ", "))
	}
}

func accuracyChart(r Result) []byte {
	var b bytes.Buffer
	lo := 1.0
	var ss [4]series
	ss[0] = series{name: "invsync", color: "#1f77b4"}
	ss[1] = series{name: "last-write-wins", color: "#d62728"}
	ss[2] = series{name: "invsync, ABC tolerance", color: "#1f77b4", dashed: true}
	ss[3] = series{name: "LWW, ABC tolerance", color: "#d62728", dashed: true}
	for _, h := range r.Hours {
		for i, v := range []float64{h.Accuracy, h.LWW, h.AccuracyTolerance, h.LWWTolerance} {
			ss[i].xs, ss[i].ys = append(ss[i].xs, h.At.Hours()), append(ss[i].ys, 100*v)
			lo = math.Min(lo, v)
		}
	}
	yMin := math.Max(0, math.Floor(100*lo-1))
	c := chart{title: "Record accuracy over the simulated day (audited records whose on-hand = truth)", xLabel: "simulated hour",
		yLabel: "records accurate (%)", xMin: 0, xMax: r.SimulatedHours, yMin: yMin, yMax: 100,
		yFormat: func(v float64) string { return fmt.Sprintf("%g", v) }}
	lineChart(&b, c, ss[:], niceTicks(0, r.SimulatedHours, 12), func(v float64) string { return fmt.Sprintf("%g", v) })
	return b.Bytes()
}

func latencyChart(r Result) []byte {
	var b bytes.Buffer
	// Bins of 25 ms up to the p99.9 (at least 500 ms); what lies beyond
	// goes into the last bin.
	hi := 500.0
	if n := len(r.Latency); n > 0 {
		hi = math.Max(hi, ms(r.Latency[min(n-1, int(0.999*float64(n)))]))
	}
	width := math.Max(25, math.Ceil(hi/40/25)*25)
	bins := int(math.Ceil(hi / width))
	counts := make([]float64, bins)
	for _, d := range r.Latency {
		counts[min(bins-1, int(ms(d)/width))]++
	}
	s := series{name: fmt.Sprintf("scans (%d; p50 %.0f ms, p99 %.0f ms)", len(r.Latency), r.ScanToCloudP50, r.ScanToCloudP99), color: "#2ca02c"}
	top := 1.0
	for i, n := range counts {
		s.xs, s.ys = append(s.xs, float64(i)), append(s.ys, n)
		top = math.Max(top, n)
	}
	c := chart{title: "Scan to cloud (queued on an online scanner → visible in the mirror)", xLabel: fmt.Sprintf("milliseconds (bins of %g ms)", width),
		yLabel: "scans", xMin: -0.5, xMax: float64(bins) - 0.5, yMin: 0, yMax: top * 1.05,
		yFormat: func(v float64) string { return fmt.Sprintf("%g", v) }}
	var ticks []float64
	for i := 0; i < bins; i += max(1, bins/8) {
		ticks = append(ticks, float64(i)-0.5)
	}
	barChart(&b, c, []series{s}, ticks, func(v float64) string { return fmt.Sprintf("%g", (v+0.5)*width) })
	return b.Bytes()
}

func discrepancyChart(r Result) []byte {
	var b bytes.Buffer
	opened := series{name: "opened", color: "#ff7f0e"}
	resolved := series{name: "resolved", color: "#9467bd"}
	top := 1.0
	for _, h := range r.Hours {
		x := math.Ceil(h.At.Hours())
		opened.xs, opened.ys = append(opened.xs, x), append(opened.ys, float64(h.DiscrepancyOpened))
		resolved.xs, resolved.ys = append(resolved.xs, x), append(resolved.ys, float64(h.DiscrepancyResolved))
		top = math.Max(top, math.Max(float64(h.DiscrepancyOpened), float64(h.DiscrepancyResolved)))
	}
	c := chart{title: "Reconciliation discrepancies per simulated hour", xLabel: "hour ending", yLabel: "discrepancies",
		xMin: 0.5, xMax: math.Ceil(r.SimulatedHours) + 0.5, yMin: 0, yMax: math.Ceil(top * 1.1),
		yFormat: func(v float64) string { return fmt.Sprintf("%g", v) }}
	var ticks []float64
	for h := 1.0; h <= math.Ceil(r.SimulatedHours); h += math.Max(1, math.Ceil(r.SimulatedHours/12)) {
		ticks = append(ticks, h)
	}
	barChart(&b, c, []series{opened, resolved}, ticks, func(v float64) string { return fmt.Sprintf("%g", v) })
	return b.Bytes()
}

var _ = time.Second
