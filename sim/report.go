package sim

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// WriteReport writes report.md and the charts (SVG) of r to dir, creating
// it. command is the command line that produced r, quoted in the report.
func WriteReport(dir string, r Result, command string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	for _, c := range []struct {
		name string
		draw func(Result) ([]byte, error)
	}{{ChartAccuracy, accuracyChart}, {ChartAllocErrors, allocErrorsChart}, {ChartCauses, causesChart},
		{ChartLatency, latencyChart}, {ChartDiscrepancies, discrepancyChart}} {
		data, err := c.draw(r)
		if err != nil {
			return fmt.Errorf("drawing %s: %w", c.name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, c.name), data, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", c.name, err)
		}
	}
	var b bytes.Buffer
	WriteMarkdown(&b, r, command, "")
	if err := os.WriteFile(filepath.Join(dir, "report.md"), b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing report.md: %w", err)
	}
	return nil
}

// row is one line of the comparison: a label and a cell per system, and
// the story's figure.
type row struct {
	label string
	cells [3]string
	story string
}

// comparison is the three columns of r, as table rows.
func comparison(r Result) []row {
	pct := func(f float64) string { return fmt.Sprintf("%.2f %%", 100*f) }
	per := func(f func(SystemResult) string) (out [3]string) {
		for i, name := range Systems {
			out[i] = f(r.Systems[name])
		}
		return out
	}
	day := 24 / r.SimulatedHours
	return []row{
		{"count accuracy (count = what the system held)", per(func(s SystemResult) string { return pct(s.CountAccuracy) }),
			fmt.Sprintf("after %.1f %%, before %.1f %% (by cycle-count variance)", 100*Story.AccuracyAfter, 100*Story.AccuracyBefore)},
		{"count accuracy within ABC tolerance", per(func(s SystemResult) string { return pct(s.CountAccuracyTolerance) }), ""},
		{"record accuracy (on-hand = stock, end of day)", per(func(s SystemResult) string { return pct(s.RecordAccuracy) }), ""},
		{"record accuracy within ABC tolerance", per(func(s SystemResult) string { return pct(s.RecordAccuracyTolerance) }), ""},
		{"allocation errors", per(func(s SystemResult) string {
			return fmt.Sprintf("%d (%.1f a day)", s.AllocationErrors, float64(s.AllocationErrors)*day)
		}), fmt.Sprintf("after %g a day, before %g", Story.AllocErrorsAfter, Story.AllocErrorsBefore)},
		{"oversells", per(func(s SystemResult) string { return fmt.Sprint(s.Oversells) }), ""},
		{"allocations confirmed / backordered", per(func(s SystemResult) string { return fmt.Sprintf("%d / %d", s.Confirmed, s.Backorders) }), ""},
		{"scan to cloud p50 / p99", per(func(s SystemResult) string {
			return fmt.Sprintf("%.0f / %.0f ms", s.ScanToCloudP50, s.ScanToCloudP99)
		}), fmt.Sprintf("after: %.1f s average", Story.LatencyS)},
		{"lost / duplicated", per(func(s SystemResult) string { return fmt.Sprintf("%d / %d", s.Lost, s.Duplicated) }), "after: zero data loss"},
		{"cloud agreement (cloud = warehouse, end of day)", per(func(s SystemResult) string { return pct(s.CloudAgreement) }), ""},
	}
}

// causeRows are the causes, one row each: wrong records at the end of
// the day plus allocation errors, per system.
func causeRows(r Result) []row {
	var out []row
	for _, c := range causeNames(r) {
		rw := row{label: c}
		for i, name := range Systems {
			rw.cells[i] = fmt.Sprint(r.Systems[name].Causes[c])
		}
		out = append(out, rw)
	}
	return out
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
	fmt.Fprintf(b, "| | %s | %s | %s | the story's figures |\n|---|---|---|---|---|\n",
		systemLabel[SystemInvsync], systemLabel[SystemStoryAfter], systemLabel[SystemStoryBefore])
	for _, rw := range comparison(r) {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", rw.label, rw.cells[0], rw.cells[1], rw.cells[2], rw.story)
	}
	if rows := causeRows(r); len(rows) > 0 {
		fmt.Fprintf(b, "\nWrong records (end of day) and allocation errors, by cause:\n\n| cause | %s | %s | %s |\n|---|---|---|---|\n",
			systemLabel[SystemInvsync], systemLabel[SystemStoryAfter], systemLabel[SystemStoryBefore])
		for _, rw := range rows {
			fmt.Fprintf(b, "| %s | %s | %s | %s |\n", rw.label, rw.cells[0], rw.cells[1], rw.cells[2])
		}
	}
	fmt.Fprintf(b, "\nThe day: %d transactions to invsync (%d scanned offline), %d counts (%d mis-keyed, %d counted twice, %d recounts; %d held for review, %d approved), "+
		"%d units of shrinkage and %d damaged without a scan (on %d records), %d allocations decided by invsync (%d confirmed; %d order lines the cloud backordered on the mirror's figures), "+
		"%d dead-zone spells, %d cloud outages, %d lost answers, %d stale request copies, %d duplicate answers.\n\n",
		r.Transactions, r.OfflineScans, r.Counts, r.MisKeys, r.DoubleCounts, r.Recounts, r.HeldCounts, r.ApprovedCounts,
		r.ShrinkageUnits, r.DamageUnits, r.UnseenSlots, r.Allocations, r.Confirmed, r.CloudBackorders,
		r.DeadZoneSpells, r.CloudOutages, r.LostAnswers, r.StaleCopies, r.DuplicateAnswers)
	for _, f := range r.Faults {
		fmt.Fprintf(b, "- fault: %s\n", f)
	}
	if len(r.Faults) > 0 {
		fmt.Fprintln(b)
	}
	link := func(name string) string { return filepath.ToSlash(filepath.Join(chartDir, name)) }
	fmt.Fprintf(b, "![Record accuracy over the day](%s)\n\n![Allocation errors per hour](%s)\n\n![Attribution](%s)\n\n![Scan-to-cloud latency](%s)\n\n![Discrepancies per hour](%s)\n\n",
		link(ChartAccuracy), link(ChartAllocErrors), link(ChartCauses), link(ChartLatency), link(ChartDiscrepancies))
	fmt.Fprintln(b, "| hour | invsync | within tolerance | story after | within tolerance | story before | within tolerance | scans queued offline | discrepancies opened | resolved |")
	fmt.Fprintln(b, "|---|---|---|---|---|---|---|---|---|---|")
	for _, h := range r.Hours {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %d | %d | %d |\n", clockOf(h.At), pct(h.Accuracy), pct(h.AccuracyTolerance),
			pct(h.LWW), pct(h.LWWTolerance), pct(h.Before), pct(h.BeforeTolerance), h.QueuedOffline, h.DiscrepancyOpened, h.DiscrepancyResolved)
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
