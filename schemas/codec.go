package schemas

import (
	"fmt"
	"slices"
	"time"

	"github.com/linkedin/goavro/v2"
)

// What every codec shares, and the codecs of the stock records: transactions
// and inventory events (encoded by hand, on the hot path) and position
// snapshots.

var errNilRecord = fmt.Errorf("%w: nil record", ErrInvalid)

// appendNative encodes a goavro native value after k's header.
func (s *Set) appendNative(dst []byte, k kind, native map[string]any) ([]byte, error) {
	out, err := s.codecs[k].BinaryFromNative(append(dst, s.headers[k][:]...), native)
	if err != nil {
		return dst, err
	}
	return out, nil
}

func optUnion[T any](branch string, v *T) any {
	if v == nil {
		return nil
	}
	return goavro.Union(branch, *v)
}

func millis(t time.Time) int64 { return t.UnixMilli() }

// nativeArray is xs as a goavro array, each item given by item (asAny for
// strings).
func nativeArray[T any](xs []T, item func(T) any) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = item(x)
	}
	return out
}

func asAny[T any](v T) any { return v }

func optMillis(t *time.Time) any {
	if t == nil {
		return nil
	}
	return goavro.Union("long.timestamp-millis", millis(*t))
}

// encodedNatively is a record encoded through goavro, by pointer: check
// says what is wrong with it, native gives goavro's form of it.
type encodedNatively[T any] interface {
	*T
	check() error
	native() map[string]any
}

// appendRecord checks rec (nil is refused) and appends it to dst as kind k,
// naming what in its errors.
func appendRecord[T any, P encodedNatively[T]](s *Set, dst []byte, k kind, what string, rec P) ([]byte, error) {
	if rec == nil {
		return dst, fmt.Errorf("encoding %s: %w", what, errNilRecord)
	}
	if err := rec.check(); err != nil {
		return dst, fmt.Errorf("encoding %s: %w", what, err)
	}
	out, err := s.appendNative(dst, k, rec.native())
	if err != nil {
		return dst, fmt.Errorf("encoding %s: %w", what, err)
	}
	return out, nil
}

// decodeRecord checks b's header for kind k and reads its payload with read,
// which must read the whole record; errors name what. The hot-path kinds
// (Transaction, InventoryEvent) inline the same steps, so that the reader
// stays on the stack.
func decodeRecord[T any](s *Set, b []byte, k kind, what string, read func(r *reader) T) (T, error) {
	var zero T
	p, err := s.payload(b, k)
	if err != nil {
		return zero, fmt.Errorf("decoding %s: %w", what, err)
	}
	r := reader{s: string(p)}
	v := read(&r)
	if err := r.done(); err != nil {
		return zero, fmt.Errorf("decoding %s: %w", what, err)
	}
	return v, nil
}

// AppendTransaction appends t to dst in wire format,
// under the Append contract in the package documentation. It is encoded by
// hand (ingest writes one per accepted scan): no goavro, no allocation
// beyond growing dst.
func (s *Set) AppendTransaction(dst []byte, t *Transaction) ([]byte, error) {
	if err := t.check(); err != nil {
		return dst, fmt.Errorf("encoding transaction: %w", err)
	}
	b := append(dst, s.headers[kindTransaction][:]...)
	b = appendString(b, t.TransactionID)
	b = appendLong(b, int64(slices.Index(transactionTypes, t.Type)))
	b = appendString(b, t.WarehouseID)
	b = appendString(b, t.ItemID)
	b = appendString(b, t.LocationID)
	b = appendString(b, t.LotNumber)
	b = appendLong(b, t.Quantity)
	b = appendOptString(b, t.ToLocationID)
	b = appendOptLong(b, t.ExpectedVersion)
	b = appendOptString(b, t.AllocationID)
	b = appendBool(b, t.Override)
	b = appendString(b, t.UserID)
	b = appendOptString(b, t.ReasonCode)
	b = appendString(b, t.ScannerID)
	b = appendLong(b, millis(t.DeviceTimestamp))
	b = appendLong(b, millis(t.CorrectedTimestamp))
	b = appendLong(b, millis(t.SentAt))
	b = appendLong(b, millis(t.ReceivedAt))
	b = appendString(b, string(t.BodyHash))
	b = appendOptString(b, t.Principal)
	b = appendOptString(b, t.CountTaskID)
	return b, nil
}

func (t *Transaction) check() error {
	if t == nil {
		return errNilRecord
	}
	var c checker
	checkEnum(&c, "type", t.Type, transactionTypes)
	c.strFields([]strField{
		{"transactionId", t.TransactionID}, {"warehouseId", t.WarehouseID}, {"itemId", t.ItemID},
		{"locationId", t.LocationID}, {"lotNumber", t.LotNumber}, {"userId", t.UserID}, {"scannerId", t.ScannerID},
	})
	c.optStr("toLocationId", t.ToLocationID)
	c.optStr("allocationId", t.AllocationID)
	c.optStr("reasonCode", t.ReasonCode)
	c.optStr("principal", t.Principal)
	c.optStr("countTaskId", t.CountTaskID)
	return c.err
}

// DecodeTransaction decodes a wire-format Transaction,
// under the Decode contract in the package documentation.
func (s *Set) DecodeTransaction(b []byte) (Transaction, error) {
	p, err := s.payload(b, kindTransaction)
	if err != nil {
		return Transaction{}, fmt.Errorf("decoding transaction: %w", err)
	}
	r := reader{s: string(p)}
	// Composite-literal calls run left to right, in field (= schema) order.
	t := Transaction{
		TransactionID:      r.str("transactionId"),
		Type:               readEnum(&r, "type", transactionTypes),
		WarehouseID:        r.str("warehouseId"),
		ItemID:             r.str("itemId"),
		LocationID:         r.str("locationId"),
		LotNumber:          r.str("lotNumber"),
		Quantity:           r.long("quantity"),
		ToLocationID:       r.optStr("toLocationId"),
		ExpectedVersion:    r.optLong("expectedVersion"),
		AllocationID:       r.optStr("allocationId"),
		Override:           r.bool("override"),
		UserID:             r.str("userId"),
		ReasonCode:         r.optStr("reasonCode"),
		ScannerID:          r.str("scannerId"),
		DeviceTimestamp:    r.time("deviceTimestamp"),
		CorrectedTimestamp: r.time("correctedTimestamp"),
		SentAt:             r.time("sentAt"),
		ReceivedAt:         r.time("receivedAt"),
		BodyHash:           r.bytes("bodyHash"),
	}
	// Added later, together, with null defaults: records written
	// before have neither.
	if !r.atEnd() {
		t.Principal, t.CountTaskID = r.optStr("principal"), r.optStr("countTaskId")
	}
	if err := r.done(); err != nil {
		return Transaction{}, fmt.Errorf("decoding transaction: %w", err)
	}
	return t, nil
}

// AppendInventoryEvent appends e to dst in wire format,
// under the Append contract in the package documentation. It is encoded by
// hand: no goavro, no allocation beyond growing dst.
func (s *Set) AppendInventoryEvent(dst []byte, e *InventoryEvent) ([]byte, error) {
	if err := e.check(); err != nil {
		return dst, fmt.Errorf("encoding inventory event: %w", err)
	}
	b := append(dst, s.headers[kindInventoryEvent][:]...)
	b = appendString(b, e.EventID)
	b = appendLong(b, millis(e.Timestamp))
	b = appendLong(b, int64(slices.Index(eventTypes, e.EventType)))
	b = appendString(b, e.ItemID)
	b = appendString(b, e.WarehouseID)
	b = appendString(b, e.LocationID)
	b = appendOptString(b, e.LotNumber)
	b = appendLong(b, e.QuantityChange)
	b = appendLong(b, e.ResultingOnHand)
	b = appendString(b, e.TransactionID)
	b = appendString(b, e.ScannerID)
	b = appendString(b, e.UserID)
	b = appendLong(b, e.Version)
	b = appendLong(b, e.Allocated)
	b = appendLong(b, e.Available)
	b = appendLong(b, millis(e.DeviceTimestamp))
	b = appendLong(b, millis(e.CorrectedTimestamp))
	b = appendStrings(b, e.Warnings)
	b = appendOptString(b, e.AllocationID)
	b = appendOptString(b, e.Principal)
	return b, nil
}

func (e *InventoryEvent) check() error {
	if e == nil {
		return errNilRecord
	}
	var c checker
	checkEnum(&c, "eventType", e.EventType, eventTypes)
	c.strFields([]strField{
		{"eventId", e.EventID}, {"itemId", e.ItemID}, {"warehouseId", e.WarehouseID}, {"locationId", e.LocationID},
		{"transactionId", e.TransactionID}, {"scannerId", e.ScannerID}, {"userId", e.UserID},
	})
	c.optStr("lotNumber", e.LotNumber)
	c.strs("warnings", e.Warnings)
	c.optStr("allocationId", e.AllocationID)
	c.optStr("principal", e.Principal)
	return c.err
}

// DecodeInventoryEvent decodes a wire-format InventoryEvent,
// under the Decode contract in the package documentation.
func (s *Set) DecodeInventoryEvent(b []byte) (InventoryEvent, error) {
	p, err := s.payload(b, kindInventoryEvent)
	if err != nil {
		return InventoryEvent{}, fmt.Errorf("decoding inventory event: %w", err)
	}
	r := reader{s: string(p)}
	e := InventoryEvent{
		EventID:            r.str("eventId"),
		Timestamp:          r.time("timestamp"),
		EventType:          readEnum(&r, "eventType", eventTypes),
		ItemID:             r.str("itemId"),
		WarehouseID:        r.str("warehouseId"),
		LocationID:         r.str("locationId"),
		LotNumber:          r.optStr("lotNumber"),
		QuantityChange:     r.long("quantityChange"),
		ResultingOnHand:    r.long("resultingOnHand"),
		TransactionID:      r.str("transactionId"),
		ScannerID:          r.str("scannerId"),
		UserID:             r.str("userId"),
		Version:            r.long("version"),
		Allocated:          r.long("allocated"),
		Available:          r.long("available"),
		DeviceTimestamp:    r.time("deviceTimestamp"),
		CorrectedTimestamp: r.time("correctedTimestamp"),
		Warnings:           r.strs("warnings"),
		AllocationID:       r.optStr("allocationId"),
	}
	if !r.atEnd() { // added later with a null default
		e.Principal = r.optStr("principal")
	}
	if err := r.done(); err != nil {
		return InventoryEvent{}, fmt.Errorf("decoding inventory event: %w", err)
	}
	return e, nil
}

// AppendPositionSnapshot appends p to dst in wire format,
// under the Append contract in the package documentation.
func (s *Set) AppendPositionSnapshot(dst []byte, p *PositionSnapshot) ([]byte, error) {
	return appendRecord(s, dst, kindPositionSnapshot, "position snapshot", p)
}

func (p *PositionSnapshot) check() error {
	var c checker
	c.strFields([]strField{
		{"snapshotId", p.SnapshotID}, {"warehouseId", p.WarehouseID}, {"itemId", p.ItemID},
		{"locationId", p.LocationID}, {"lotNumber", p.LotNumber},
	})
	return c.err
}

func (p *PositionSnapshot) native() map[string]any {
	return map[string]any{
		"snapshotId":  p.SnapshotID,
		"partition":   p.Partition,
		"takenAt":     millis(p.TakenAt),
		"warehouseId": p.WarehouseID,
		"itemId":      p.ItemID,
		"locationId":  p.LocationID,
		"lotNumber":   p.LotNumber,
		"onHand":      p.OnHand,
		"allocated":   p.Allocated,
		"available":   p.Available,
		"version":     p.Version,
		"updatedAt":   millis(p.UpdatedAt),
	}
}

// DecodePositionSnapshot decodes a wire-format PositionSnapshot,
// under the Decode contract in the package documentation.
func (s *Set) DecodePositionSnapshot(b []byte) (PositionSnapshot, error) {
	return decodeRecord(s, b, kindPositionSnapshot, "position snapshot", func(r *reader) PositionSnapshot {
		return PositionSnapshot{
			SnapshotID:  r.str("snapshotId"),
			Partition:   r.int("partition"),
			TakenAt:     r.time("takenAt"),
			WarehouseID: r.str("warehouseId"),
			ItemID:      r.str("itemId"),
			LocationID:  r.str("locationId"),
			LotNumber:   r.str("lotNumber"),
			OnHand:      r.long("onHand"),
			Allocated:   r.long("allocated"),
			Available:   r.long("available"),
			Version:     r.long("version"),
			UpdatedAt:   r.time("updatedAt"),
		}
	})
}
