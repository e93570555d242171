package processors

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"
)

// Discrepancy kinds: how the cloud's view of a stock record disagrees with
// the warehouse's.
const (
	// KindMismatch: same version, different onHand: a real divergence.
	KindMismatch = "MISMATCH"
	// KindMissingInCloud: a complete report lacks a record the warehouse
	// holds.
	KindMissingInCloud = "MISSING_IN_CLOUD"
	// KindUnknownToWarehouse: the cloud reports a record (of a catalog
	// item and location) the warehouse holds no stock record for.
	KindUnknownToWarehouse = "UNKNOWN_TO_WAREHOUSE"
	// KindAhead: the cloud claims a version the warehouse never produced.
	KindAhead = "AHEAD"
	// KindStale: still behind in a report more than the grace period
	// after it was first found behind: an event the cloud lost.
	KindStale = "STALE"
)

// Discrepancy statuses and resolutions.
const (
	DiscrepancyOpen          = "OPEN"
	DiscrepancyInvestigating = "INVESTIGATING"
	DiscrepancyResolved      = "RESOLVED"

	// ResolutionCloudCorrected: a later report agreed (automatic).
	ResolutionCloudCorrected   = "CLOUD_CORRECTED"
	ResolutionRecountRequested = "RECOUNT_REQUESTED"
	ResolutionWarehouseConfirm = "WAREHOUSE_CONFIRMED"
	ResolutionWrittenOff       = "WRITTEN_OFF"
)

// Codes of refused discrepancy updates.
const (
	CodeDiscrepancyNotFound = "DISCREPANCY_NOT_FOUND"
	CodeInvalidTransition   = "INVALID_TRANSITION"
)

// DiscrepancyStep is one entry of a discrepancy's history.
type DiscrepancyStep struct {
	At         time.Time `json:"at"`
	By         string    `json:"by"`
	Status     string    `json:"status"`
	Kind       string    `json:"kind,omitempty"`
	Assignee   string    `json:"assignee,omitempty"`
	Resolution string    `json:"resolution,omitempty"`
	Note       string    `json:"note,omitempty"`
}

// Discrepancy is a stock record on which the cloud and the warehouse
// disagreed, and how it is being worked through. At most one per record is
// unresolved at a time.
type Discrepancy struct {
	DiscrepancyID    string `json:"discrepancyId"`
	WarehouseID      string `json:"warehouseId"`
	ItemID           string `json:"itemId"`
	LocationID       string `json:"locationId"`
	LotNumber        string `json:"lotNumber"`
	Kind             string `json:"kind"`
	WarehouseOnHand  int64  `json:"warehouseOnHand"`
	WarehouseVersion int64  `json:"warehouseVersion"`
	// CloudOnHand and CloudVersion are what the cloud reported; nil for
	// MISSING_IN_CLOUD.
	CloudOnHand  *int64            `json:"cloudOnHand"`
	CloudVersion *int64            `json:"cloudVersion"`
	Status       string            `json:"status"`
	Assignee     string            `json:"assignee,omitempty"`
	Resolution   string            `json:"resolution,omitempty"`
	ReportID     string            `json:"reportId"`
	CountTaskID  string            `json:"countTaskId,omitempty"`
	OpenedAt     time.Time         `json:"openedAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`
	History      []DiscrepancyStep `json:"history"`
	// Sequence counts the discrepancy's published changes, so a
	// consumer keeps the latest.
	Sequence int64 `json:"sequence"`
}

// Resolved reports whether the discrepancy is closed.
func (d *Discrepancy) Resolved() bool { return d.Status == DiscrepancyResolved }

const (
	tagDiscrepancy     = 'd' // d discrepancyId                -> Discrepancy (JSON)
	tagOpenDiscrepancy = 'D' // D recordKey                    -> discrepancyId of the unresolved one
	tagBehind          = 'b' // b recordKey                    -> behind tracking
)

// DiscrepancyKey is the key of a discrepancy.
func DiscrepancyKey(id string) []byte { return joinKey(tagDiscrepancy, id) }

func openDiscrepancyKey(recKey []byte) []byte { return append([]byte{tagOpenDiscrepancy}, recKey...) }

// discrepancyID is deterministic: the report and the record name it, so
// comparing the same report again finds the same one.
func discrepancyID(reportID string, recKey []byte) string {
	h := sha256.Sum256(append(append([]byte(reportID), 0), recKey...))
	return "d-" + hex.EncodeToString(h[:10])
}

func loadDiscrepancy(s Reader, id string) (Discrepancy, bool, error) {
	return getJSON[Discrepancy](s, DiscrepancyKey(id), "discrepancy", id)
}

// LookupDiscrepancy returns a discrepancy by id.
func LookupDiscrepancy(s Reader, id string) (Discrepancy, bool, error) { return loadDiscrepancy(s, id) }

// openDiscrepancy returns the unresolved discrepancy of a record, if any.
func openDiscrepancy(s Reader, recKey []byte) (Discrepancy, bool, error) {
	v, ok, err := s.Get(openDiscrepancyKey(recKey))
	if err != nil || !ok {
		return Discrepancy{}, false, err
	}
	return loadDiscrepancy(s, string(v))
}

// saveDiscrepancy stores d, keeping the record's open index in step.
func saveDiscrepancy(s Store, d *Discrepancy) error {
	if err := setJSON(s, DiscrepancyKey(d.DiscrepancyID), d); err != nil {
		return err
	}
	open := openDiscrepancyKey(RecordKey(d.WarehouseID, d.ItemID, d.LocationID, d.LotNumber))
	if d.Resolved() {
		return s.Delete(open)
	}
	return s.Set(open, []byte(d.DiscrepancyID))
}

// step appends a history entry and counts the change.
func (d *Discrepancy) step(at time.Time, by string, e DiscrepancyStep) {
	e.At, e.By, e.Status = at.UTC(), by, d.Status
	d.History = append(d.History, e)
	d.UpdatedAt = at.UTC()
	d.Sequence++
}

// Discrepancies returns the partition's discrepancies of a warehouse ("" for
// all) with one of statuses (none: every status), in id order.
func Discrepancies(s Reader, wh string, statuses ...string) ([]Discrepancy, error) {
	return scanJSON(s, tagDiscrepancy, "discrepancy", func(d *Discrepancy) bool {
		return (wh == "" || d.WarehouseID == wh) && (len(statuses) == 0 || slices.Contains(statuses, d.Status))
	})
}

// DiscrepancyUpdate is a supervisor's change to a discrepancy (PATCH). Nil
// fields are left as they are.
type DiscrepancyUpdate struct {
	DiscrepancyID string
	Status        *string
	Assignee      *string
	Resolution    *string
	Note          string
	By            string
}

// updateDiscrepancy applies u at now. OPEN and INVESTIGATING may move to
// INVESTIGATING (assignee, notes) or to RESOLVED with a resolution a person
// may give (RECOUNT_REQUESTED, WAREHOUSE_CONFIRMED, WRITTEN_OFF); RESOLVED is
// final. RECOUNT_REQUESTED also asks for a count task of the record's
// location, returned for the caller to publish.
func (p *Processor) updateDiscrepancy(s Store, u *DiscrepancyUpdate, now time.Time) (Discrepancy, *CountTask, *Rejection, error) {
	d, ok, err := loadDiscrepancy(s, u.DiscrepancyID)
	if err != nil {
		return Discrepancy{}, nil, nil, err
	}
	if !ok {
		return Discrepancy{}, nil, reject(CodeDiscrepancyNotFound, "discrepancy %s does not exist", u.DiscrepancyID), nil
	}
	if d.Resolved() {
		return d, nil, reject(CodeInvalidTransition, "discrepancy %s is already resolved (%s)", d.DiscrepancyID, d.Resolution), nil
	}
	status := d.Status
	if u.Status != nil {
		status = *u.Status
	}
	resolution := ""
	if u.Resolution != nil {
		resolution = *u.Resolution
	}
	switch status {
	case DiscrepancyInvestigating:
		if resolution != "" {
			return d, nil, reject(CodeInvalidTransition, "a resolution goes with status RESOLVED, not %s", status), nil
		}
	case DiscrepancyResolved:
		switch resolution {
		case ResolutionRecountRequested, ResolutionWarehouseConfirm, ResolutionWrittenOff:
		case ResolutionCloudCorrected:
			return d, nil, reject(CodeInvalidTransition, "CLOUD_CORRECTED is set automatically when a later report agrees"), nil
		default:
			return d, nil, reject(CodeInvalidTransition, "RESOLVED needs a resolution: RECOUNT_REQUESTED, WAREHOUSE_CONFIRMED or WRITTEN_OFF"), nil
		}
	case DiscrepancyOpen:
		if u.Status != nil {
			return d, nil, reject(CodeInvalidTransition, "a discrepancy cannot be moved back to OPEN"), nil
		}
	default:
		return d, nil, reject(CodeInvalidTransition, "status %q is not INVESTIGATING or RESOLVED", status), nil
	}
	d.Status = status
	if u.Assignee != nil {
		d.Assignee = *u.Assignee
	}
	var task *CountTask
	if status == DiscrepancyResolved {
		d.Resolution = resolution
		if resolution == ResolutionRecountRequested {
			task = &CountTask{CountTaskID: "ct-" + d.DiscrepancyID, WarehouseID: d.WarehouseID, LocationID: d.LocationID,
				ItemID: d.ItemID, Reason: "recount requested for discrepancy " + d.DiscrepancyID, Status: CountTaskOpen,
				CreatedAt: now.UTC(), CreatedBy: u.By, DiscrepancyID: d.DiscrepancyID}
			d.CountTaskID = task.CountTaskID
		}
	}
	d.step(now, u.By, DiscrepancyStep{Assignee: d.Assignee, Resolution: d.Resolution, Note: u.Note})
	if err := saveDiscrepancy(s, &d); err != nil {
		return Discrepancy{}, nil, nil, err
	}
	return d, task, nil, nil
}
