package pipeline

import (
	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
)

// ToWire converts a domain transaction to its Avro form.
func ToWire(t *processors.Transaction) schemas.Transaction {
	return schemas.Transaction{
		TransactionID:      t.TransactionID,
		Type:               schemas.TransactionType(t.Type),
		WarehouseID:        t.WarehouseID,
		ItemID:             t.ItemID,
		LocationID:         t.LocationID,
		LotNumber:          t.LotNumber,
		Quantity:           t.Quantity,
		ToLocationID:       optString(t.ToLocationID),
		ExpectedVersion:    t.ExpectedVersion,
		AllocationID:       optString(t.AllocationID),
		Override:           t.Override,
		UserID:             t.UserID,
		ReasonCode:         optString(t.ReasonCode),
		ScannerID:          t.ScannerID,
		DeviceTimestamp:    t.DeviceTimestamp,
		CorrectedTimestamp: t.CorrectedTimestamp,
		SentAt:             t.SentAt,
		ReceivedAt:         t.ReceivedAt,
		BodyHash:           t.BodyHash,
	}
}

// FromWire converts an Avro transaction to the domain form.
func FromWire(w *schemas.Transaction) processors.Transaction {
	return processors.Transaction{
		TransactionID:      w.TransactionID,
		Type:               processors.TxType(w.Type),
		WarehouseID:        w.WarehouseID,
		ItemID:             w.ItemID,
		LocationID:         w.LocationID,
		LotNumber:          w.LotNumber,
		Quantity:           w.Quantity,
		ToLocationID:       deref(w.ToLocationID),
		ExpectedVersion:    w.ExpectedVersion,
		AllocationID:       deref(w.AllocationID),
		Override:           w.Override,
		UserID:             w.UserID,
		ReasonCode:         deref(w.ReasonCode),
		ScannerID:          w.ScannerID,
		DeviceTimestamp:    w.DeviceTimestamp,
		CorrectedTimestamp: w.CorrectedTimestamp,
		SentAt:             w.SentAt,
		ReceivedAt:         w.ReceivedAt,
		BodyHash:           w.BodyHash,
	}
}

var eventTypes = map[processors.TxType]schemas.EventType{
	processors.Receipt:    schemas.EventType("InventoryReceipt"),
	processors.Pick:       schemas.EventType("InventoryPick"),
	processors.Move:       schemas.EventType("InventoryMove"),
	processors.Adjustment: schemas.EventType("InventoryAdjustment"),
	processors.CycleCount: schemas.EventType("CycleCount"),
}

// EventToWire converts a domain event to its Avro form.
func EventToWire(e *processors.Event) schemas.InventoryEvent {
	return schemas.InventoryEvent{
		EventID:            e.EventID,
		Timestamp:          e.Timestamp,
		EventType:          eventTypes[e.Type],
		ItemID:             e.ItemID,
		WarehouseID:        e.WarehouseID,
		LocationID:         e.LocationID,
		LotNumber:          optString(e.LotNumber),
		QuantityChange:     e.QuantityChange,
		ResultingOnHand:    e.ResultingOnHand,
		TransactionID:      e.TransactionID,
		ScannerID:          e.ScannerID,
		UserID:             e.UserID,
		Version:            e.Version,
		Allocated:          e.Allocated,
		Available:          e.Available,
		DeviceTimestamp:    e.DeviceTimestamp,
		CorrectedTimestamp: e.CorrectedTimestamp,
		Warnings:           append([]string{}, e.Warnings...),
		AllocationID:       optString(e.AllocationID),
	}
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
