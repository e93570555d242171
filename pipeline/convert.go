package pipeline

import (
	"fmt"

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
		Principal:          optString(t.Principal),
		CountTaskID:        optString(t.CountTaskID),
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
		Principal:          deref(w.Principal),
		CountTaskID:        deref(w.CountTaskID),
	}
}

// eventTypes maps a transaction type to the type of its events.
var eventTypes = map[processors.TxType]schemas.EventType{
	processors.Receipt:     schemas.EventInventoryReceipt,
	processors.Pick:        schemas.EventInventoryPick,
	processors.Move:        schemas.EventInventoryMove,
	processors.Adjustment:  schemas.EventInventoryAdjustment,
	processors.CycleCount:  schemas.EventCycleCount,
	processors.Reservation: schemas.EventInventoryReservation,
	processors.Correction:  schemas.EventReconciliationCorrection,
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
		Principal:          optString(e.Principal),
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

// AllocRequestToWire converts an allocation request to its Avro form.
func AllocRequestToWire(r *processors.AllocRequest) schemas.AllocationRequest {
	return schemas.AllocationRequest{
		Action:       schemas.AllocationAction(r.Action),
		AllocationID: r.AllocationID,
		OrderID:      r.OrderID,
		OrderLine:    r.OrderLine,
		WarehouseID:  r.WarehouseID,
		ItemID:       r.ItemID,
		Quantity:     r.Quantity,
		LocationID:   optString(r.LocationID),
		LotNumber:    optString(r.LotNumber),
		AllowPartial: r.AllowPartial,
		ExpiresAt:    r.ExpiresAt,
		RequestedAt:  r.RequestedAt,
		BodyHash:     r.BodyHash,
	}
}

// AllocRequestFromWire converts an Avro allocation request to the domain
// form. A request without a body hash (a producer that does not compute
// one) gets the hash of its content.
func AllocRequestFromWire(w *schemas.AllocationRequest) processors.AllocRequest {
	r := processors.AllocRequest{
		Action:       processors.AllocAction(w.Action),
		AllocationID: w.AllocationID,
		OrderID:      w.OrderID,
		OrderLine:    w.OrderLine,
		WarehouseID:  w.WarehouseID,
		ItemID:       w.ItemID,
		Quantity:     w.Quantity,
		LocationID:   deref(w.LocationID),
		LotNumber:    deref(w.LotNumber),
		AllowPartial: w.AllowPartial,
		ExpiresAt:    w.ExpiresAt,
		RequestedAt:  w.RequestedAt,
		BodyHash:     w.BodyHash,
	}
	if len(r.BodyHash) == 0 && r.Action == processors.ActionAllocate {
		r.BodyHash = r.Hash()
	}
	return r
}

// DecisionToWire converts an allocation's state after a change to the
// decision record; its id is the allocation id and the decision's sequence
// number, so the same change always has the same id.
func DecisionToWire(a *processors.Allocation) schemas.AllocationDecision {
	d := schemas.AllocationDecision{
		DecisionID:        fmt.Sprintf("dec-%s-%d", a.AllocationID, a.Sequence),
		AllocationID:      a.AllocationID,
		OrderID:           a.OrderID,
		OrderLine:         a.OrderLine,
		WarehouseID:       a.WarehouseID,
		ItemID:            a.ItemID,
		Status:            schemas.AllocationStatus(a.Status),
		RequestedQuantity: a.RequestedQuantity,
		ConfirmedQuantity: a.ConfirmedQuantity,
		BackorderQuantity: a.BackorderQuantity,
		PickedQuantity:    a.PickedQuantity,
		Lines:             []schemas.AllocationLine{},
		Reason:            optString(a.Reason),
		Sequence:          a.Sequence,
	}
	for _, l := range a.Lines {
		d.Lines = append(d.Lines, schemas.AllocationLine{LocationID: l.LocationID, LotNumber: l.LotNumber, Quantity: l.Quantity})
	}
	if n := len(a.History); n > 0 {
		d.DecidedAt = a.History[n-1].At
	}
	return d
}
