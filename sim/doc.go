// Package sim is the fleet simulation behind `invsync simulate`: a seeded
// warehouse world whose physical truth the simulator owns, driven through
// the real system (scanner devices from the scanner package uploading over
// HTTP, the cloud allocating two-phase against what the SQL mirror shows),
// beside models of the story's before and after systems living the same
// day, and the accounting that compares each with its stock and traces
// each difference to its cause.
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
// # The story's systems
//
// The story's before and after (see story.go) are models, not programs:
// each has a world of its own (its own stock, warehouse record, cloud
// view, allocations and picks), in which the plan happens as in
// invsync's — the same receipts, floor picks, moves, counts, shrinkage,
// damage and order lines, by the same scanners with the same dead zones
// and clocks, and the same cloud outages (Plan.Outages). Only each
// system's own allocations and the counts its own pickers make at a short
// shelf differ; no system sees another's recounts. The after: scans
// reach the warehouse at once, or from the device's queue when a dead
// zone ends; last write wins by device timestamp; a count holds a
// 30-minute location lock; events reach the cloud in 1–2 s, 0.3 % after
// a 30 s retry, after an outage when the cloud is out; the cloud
// allocates on its view and the warehouse confirms or rejects each line;
// every 15 minutes the warehouse's positions overwrite the cloud's. The
// before: dead-zone scans are keyed in from paper when the spell ends
// (stamped then, some typed wrong), webhooks carry the change and are
// lost while the cloud is out, the cloud's allocations are final.
//
// # What is measured
//
// See Result and SystemResult: per system, count accuracy (the plan's
// counts against what the system held when it took them), record
// accuracy (records whose on-hand equals the stock, and within the ABC
// tolerance), allocation errors, oversells, scan-to-cloud latency, lost
// and duplicated updates, cloud agreement, and the causes of wrong
// records and allocation errors.
package sim
