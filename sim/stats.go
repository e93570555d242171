package sim

import "time"

// stats are the counters of a run. Main-loop counters are written by the
// main loop only; the others through runner.count.
type stats struct {
	scans, offlineScans                   int
	counts, misKeys, doubleCounts         int
	recounts                              int
	shrinkUnits, damageUnits              int64
	allocations, allocRejected, confirmed int
	confirmedAfterDay                     int // decided CONFIRMED once the day was over
	cloudBackorders                       int
	oversells, allocErrors                int
	picked, notPicked                     int
	held, approved                        int
	notFound                              int // 404s answered for allocations that exist
}

// Hour is one audit of the day: the three systems against their stock at
// one simulated moment, and the discrepancies invsync's reconciliation
// opened and resolved since the previous audit.
type Hour struct {
	At                time.Duration `json:"-"`
	Hour              float64       `json:"hour"`
	Accuracy          float64       `json:"record_accuracy"`
	AccuracyTolerance float64       `json:"record_accuracy_tolerance"`
	// LWW is the story's after (last-write-wins), Before the story's
	// before.
	LWW                 float64 `json:"lww_record_accuracy"`
	LWWTolerance        float64 `json:"lww_record_accuracy_tolerance"`
	Before              float64 `json:"story_before_record_accuracy"`
	BeforeTolerance     float64 `json:"story_before_record_accuracy_tolerance"`
	QueuedOffline       int     `json:"queued_offline"`
	DiscrepancyOpened   int     `json:"discrepancies_opened"`
	DiscrepancyResolved int     `json:"discrepancies_resolved"`
}

// Result is what a run measured. Shares are fractions from 0 to 1. The
// JSON names are the contract of `invsync simulate --json`.
type Result struct {
	Completed bool   `json:"completed"`
	StoppedAt string `json:"stopped_at,omitempty"` // the simulated time of day where a failed run stopped
	Error     string `json:"error,omitempty"`

	Seed           uint64  `json:"seed"`
	Warehouses     int     `json:"warehouses"`
	Scanners       int     `json:"scanners"`
	Records        int     `json:"records"`
	SimulatedHours float64 `json:"simulated_hours"`
	Speed          float64 `json:"speed"`
	RealSeconds    float64 `json:"real_seconds"`
	PlanDigest     string  `json:"plan_digest"`
	Transactions   int     `json:"transactions"`

	// Systems are the three columns: invsync, the story's after and its
	// before (see Systems). The top-level figures are invsync's, and
	// lww_… the story's after.
	Systems map[string]SystemResult `json:"systems"`

	RecordAccuracy             float64 `json:"record_accuracy"`
	RecordAccuracyTolerance    float64 `json:"record_accuracy_tolerance"`
	LWWRecordAccuracy          float64 `json:"lww_record_accuracy"`
	LWWRecordAccuracyTolerance float64 `json:"lww_record_accuracy_tolerance"`
	CloudAgreement             float64 `json:"cloud_agreement"`

	Oversells              int     `json:"oversells"`
	AllocationErrors       int     `json:"allocation_errors"`
	AllocationErrorsPerDay float64 `json:"allocation_errors_per_day"`
	Allocations            int     `json:"allocations"`
	Confirmed              int     `json:"allocations_confirmed"`
	// ConfirmedAfterDay: allocations of the day's orders confirmed only
	// after the day ended; in Allocations, not in Confirmed (nothing was
	// picked for them).
	ConfirmedAfterDay int `json:"allocations_confirmed_after_day"`
	CloudBackorders   int `json:"cloud_backorders"`

	ScanToCloudP50 float64 `json:"scan_to_cloud_p50_ms"`
	ScanToCloudP99 float64 `json:"scan_to_cloud_p99_ms"`
	LatencySamples int     `json:"scan_to_cloud_samples"`

	Lost       int `json:"lost"`
	Duplicated int `json:"duplicated"`

	Counts           int            `json:"counts"`
	MisKeys          int            `json:"mis_keys"`
	DoubleCounts     int            `json:"double_counts"`
	Recounts         int            `json:"recounts"`
	HeldCounts       int            `json:"held_counts"`
	ApprovedCounts   int            `json:"approved_counts"`
	ShrinkageUnits   int64          `json:"shrinkage_units"`
	DamageUnits      int64          `json:"damage_units"`
	UnseenSlots      int            `json:"slots_changed_unscanned"`
	OfflineScans     int            `json:"offline_scans"`
	DeadZoneSpells   int            `json:"dead_zone_spells"`
	LostAnswers      int            `json:"lost_answers"`
	StaleCopies      int            `json:"stale_copies"`
	DuplicateAnswers int            `json:"duplicate_answers"`
	CloudOutages     int            `json:"cloud_outages"`
	Faults           []string       `json:"faults,omitempty"`
	NotFoundAnswers  int            `json:"allocation_not_found_answers"`
	Unsent           int            `json:"unsent"`
	DiscrepancyKinds map[string]int `json:"discrepancies_opened_by_kind"`

	Hours   []Hour          `json:"-"`
	Latency []time.Duration `json:"-"`
}

// SystemResult is one system's column: the story's measures, and the
// causes of its wrong records (at the end of the day) and of its
// allocation errors.
type SystemResult struct {
	// CountAccuracy is the share of the plan's cycle counts whose
	// counted quantity (as typed) equalled what the system held just
	// before; _tolerance: within the item's ABC tolerance of it.
	CountAccuracy          float64 `json:"count_accuracy"`
	CountAccuracyTolerance float64 `json:"count_accuracy_tolerance"`
	// RecordAccuracy is the share of records equal to the stock at the
	// end of the day.
	RecordAccuracy          float64 `json:"record_accuracy"`
	RecordAccuracyTolerance float64 `json:"record_accuracy_tolerance"`
	AllocationErrors        int     `json:"allocation_errors"`
	Oversells               int     `json:"oversells"`
	ScanToCloudP50          float64 `json:"scan_to_cloud_p50_ms"`
	ScanToCloudP99          float64 `json:"scan_to_cloud_p99_ms"`
	Lost                    int     `json:"lost"`
	Duplicated              int     `json:"duplicated"`
	CloudAgreement          float64 `json:"cloud_agreement"`
	// Causes: cause → wrong records and allocation errors owed to it.
	Causes map[string]int `json:"causes"`

	Counts                 int   `json:"counts"`
	Allocations            int   `json:"allocations"`
	Confirmed              int   `json:"allocations_confirmed"`
	Backorders             int   `json:"backorders"`
	Rejected               int   `json:"allocations_rejected"`
	AllocationErrorsByHour []int `json:"allocation_errors_by_hour"`
	LockWarnings           int   `json:"lock_warnings,omitempty"`
	KeyedFromPaper         int   `json:"keyed_from_paper,omitempty"`
}
