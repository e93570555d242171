package processors

import "time"

// Config configures a Processor. The zero value applies the spec's defaults.
type Config struct {
	// LedgerWindow is how long a record's deltas are kept to rebase late
	// cycle counts (default 7 days, longer than any offline queue). A count
	// older than the window is flagged for review instead of applied.
	LedgerWindow time.Duration
	// PruneEvery bounds how often a record's ledger is swept for entries
	// older than the window (default 1 hour).
	PruneEvery time.Duration
	// Locks says who holds a location when a transaction is applied (the
	// lock rules of Apply); nil means no location is ever locked.
	Locks Locks
	// Tolerances says which items' counts may be held for review (the
	// catalog's ABC classes); nil means none is.
	Tolerances Tolerances
	// CountTasks looks up the count task a CYCLE_COUNT completes; nil
	// means none is known.
	CountTasks CountTasks
	// ReconciliationGrace is how long a record may stay behind in the
	// cloud's reports before it is a STALE discrepancy (default 2
	// minutes).
	ReconciliationGrace time.Duration
}

func (c Config) withDefaults() Config {
	if c.LedgerWindow <= 0 {
		c.LedgerWindow = 7 * 24 * time.Hour
	}
	if c.PruneEvery <= 0 {
		c.PruneEvery = time.Hour
	}
	if c.ReconciliationGrace <= 0 {
		c.ReconciliationGrace = 2 * time.Minute
	}
	return c
}

// Processor applies transactions to one partition's state. It holds no
// state of its own and is safe for concurrent use on distinct Stores.
type Processor struct {
	cfg Config
}

// New returns a Processor.
func New(cfg Config) *Processor { return &Processor{cfg: cfg.withDefaults()} }
