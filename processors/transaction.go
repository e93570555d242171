// Package processors is invsync's domain: what a scanner transaction does to
// warehouse stock, decided deterministically from the transaction and the
// state it finds. Nothing here talks to Kafka or HTTP; the functions read and
// write a Store (satisfied by a state.Batch, or by the in-memory store the
// tests use), so every rule can be tested as a plain table.
package processors

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"
)

// TxType is the kind of physical fact a scanner reports.
type TxType string

// The transaction types of the spec.
const (
	Receipt    TxType = "RECEIPT"
	Pick       TxType = "PICK"
	Move       TxType = "MOVE"
	Adjustment TxType = "ADJUSTMENT"
	CycleCount TxType = "CYCLE_COUNT"
)

// Valid reports whether t is one of the five types.
func (t TxType) Valid() bool {
	switch t {
	case Receipt, Pick, Move, Adjustment, CycleCount:
		return true
	}
	return false
}

// Rejection codes. The first six are decided at ingest; the rest by the
// processor after a transaction was accepted.
const (
	CodeInvalidTransaction   = "INVALID_TRANSACTION"
	CodeUnknownItem          = "UNKNOWN_ITEM"
	CodeUnknownLocation      = "UNKNOWN_LOCATION"
	CodeUnknownWarehouse     = "UNKNOWN_WAREHOUSE"
	CodeUnreasonableQuantity = "UNREASONABLE_QUANTITY"
	CodeIdempotencyMismatch  = "IDEMPOTENCY_MISMATCH"

	CodeVersionConflict = "VERSION_CONFLICT"
	CodeLocationLocked  = "LOCATION_LOCKED"
	// CodeCountOutsideWindow: a cycle count older than the ledger window
	// (or older than what the ledger still holds for its record) cannot be
	// rebased; it is recorded and flagged for review instead of applied.
	CodeCountOutsideWindow = "COUNT_OUTSIDE_WINDOW"
)

// Warnings attached to applied transactions.
const (
	// WarnNegativeOnHand: the record's onHand is below zero after the
	// transaction (a scan is a fact; the position needs investigating).
	WarnNegativeOnHand = "NEGATIVE_ON_HAND"
	// WarnBeforeLatestCount: a delta older than the record's latest
	// applied count; the count already saw it, so onHand is unchanged.
	WarnBeforeLatestCount = "BEFORE_LATEST_COUNT"
	// WarnSupersededCount: a count older than the record's latest applied
	// count; recorded, onHand unchanged.
	WarnSupersededCount = "SUPERSEDED_COUNT"
	// WarnLocationLocked: a RECEIPT, PICK or MOVE at a location another
	// scanner held locked when the transaction was received; applied (a
	// scan is a fact), flagged.
	WarnLocationLocked = "LOCATION_LOCKED"
	// WarnLockOverridden: a CYCLE_COUNT or ADJUSTMENT with override: true
	// at a location another scanner held locked; applied, flagged.
	WarnLockOverridden = "LOCK_OVERRIDDEN"
)

// Transaction is one accepted scanner transaction as the processor sees it.
// Times are already corrected for the device's clock skew by ingest.
type Transaction struct {
	TransactionID   string
	Type            TxType
	WarehouseID     string
	ItemID          string
	LocationID      string
	LotNumber       string
	Quantity        int64
	ToLocationID    string
	ExpectedVersion *int64
	AllocationID    string
	Override        bool
	UserID          string
	ReasonCode      string
	ScannerID       string

	DeviceTimestamp    time.Time
	CorrectedTimestamp time.Time
	SentAt             time.Time
	ReceivedAt         time.Time
	// BodyHash identifies the transaction's content for idempotency: the
	// same transactionId with another hash is a different transaction.
	BodyHash []byte
	// Principal is the name of the token that uploaded it; it goes on
	// its events. Not part of the body hash (a resend by the same device
	// with a renewed token is the same scan).
	Principal string
	// CountTaskID is the count task a CYCLE_COUNT completes ("" for none).
	CountTaskID string
}

// StockKey is the Kafka partition key of everything about one item in one
// warehouse.
func StockKey(warehouseID, itemID string) string { return warehouseID + "/" + itemID }

// StockKey of the transaction.
func (t *Transaction) StockKey() string { return StockKey(t.WarehouseID, t.ItemID) }

// Hash computes the content hash of the fields that define the transaction
// as the device sent it. Server-side fields (receive time, corrected time,
// sentAt) are excluded, so a resend of the same scan hashes the same.
func (t *Transaction) Hash() []byte {
	h := sha256.New()
	str := func(s string) {
		var n [binary.MaxVarintLen64]byte
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	num := func(v int64) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(v))
		h.Write(n[:])
	}
	str(t.TransactionID)
	str(string(t.Type))
	str(t.WarehouseID)
	str(t.ItemID)
	str(t.LocationID)
	str(t.LotNumber)
	num(t.Quantity)
	str(t.ToLocationID)
	if t.ExpectedVersion != nil {
		num(1)
		num(*t.ExpectedVersion)
	} else {
		num(0)
	}
	str(t.AllocationID)
	if t.Override {
		num(1)
	} else {
		num(0)
	}
	str(t.UserID)
	str(t.ReasonCode)
	str(t.ScannerID)
	num(t.DeviceTimestamp.UnixMilli())
	if t.CountTaskID != "" {
		// Hashed only when set, so transactions without one keep
		// the hashes they had before the field existed.
		str("countTaskId")
		str(t.CountTaskID)
	}
	return h.Sum(nil)
}

// Rejection says why a transaction was not applied.
type Rejection struct {
	Code    string
	Message string
}

func (r *Rejection) Error() string { return r.Code + ": " + r.Message }

func reject(code, format string, args ...any) *Rejection {
	return &Rejection{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Limits bound what a single transaction may say, beyond the catalog.
type Limits struct {
	// MaxIDLength bounds every identifier (default 128).
	MaxIDLength int
	// DefaultMaxQuantity applies to items whose catalog entry sets no
	// maxTransactionQuantity (default 100000).
	DefaultMaxQuantity int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxIDLength <= 0 {
		l.MaxIDLength = 128
	}
	if l.DefaultMaxQuantity <= 0 {
		l.DefaultMaxQuantity = 100000
	}
	return l
}

// CheckShape validates what needs no master data: required fields, the
// quantity's sign for the type, identifiers' form. It returns nil when the
// transaction is well formed.
func CheckShape(t *Transaction, lim Limits) *Rejection {
	lim = lim.withDefaults()
	// The first four are required. An array, not a slice: checking a
	// transaction allocates nothing.
	ids := [...]struct{ name, v string }{
		{"transactionId", t.TransactionID}, {"warehouseId", t.WarehouseID},
		{"itemId", t.ItemID}, {"locationId", t.LocationID},
		{"lotNumber", t.LotNumber}, {"toLocationId", t.ToLocationID},
		{"allocationId", t.AllocationID}, {"userId", t.UserID}, {"reasonCode", t.ReasonCode},
	}
	for _, id := range ids[:4] {
		if id.v == "" {
			return reject(CodeInvalidTransaction, "%s is required", id.name)
		}
	}
	for _, id := range ids {
		if err := checkID(id.v, lim.MaxIDLength); err != "" {
			return reject(CodeInvalidTransaction, "%s %s", id.name, err)
		}
	}
	if !t.Type.Valid() {
		return reject(CodeInvalidTransaction, "type %q is not one of RECEIPT, PICK, MOVE, ADJUSTMENT, CYCLE_COUNT", t.Type)
	}
	switch t.Type {
	case Receipt, Pick, Move:
		if t.Quantity <= 0 {
			return reject(CodeInvalidTransaction, "quantity of a %s must be > 0, got %d", t.Type, t.Quantity)
		}
	case Adjustment:
		if t.Quantity == 0 {
			return reject(CodeInvalidTransaction, "quantity of an ADJUSTMENT is a signed delta and must not be 0")
		}
	case CycleCount:
		if t.Quantity < 0 {
			return reject(CodeInvalidTransaction, "quantity of a CYCLE_COUNT is the counted quantity and must be >= 0, got %d", t.Quantity)
		}
	}
	if t.Type == Move {
		if t.ToLocationID == "" {
			return reject(CodeInvalidTransaction, "toLocationId is required on a MOVE")
		}
		if t.ToLocationID == t.LocationID {
			return reject(CodeInvalidTransaction, "toLocationId equals locationId %q: a MOVE must change location", t.LocationID)
		}
	} else if t.ToLocationID != "" {
		return reject(CodeInvalidTransaction, "toLocationId is only allowed on a MOVE, not on a %s", t.Type)
	}
	if t.AllocationID != "" && t.Type != Pick {
		return reject(CodeInvalidTransaction, "allocationId is only allowed on a PICK, not on a %s", t.Type)
	}
	if t.ExpectedVersion != nil && *t.ExpectedVersion < 0 {
		return reject(CodeInvalidTransaction, "expectedVersion must be >= 0, got %d", *t.ExpectedVersion)
	}
	return nil
}

// checkID returns "" or what is wrong with an identifier: it must be
// printable (it is part of keys and of Kafka record keys) and bounded.
func checkID(s string, max int) string {
	if len(s) > max {
		return fmt.Sprintf("is %d bytes long, the limit is %d", len(s), max)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return "contains a control character"
		}
	}
	return ""
}
