package mirror

import (
	"time"
)

// positionKey is the primary key of positions (and a stock record's identity).
type positionKey struct {
	WarehouseID, ItemID, LocationID, LotNumber string
}

// positionRow is one row of positions, as an inventory event states it.
type positionRow struct {
	positionKey
	OnHand, Allocated, Available, Version int64
	UpdatedAt                             time.Time
	// Correction: from a ReconciliationCorrection event, which also
	// replaces a row of the same version (see supersedes).
	Correction bool
}

// supersedes reports whether p replaces cur, a row of the same key: a row
// only moves forward in version, and a correction also replaces the row of
// its own version (equal version with a different onHand is the MISMATCH it
// repairs). The SQL upserts apply the same rule against the stored row.
func (p positionRow) supersedes(cur positionRow) bool {
	return p.Version > cur.Version || p.Correction && p.Version >= cur.Version
}

// allocationRow is one row of allocations, as a decision states it.
type allocationRow struct {
	AllocationID, OrderID                   string
	OrderLine                               int32
	WarehouseID, ItemID, Status             string
	Requested, Confirmed, Backorder, Picked int64
	LinesJSON                               string
	Reason                                  *string
	DecisionID                              string
	Sequence                                int64
	UpdatedAt                               time.Time
}

// Discrepancy is one row of discrepancies: a reconciliation finding, as
// GET /v1/discrepancies/{id} describes it (history aside). The quantities
// absent for a kind (the cloud's for MISSING_IN_CLOUD, the warehouse's for
// UNKNOWN_TO_WAREHOUSE) are nil. A DiscrepancyDecoder returns it.
type Discrepancy struct {
	DiscrepancyID    string
	WarehouseID      string
	ItemID           string
	LocationID       string
	LotNumber        string // "" when not lot-tracked
	Kind             string // MISMATCH, MISSING_IN_CLOUD, STALE, AHEAD, UNKNOWN_TO_WAREHOUSE
	WarehouseOnHand  *int64
	WarehouseVersion *int64
	CloudOnHand      *int64
	CloudVersion     *int64
	Status           string // OPEN, INVESTIGATING, RESOLVED
	Assignee         *string
	Resolution       *string
	OpenedAt         time.Time
	// UpdatedAt is when this state of the discrepancy was recorded; a row
	// moves forward in UpdatedAt only.
	UpdatedAt time.Time
}

// DiscrepancyDecoder decodes one value of the discrepancies topic. An error
// sends the record to dead_letters.
type DiscrepancyDecoder func(value []byte) (Discrepancy, error)

// deadLetter is one row of dead_letters.
type deadLetter struct {
	Topic      string
	Partition  int32
	Offset     int64
	Err        string
	Key, Value []byte
}

// topicPartition names one partition.
type topicPartition struct {
	Topic     string
	Partition int32
}
