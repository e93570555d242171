package api

import (
	"encoding/json"
	"time"
)

// ReportRequest is the body of POST /v1/reconciliation/reports: the
// cloud's positions of a warehouse (or of an item range of it).
type ReportRequest struct {
	ReportID    *string         `json:"reportId"`
	WarehouseID *string         `json:"warehouseId"`
	Complete    *bool           `json:"complete"`
	ItemRange   *ItemRange      `json:"itemRange"`
	Positions   []ReportedStock `json:"positions"`
}

// ItemRange bounds the items a report covers.
type ItemRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// ReportedStock is one position of a report, as the cloud knows it.
type ReportedStock struct {
	ItemID     *string         `json:"itemId"`
	LocationID *string         `json:"locationId"`
	LotNumber  *string         `json:"lotNumber"`
	OnHand     json.RawMessage `json:"onHand"`
	Version    json.RawMessage `json:"version"`
}

// The statuses of a report's answer and of a command not decided yet.
const (
	ReportCompared = "COMPARED"
	ReportPending  = "PENDING"
)

// ReportAnswer is the answer of POST and GET /v1/reconciliation/reports:
// the comparison of a report's pieces so far.
type ReportAnswer struct {
	ReportID string `json:"reportId"`
	// Status is COMPARED, or PENDING while pieces are not compared yet.
	Status        string   `json:"status"`
	Compared      int      `json:"compared"`
	Agreed        int      `json:"agreed"`
	Behind        int      `json:"behind"`
	Discrepancies []string `json:"discrepancies"`
	Resolved      []string `json:"resolved"`
	Pieces        int      `json:"pieces"`
	PendingPieces int      `json:"pendingPieces"`
}

// CommandAnswer is the 202 answer of a command not decided yet.
type CommandAnswer struct {
	CommandID string `json:"commandId"`
	Status    string `json:"status"`
}

// Discrepancy is a discrepancy between the warehouse and the cloud.
type Discrepancy struct {
	DiscrepancyID    string            `json:"discrepancyId"`
	WarehouseID      string            `json:"warehouseId"`
	ItemID           string            `json:"itemId"`
	LocationID       string            `json:"locationId"`
	LotNumber        string            `json:"lotNumber"`
	Kind             string            `json:"kind"`
	WarehouseOnHand  int64             `json:"warehouseOnHand"`
	WarehouseVersion int64             `json:"warehouseVersion"`
	CloudOnHand      *int64            `json:"cloudOnHand"`
	CloudVersion     *int64            `json:"cloudVersion"`
	Status           string            `json:"status"`
	Assignee         *string           `json:"assignee"`
	Resolution       *string           `json:"resolution"`
	ReportID         string            `json:"reportId"`
	CountTaskID      *string           `json:"countTaskId"`
	OpenedAt         time.Time         `json:"openedAt"`
	UpdatedAt        time.Time         `json:"updatedAt"`
	History          []DiscrepancyStep `json:"history"`
}

// DiscrepancyStep is one change of a discrepancy.
type DiscrepancyStep struct {
	At         time.Time `json:"at"`
	By         string    `json:"by"`
	Status     string    `json:"status"`
	Kind       string    `json:"kind,omitempty"`
	Assignee   *string   `json:"assignee,omitempty"`
	Resolution *string   `json:"resolution,omitempty"`
	Note       string    `json:"note,omitempty"`
}

// DiscrepancyList is the answer of GET /v1/discrepancies.
type DiscrepancyList struct {
	Discrepancies []Discrepancy `json:"discrepancies"`
}

// DiscrepancyPatch is the body of PATCH /v1/discrepancies/{id}.
type DiscrepancyPatch struct {
	Status     *string `json:"status"`
	Assignee   *string `json:"assignee"`
	Resolution *string `json:"resolution"`
	Note       *string `json:"note"`
}

// HeldCount is a cycle count held for a supervisor's review.
type HeldCount struct {
	TransactionID string     `json:"transactionId"`
	WarehouseID   string     `json:"warehouseId"`
	ItemID        string     `json:"itemId"`
	LocationID    string     `json:"locationId"`
	LotNumber     string     `json:"lotNumber"`
	Counted       int64      `json:"counted"`
	Expected      int64      `json:"expected"`
	Tolerance     float64    `json:"tolerance"`
	Status        string     `json:"status"`
	ScannerID     string     `json:"scannerId"`
	UserID        string     `json:"userId"`
	CountedAt     time.Time  `json:"countedAt"`
	HeldAt        time.Time  `json:"heldAt"`
	DecidedAt     *time.Time `json:"decidedAt"`
	DecidedBy     *string    `json:"decidedBy"`
	Note          *string    `json:"note"`
}

// HeldCountList is the answer of GET /v1/counts.
type HeldCountList struct {
	Counts []HeldCount `json:"counts"`
}

// CountDecision is the body of POST /v1/counts/{txid}/approve and
// /reject (optional).
type CountDecision struct {
	Note *string `json:"note"`
}

// CountDecisionAnswer is the answer of a decided held count: the count,
// and the outcome of its transaction when the decision applied it.
type CountDecisionAnswer struct {
	Count   HeldCount `json:"count"`
	Outcome *Outcome  `json:"outcome,omitempty"`
}

// CountTaskRequest is the body of POST /v1/count-tasks.
type CountTaskRequest struct {
	WarehouseID   *string `json:"warehouseId"`
	LocationID    *string `json:"locationId"`
	ItemID        *string `json:"itemId"`
	Reason        *string `json:"reason"`
	DiscrepancyID *string `json:"discrepancyId"`
}

// CountTask is a task to count a location.
type CountTask struct {
	CountTaskID   string     `json:"countTaskId"`
	WarehouseID   string     `json:"warehouseId"`
	LocationID    string     `json:"locationId"`
	ItemID        *string    `json:"itemId"`
	Reason        string     `json:"reason"`
	Status        string     `json:"status"`
	CreatedAt     time.Time  `json:"createdAt"`
	CreatedBy     string     `json:"createdBy"`
	DiscrepancyID *string    `json:"discrepancyId"`
	CompletedAt   *time.Time `json:"completedAt"`
	CompletedBy   *string    `json:"completedBy"`
}

// CountTaskList is the answer of GET /v1/count-tasks.
type CountTaskList struct {
	CountTasks []CountTask `json:"countTasks"`
}
