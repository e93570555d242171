// Package sim is the fleet simulation behind `invsync simulate`: a seeded
// warehouse world whose physical truth the simulator owns, driven through
// the real system (scanner devices from the scanner package uploading over
// HTTP, the cloud allocating two-phase against what the SQL mirror shows),
// with a last-write-wins reference system fed the very same transactions,
// and the accounting that compares both with the truth.
//
// # What happens in a day
//
// A World (warehouses, locations, items with ABC classes, slots where an
// item lies, scanners) is generated from the seed, and so is a Plan: every
// physical event of the day at its simulated moment. Receipts, floor picks
// and moves change the truth and are scanned; shrinkage and damage change
// the truth and are not; cycle counts observe the truth, some mis-keyed (a
// digit dropped or doubled), some counted a second time moments later by
// another scanner. Dead zones take scanners offline for minutes to 8 hours,
// some device clocks run ±2 minutes off and one by hours, and the network
// loses answers (the device resends: a duplicate) and delivers stale copies
// of requests late (reordered uploads). The cloud takes a stream of order
// lines, allocates each against the mirror's available stock (two-phase:
// POST /v1/allocations?wait=decided), and the picker later picks what the
// allocation holds at that moment; a short pick is counted on the spot.
// A supervisor answers held counts by sending a recount and approving a
// count a recount agrees with. The mirror reports to reconciliation every
// 15 simulated minutes.
//
// # Time
//
// Simulated time runs Config.Speed times faster than real time. A
// simulated day of Config.Hours hours is laid in the window that ends at
// the real start of the run: the moment t after the day's start is the
// timestamp start−Hours+t. A device stamps each scan with that moment plus
// its own clock error, and sends sentAt as the real time plus the same
// error, so the server's skew correction (receive time − sentAt) recovers
// the true simulated moment, as it would for a real device whose clock is
// off by a constant. Everything the server times itself (allocation
// expiry, lock TTLs, reconciliation grace, snapshots) runs on real time, so
// the simulator scales what it asks for: an allocation that must be picked
// within 4 simulated hours expires 4h/Speed after it was made.
//
// The Plan and the World depend on the seed alone: the same seed gives the
// same truth and the same scans. What the system decides (allocations,
// held counts) feeds back into picks and recounts, so figures of two runs
// of one seed agree within noise.
//
// # What is measured
//
// See Result: record accuracy (audited records whose on-hand equals the
// truth, and within the ABC tolerance) for invsync and for last-write-wins,
// cloud agreement, oversells, allocation errors, scan-to-cloud latency,
// lost and duplicated transactions.
package sim
