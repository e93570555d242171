package schemas

import (
	"slices"
	"time"
)

// Timestamps: every time.Time field is carried as Avro timestamp-millis, so
// encoding truncates it to the millisecond (towards the past) and decoding
// returns it in UTC. The zero time.Time round-trips.
//
// Byte slices and string slices returned by Decode are never aliases of the
// input; an empty one decodes as nil.

// TransactionType is the kind of a scanner transaction (Avro enum
// io.invsync.v1.TransactionType).
type TransactionType string

// The transaction types, in schema order.
const (
	TxReceipt    TransactionType = "RECEIPT"
	TxPick       TransactionType = "PICK"
	TxMove       TransactionType = "MOVE"
	TxAdjustment TransactionType = "ADJUSTMENT"
	TxCycleCount TransactionType = "CYCLE_COUNT"
)

var transactionTypes = []TransactionType{TxReceipt, TxPick, TxMove, TxAdjustment, TxCycleCount}

// Valid reports whether t is one of the schema's symbols.
func (t TransactionType) Valid() bool { return slices.Contains(transactionTypes, t) }

// EventType is the kind of an inventory event (Avro enum io.invsync.v1.EventType).
type EventType string

// The event types, in schema order.
const (
	EventInventoryReceipt    EventType = "InventoryReceipt"
	EventInventoryPick       EventType = "InventoryPick"
	EventInventoryMove       EventType = "InventoryMove"
	EventInventoryAdjustment EventType = "InventoryAdjustment"
	EventCycleCount          EventType = "CycleCount"
	// EventReconciliationCorrection restates the warehouse's position of
	// a record the cloud's reconciliation report disagreed with
	// (quantityChange 0): the warehouse wins.
	EventReconciliationCorrection EventType = "ReconciliationCorrection"
	// EventInventoryReservation: an allocation decision changed the
	// record's allocated quantity (quantityChange 0).
	EventInventoryReservation EventType = "InventoryReservation"
)

var eventTypes = []EventType{EventInventoryReceipt, EventInventoryPick, EventInventoryMove, EventInventoryAdjustment, EventCycleCount, EventReconciliationCorrection, EventInventoryReservation}

// Valid reports whether t is one of the schema's symbols.
func (t EventType) Valid() bool { return slices.Contains(eventTypes, t) }

// CatalogKind says what a catalog entry describes (Avro enum io.invsync.v1.CatalogKind).
type CatalogKind string

// The catalog kinds, in schema order.
const (
	KindWarehouse CatalogKind = "WAREHOUSE"
	KindItem      CatalogKind = "ITEM"
	KindClass     CatalogKind = "CLASS"
)

var catalogKinds = []CatalogKind{KindWarehouse, KindItem, KindClass}

// Valid reports whether k is one of the schema's symbols.
func (k CatalogKind) Valid() bool { return slices.Contains(catalogKinds, k) }

// AllocationAction is what an allocation request asks for (Avro enum
// io.invsync.v1.AllocationAction).
type AllocationAction string

// The allocation actions, in schema order.
const (
	ActionAllocate AllocationAction = "ALLOCATE"
	ActionCancel   AllocationAction = "CANCEL"
)

var allocationActions = []AllocationAction{ActionAllocate, ActionCancel}

// Valid reports whether a is one of the schema's symbols.
func (a AllocationAction) Valid() bool { return slices.Contains(allocationActions, a) }

// AllocationStatus is the state of an allocation after a decision (Avro enum
// io.invsync.v1.AllocationStatus).
type AllocationStatus string

// The allocation statuses, in schema order.
const (
	StatusTentative AllocationStatus = "TENTATIVE"
	StatusConfirmed AllocationStatus = "CONFIRMED"
	StatusPartial   AllocationStatus = "PARTIAL"
	StatusRejected  AllocationStatus = "REJECTED"
	StatusCancelled AllocationStatus = "CANCELLED"
	StatusFulfilled AllocationStatus = "FULFILLED"
	StatusExpired   AllocationStatus = "EXPIRED"
)

var allocationStatuses = []AllocationStatus{StatusTentative, StatusConfirmed, StatusPartial, StatusRejected, StatusCancelled, StatusFulfilled, StatusExpired}

// Valid reports whether s is one of the schema's symbols.
func (s AllocationStatus) Valid() bool { return slices.Contains(allocationStatuses, s) }

// Transaction is one accepted scanner transaction as ingest writes it to the
// transactions topic (Avro record io.invsync.v1.Transaction; field docs in
// transaction.avsc).
type Transaction struct {
	TransactionID      string
	Type               TransactionType
	WarehouseID        string
	ItemID             string
	LocationID         string
	LotNumber          string // "" when the item is not lot-tracked
	Quantity           int64
	ToLocationID       *string // MOVE only
	ExpectedVersion    *int64  // nil: no optimistic-concurrency check
	AllocationID       *string
	Override           bool
	UserID             string
	ReasonCode         *string
	ScannerID          string
	DeviceTimestamp    time.Time
	CorrectedTimestamp time.Time
	SentAt             time.Time
	ReceivedAt         time.Time
	BodyHash           []byte // SHA-256 of the canonical transaction body
	Principal          *string
	CountTaskID        *string
}

// InventoryEvent is one applied stock change on the inventory-events topic
// (Avro record io.invsync.v1.InventoryEvent; field docs in inventory_event.avsc).
type InventoryEvent struct {
	EventID            string
	Timestamp          time.Time
	EventType          EventType
	ItemID             string
	WarehouseID        string
	LocationID         string
	LotNumber          *string
	QuantityChange     int64
	ResultingOnHand    int64
	TransactionID      string
	ScannerID          string
	UserID             string
	Version            int64
	Allocated          int64
	Available          int64
	DeviceTimestamp    time.Time
	CorrectedTimestamp time.Time
	Warnings           []string
	AllocationID       *string
	Principal          *string
}

// CatalogEntry is one warehouse or item on the compacted catalog topic (Avro
// record io.invsync.v1.CatalogEntry; field docs in catalog_entry.avsc).
type CatalogEntry struct {
	Kind                   CatalogKind
	ID                     string
	Locations              []string // warehouses only
	Description            string
	LotTracked             bool
	MaxTransactionQuantity int64
	AbcClass               *string  // items only
	CountTolerance         *float64 // classes only
}

// AllocationRequest asks to allocate stock to an order line or to cancel an
// allocation (Avro record io.invsync.v1.AllocationRequest; field docs in
// allocation_request.avsc).
type AllocationRequest struct {
	Action       AllocationAction
	AllocationID string
	OrderID      string
	OrderLine    int32
	WarehouseID  string
	ItemID       string
	Quantity     int64
	LocationID   *string
	LotNumber    *string
	AllowPartial bool
	ExpiresAt    *time.Time
	RequestedAt  time.Time
	BodyHash     []byte // SHA-256 of the canonical request body
}

// AllocationDecision is the processors' decision on an allocation (Avro record
// io.invsync.v1.AllocationDecision; field docs in allocation_decision.avsc).
type AllocationDecision struct {
	DecisionID        string
	AllocationID      string
	OrderID           string
	OrderLine         int32
	WarehouseID       string
	ItemID            string
	Status            AllocationStatus
	RequestedQuantity int64
	ConfirmedQuantity int64
	BackorderQuantity int64
	PickedQuantity    int64
	Lines             []AllocationLine
	Reason            *string
	DecidedAt         time.Time
	Sequence          int64 // 1, 2, 3, ... per allocation
}

// AllocationLine is the part of an allocation held at one location and lot
// (Avro record io.invsync.v1.AllocationLine).
type AllocationLine struct {
	LocationID string
	LotNumber  string // "" when not lot-tracked
	Quantity   int64
}

// PositionSnapshot is one stock record as of a reconciliation snapshot (Avro
// record io.invsync.v1.PositionSnapshot; field docs in position_snapshot.avsc).
type PositionSnapshot struct {
	SnapshotID  string
	Partition   int32
	TakenAt     time.Time
	WarehouseID string
	ItemID      string
	LocationID  string
	LotNumber   string // "" when not lot-tracked
	OnHand      int64
	Allocated   int64
	Available   int64
	Version     int64
	UpdatedAt   time.Time
}

// Lock is one location lock on the compacted locks topic (Avro record
// io.invsync.v1.Lock; field docs in lock.avsc).
type Lock struct {
	LockID      string
	WarehouseID string
	LocationID  string
	ScannerID   string
	AcquiredAt  time.Time
	ExpiresAt   time.Time
	ReleasedAt  *time.Time // nil while not released
}

// Token is a stored API token (Avro io.invsync.v1.Token).
type Token struct {
	TokenID    string
	Name       string
	Role       string // admin, supervisor, scanner, cloud, reader
	Warehouses []string
	ExpiresAt  *time.Time
	CreatedAt  time.Time
	CreatedBy  string
	RevokedAt  *time.Time
	Hash       []byte
}

var tokenRoles = []string{"admin", "supervisor", "scanner", "cloud", "reader"}
