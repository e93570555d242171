package api

import (
	"encoding/json"
	"time"
)

// MaxTransactions bounds the transactions of one upload (413
// TOO_MANY_TRANSACTIONS beyond); MaxBodyBytes bounds its body (413
// BODY_TOO_LARGE beyond).
const (
	MaxTransactions = 1000
	MaxBodyBytes    = 1 << 20
)

// UploadRequest is the body of POST /v1/transactions.
type UploadRequest struct {
	ScannerID string `json:"scannerId"`
	// SentAt is the device clock when the request was sent (RFC 3339).
	SentAt       string        `json:"sentAt"`
	Transactions []Transaction `json:"transactions"`
}

// UploadRequestFields is UploadRequest as the server decodes it: a pointer
// tells a missing field from an empty one, and each transaction is kept
// raw, to be decoded on its own (UploadTransactionFields) so that one bad
// transaction is rejected without failing the batch.
type UploadRequestFields struct {
	ScannerID    *string           `json:"scannerId"`
	SentAt       *string           `json:"sentAt"`
	Transactions []json.RawMessage `json:"transactions"`
	// Device is the optional device report (DeviceReport), kept raw: it
	// is checked on its own, as a heartbeat's body is.
	Device json.RawMessage `json:"device"`
}

// Transaction is one transaction of an upload as a client sends it.
// Optional fields are left out when unset (the server reads a missing
// field as null).
type Transaction struct {
	TransactionID   string `json:"transactionId"`
	Type            string `json:"type"`
	Timestamp       string `json:"timestamp"`
	WarehouseID     string `json:"warehouseId"`
	ItemID          string `json:"itemId"`
	LocationID      string `json:"locationId"`
	LotNumber       string `json:"lotNumber,omitempty"`
	Quantity        int64  `json:"quantity"`
	ToLocationID    string `json:"toLocationId,omitempty"`
	ExpectedVersion *int64 `json:"expectedVersion,omitempty"`
	AllocationID    string `json:"allocationId,omitempty"`
	Override        bool   `json:"override,omitempty"`
	UserID          string `json:"userId,omitempty"`
	ReasonCode      string `json:"reasonCode,omitempty"`
	CountTaskID     string `json:"countTaskId,omitempty"`
}

// UploadTransactionFields is Transaction as the server decodes it: a
// pointer tells a missing field from a zero one, and the numbers are kept
// as written, so a fraction or an out-of-range value is reported as such.
type UploadTransactionFields struct {
	TransactionID   *string          `json:"transactionId"`
	Type            *string          `json:"type"`
	Timestamp       *string          `json:"timestamp"`
	WarehouseID     *string          `json:"warehouseId"`
	ItemID          *string          `json:"itemId"`
	LocationID      *string          `json:"locationId"`
	LotNumber       *string          `json:"lotNumber"`
	Quantity        *json.RawMessage `json:"quantity"`
	ToLocationID    *string          `json:"toLocationId"`
	ExpectedVersion *json.RawMessage `json:"expectedVersion"`
	AllocationID    *string          `json:"allocationId"`
	Override        *bool            `json:"override"`
	UserID          *string          `json:"userId"`
	ReasonCode      *string          `json:"reasonCode"`
	CountTaskID     *string          `json:"countTaskId"`
}

// TimeLayout is the form of the device times a client sends (timestamp,
// sentAt): UTC with milliseconds. The server keeps milliseconds; a finer
// time would not survive the round trip. The server accepts any RFC 3339
// time.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime writes t in TimeLayout.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// UploadStatus is what ingest did with one transaction of an upload.
type UploadStatus string

// The upload statuses.
const (
	// StatusAccepted: written to Kafka; its outcome follows.
	StatusAccepted UploadStatus = "accepted"
	// StatusDuplicate: the same transactionId with the same body was
	// accepted before; nothing new was written.
	StatusDuplicate UploadStatus = "duplicate"
	// StatusRejected: refused at ingest (code and message say why).
	StatusRejected UploadStatus = "rejected"
)

// OutcomeStatus is what the processors did with an accepted transaction.
type OutcomeStatus string

// The outcome statuses.
const (
	OutcomeApplied  OutcomeStatus = "applied"
	OutcomeRejected OutcomeStatus = "rejected"
	// OutcomeHeld: a cycle count held for a supervisor's review.
	OutcomeHeld OutcomeStatus = "held"
	// OutcomePending: not applied yet (or not known yet).
	OutcomePending OutcomeStatus = "pending"
)

// UploadResponse is the answer of POST /v1/transactions: one result per
// transaction, in the request's order.
type UploadResponse struct {
	Results []Result `json:"results"`
}

// Result is one transaction's answer in an upload response. Code and
// message are null unless rejected; outcome is there only with
// ?wait=applied.
type Result struct {
	TransactionID string       `json:"transactionId"`
	Status        UploadStatus `json:"status"`
	Code          *ErrorCode   `json:"code"`
	Message       *string      `json:"message"`
	Outcome       *Outcome     `json:"outcome,omitempty"`
}

// Outcome is what the processors did with a transaction: in a result
// (?wait=applied, without transactionId), and the answer of GET
// /v1/transactions/{id} (with it). Message is left out when there is no
// code.
type Outcome struct {
	TransactionID   string        `json:"transactionId,omitempty"`
	Status          OutcomeStatus `json:"status"`
	Code            *ErrorCode    `json:"code"`
	Message         *string       `json:"message,omitempty"`
	ResultingOnHand *int64        `json:"resultingOnHand"`
	Version         *int64        `json:"version"`
	Warnings        []string      `json:"warnings"`
}

// PendingOutcome is the outcome of a transaction not applied yet.
func PendingOutcome() *Outcome { return &Outcome{Status: OutcomePending, Warnings: []string{}} }
