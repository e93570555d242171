package processors

import "time"

// Count task statuses.
const (
	CountTaskOpen = "OPEN"
	CountTaskDone = "DONE"
)

// Warnings about a CYCLE_COUNT's countTaskId (the count itself is applied).
const (
	// WarnCountTaskUnknown: no open count task has this id.
	WarnCountTaskUnknown = "COUNT_TASK_UNKNOWN"
	// WarnCountTaskMismatch: the task is for another location or item.
	WarnCountTaskMismatch = "COUNT_TASK_MISMATCH"
)

// CountTask asks for a location (optionally one item there) to be counted:
// created by a supervisor, or by a discrepancy resolved RECOUNT_REQUESTED;
// completed by a CYCLE_COUNT that carries its id.
type CountTask struct {
	CountTaskID   string     `json:"countTaskId"`
	WarehouseID   string     `json:"warehouseId"`
	LocationID    string     `json:"locationId"`
	ItemID        string     `json:"itemId,omitempty"`
	Reason        string     `json:"reason"`
	Status        string     `json:"status"`
	CreatedAt     time.Time  `json:"createdAt"`
	CreatedBy     string     `json:"createdBy"`
	DiscrepancyID string     `json:"discrepancyId,omitempty"`
	CompletedAt   *time.Time `json:"completedAt"`
	CompletedBy   string     `json:"completedBy,omitempty"` // the transaction that completed it
}

// CountTasks looks count tasks up (the count-tasks table every instance
// keeps); nil means no task is ever known.
type CountTasks interface {
	CountTask(id string) (CountTask, bool)
}

// completeCountTask decides what a CYCLE_COUNT applied with a countTaskId
// does to its task: the task done (returned for the caller to publish) and
// the discrepancy that asked for it, if still unresolved, resolved; or a
// warning when the id names no open task of this count's location.
func (p *Processor) completeCountTask(s Store, tx *Transaction, now time.Time) (*CountTask, *Discrepancy, string, error) {
	if tx.CountTaskID == "" {
		return nil, nil, "", nil
	}
	if p.cfg.CountTasks == nil {
		return nil, nil, WarnCountTaskUnknown, nil
	}
	t, ok := p.cfg.CountTasks.CountTask(tx.CountTaskID)
	switch {
	case !ok:
		return nil, nil, WarnCountTaskUnknown, nil
	case t.WarehouseID != tx.WarehouseID || t.LocationID != tx.LocationID || (t.ItemID != "" && t.ItemID != tx.ItemID):
		return nil, nil, WarnCountTaskMismatch, nil
	case t.Status != CountTaskOpen:
		return nil, nil, "", nil // already done: counting again is fine
	}
	at := now.UTC()
	t.Status, t.CompletedAt, t.CompletedBy = CountTaskDone, &at, tx.TransactionID
	if t.DiscrepancyID == "" {
		return &t, nil, "", nil
	}
	d, ok, err := loadDiscrepancy(s, t.DiscrepancyID)
	if err != nil || !ok || d.Resolved() {
		return &t, nil, "", err
	}
	d.Status, d.Resolution, d.CountTaskID = DiscrepancyResolved, ResolutionRecountRequested, t.CountTaskID
	d.step(now, tx.ScannerID, DiscrepancyStep{Resolution: d.Resolution, Note: "recounted by transaction " + tx.TransactionID})
	if err := saveDiscrepancy(s, &d); err != nil {
		return nil, nil, "", err
	}
	return &t, &d, "", nil
}
