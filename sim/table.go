package sim

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// Story are the figures the motivating story reported for its
// last-write-wins system after its changes (and, for accuracy and
// allocation errors, before them).
var Story = struct {
	AccuracyBefore, AccuracyAfter                 float64
	AllocErrorsBefore, AllocErrorsAfter, LatencyS float64
}{0.941, 0.993, 45, 6, 1.8}

// WriteTable prints the result as a table: invsync beside last-write-wins
// fed the same transactions, and the story's figures.
func WriteTable(w io.Writer, r Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	pct := func(f float64) string { return fmt.Sprintf("%.2f %%", 100*f) }
	state := "completed"
	if !r.Completed {
		state = "STOPPED at " + r.StoppedAt + ": " + r.Error
	}
	fmt.Fprintf(tw, "invsync simulate: seed %d, %d warehouses, %d scanners, %d records, %g simulated hours at %gx (%s, %.0f s real)\n\n",
		r.Seed, r.Warehouses, r.Scanners, r.Records, r.SimulatedHours, r.Speed, state, r.RealSeconds)
	fmt.Fprintln(tw, "\tinvsync\tlast-write-wins (same transactions)\tthe story (LWW)")
	fmt.Fprintf(tw, "record accuracy (exact)\t%s\t%s\t%.1f %% (was %.1f %%; by cycle-count variance)\n",
		pct(r.RecordAccuracy), pct(r.LWWRecordAccuracy), 100*Story.AccuracyAfter, 100*Story.AccuracyBefore)
	fmt.Fprintf(tw, "record accuracy (ABC tolerance)\t%s\t%s\t\n", pct(r.RecordAccuracyTolerance), pct(r.LWWRecordAccuracyTolerance))
	fmt.Fprintf(tw, "allocation errors\t%d (%.1f a day)\t\t%g a day (was %g)\n", r.AllocationErrors, r.AllocationErrorsPerDay,
		Story.AllocErrorsAfter, Story.AllocErrorsBefore)
	fmt.Fprintf(tw, "oversells\t%d\t\t\n", r.Oversells)
	fmt.Fprintf(tw, "scan to cloud p50 / p99\t%.0f / %.0f ms\t\t%.1f s average\n", r.ScanToCloudP50, r.ScanToCloudP99, Story.LatencyS)
	agreement := pct(r.CloudAgreement)
	if !r.Completed {
		agreement = "not measured (measured at the end of the day)"
	}
	fmt.Fprintf(tw, "cloud agreement (mirror = warehouse)\t%s\t\t\n", agreement)
	lostDup := fmt.Sprintf("%d / %d", r.Lost, r.Duplicated)
	if !r.Completed {
		lostDup = "not checked (checked at the end of the day)"
	}
	fmt.Fprintf(tw, "lost / duplicated\t%s\t\t0 data loss\n", lostDup)
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "transactions\t%d (%d while offline)\n", r.Transactions, r.OfflineScans)
	fmt.Fprintf(tw, "counts\t%d (%d mis-keyed, %d double, %d recounts; %d held, %d approved)\n",
		r.Counts, r.MisKeys, r.DoubleCounts, r.Recounts, r.HeldCounts, r.ApprovedCounts)
	fmt.Fprintf(tw, "unscanned losses\t%d units shrinkage, %d damaged, on %d records\n", r.ShrinkageUnits, r.DamageUnits, r.UnseenSlots)
	fmt.Fprintf(tw, "allocations\t%d decided, %d confirmed; %d order lines backordered by the cloud\n", r.Allocations, r.Confirmed, r.CloudBackorders)
	fmt.Fprintf(tw, "network\t%d dead-zone spells, %d lost answers, %d stale copies, %d duplicate answers\n",
		r.DeadZoneSpells, r.LostAnswers, r.StaleCopies, r.DuplicateAnswers)
	if r.NotFoundAnswers > 0 {
		fmt.Fprintf(tw, "server\t%d answers 404 for allocations that exist (after a restart), asked again\n", r.NotFoundAnswers)
	}
	for _, f := range r.Faults {
		fmt.Fprintf(tw, "fault\t%s\n", f)
	}
	return tw.Flush()
}
