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

// WriteTable prints the result as a table: invsync beside the story's
// after and before on the same day, and the story's figures.
func WriteTable(w io.Writer, r Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	state := "completed"
	if !r.Completed {
		state = "STOPPED at " + r.StoppedAt + ": " + r.Error
	}
	fmt.Fprintf(tw, "invsync simulate: seed %d, %d warehouses, %d scanners, %d records, %g simulated hours at %gx (%s, %.0f s real)\n\n",
		r.Seed, r.Warehouses, r.Scanners, r.Records, r.SimulatedHours, r.Speed, state, r.RealSeconds)
	fmt.Fprintf(tw, "\t%s\t%s\t%s\tthe story\n", systemLabel[SystemInvsync], systemLabel[SystemStoryAfter], systemLabel[SystemStoryBefore])
	for _, rw := range comparison(r) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", rw.label, rw.cells[0], rw.cells[1], rw.cells[2], rw.story)
	}
	if !r.Completed {
		fmt.Fprintln(tw, "(a stopped run: lost, duplicated and cloud agreement are measured at the end of the day)")
	}
	if rows := causeRows(r); len(rows) > 0 {
		fmt.Fprintln(tw, "\nwrong records and allocation errors, by cause")
		for _, rw := range rows {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t\n", rw.label, rw.cells[0], rw.cells[1], rw.cells[2])
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "transactions\t%d to invsync (%d while offline)\n", r.Transactions, r.OfflineScans)
	fmt.Fprintf(tw, "counts\t%d (%d mis-keyed, %d double, %d recounts; %d held, %d approved)\n",
		r.Counts, r.MisKeys, r.DoubleCounts, r.Recounts, r.HeldCounts, r.ApprovedCounts)
	fmt.Fprintf(tw, "unscanned losses\t%d units shrinkage, %d damaged, on %d records\n", r.ShrinkageUnits, r.DamageUnits, r.UnseenSlots)
	fmt.Fprintf(tw, "network\t%d dead-zone spells, %d cloud outages, %d lost answers, %d stale copies, %d duplicate answers\n",
		r.DeadZoneSpells, r.CloudOutages, r.LostAnswers, r.StaleCopies, r.DuplicateAnswers)
	if r.ConfirmedAfterDay > 0 {
		fmt.Fprintf(tw, "allocations\t%d confirmed only after the day ended (not among the confirmed)\n", r.ConfirmedAfterDay)
	}
	if r.NotFoundAnswers > 0 {
		fmt.Fprintf(tw, "server\t%d answers 404 for allocations that exist (after a restart), asked again\n", r.NotFoundAnswers)
	}
	for _, f := range r.Faults {
		fmt.Fprintf(tw, "fault\t%s\n", f)
	}
	return tw.Flush()
}
