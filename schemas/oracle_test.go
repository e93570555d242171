package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
)

// These tests hold the hand-written codecs to goavro: every payload must
// decode the same through a goavro codec built from the schema text a
// registry client would fetch by id, and the hand-written InventoryEvent
// encoder must produce goavro's bytes exactly.

// native is Transaction in goavro's form; only the tests need it, since the
// Set encodes Transaction by hand.
func (t *Transaction) native() map[string]any {
	return map[string]any{
		"transactionId":      t.TransactionID,
		"type":               string(t.Type),
		"warehouseId":        t.WarehouseID,
		"itemId":             t.ItemID,
		"locationId":         t.LocationID,
		"lotNumber":          t.LotNumber,
		"quantity":           t.Quantity,
		"toLocationId":       optUnion("string", t.ToLocationID),
		"expectedVersion":    optUnion("long", t.ExpectedVersion),
		"allocationId":       optUnion("string", t.AllocationID),
		"override":           t.Override,
		"userId":             t.UserID,
		"reasonCode":         optUnion("string", t.ReasonCode),
		"scannerId":          t.ScannerID,
		"deviceTimestamp":    millis(t.DeviceTimestamp),
		"correctedTimestamp": millis(t.CorrectedTimestamp),
		"sentAt":             millis(t.SentAt),
		"receivedAt":         millis(t.ReceivedAt),
		"bodyHash":           t.BodyHash,
		"principal":          optUnion("string", t.Principal),
		"countTaskId":        optUnion("string", t.CountTaskID),
	}
}

// native is InventoryEvent in goavro's form; only the tests need it, since the
// Set encodes InventoryEvent by hand.
func (e *InventoryEvent) native() map[string]any {
	return map[string]any{
		"eventId":            e.EventID,
		"timestamp":          millis(e.Timestamp),
		"eventType":          string(e.EventType),
		"itemId":             e.ItemID,
		"warehouseId":        e.WarehouseID,
		"locationId":         e.LocationID,
		"lotNumber":          optUnion("string", e.LotNumber),
		"quantityChange":     e.QuantityChange,
		"resultingOnHand":    e.ResultingOnHand,
		"transactionId":      e.TransactionID,
		"scannerId":          e.ScannerID,
		"userId":             e.UserID,
		"version":            e.Version,
		"allocated":          e.Allocated,
		"available":          e.Available,
		"deviceTimestamp":    millis(e.DeviceTimestamp),
		"correctedTimestamp": millis(e.CorrectedTimestamp),
		"warnings":           nativeArray(e.Warnings, asAny),
		"allocationId":       optUnion("string", e.AllocationID),
		"principal":          optUnion("string", e.Principal),
	}
}

// normalize maps goavro's decoded form and native() onto one form: times as
// millis, empty slices as nil.
func normalize(v any) any {
	switch v := v.(type) {
	case time.Time:
		return v.UnixMilli()
	case []byte:
		if len(v) == 0 {
			return nil
		}
	case []any:
		if len(v) == 0 {
			return nil
		}
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = normalize(x)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = normalize(x)
		}
		return out
	}
	return v
}

// fetchedCodec builds a goavro codec the way a consumer would: from the
// schema text served for the id in the header of b.
func fetchedCodec(t testing.TB, s *Set, b []byte) *goavro.Codec {
	t.Helper()
	text, ok := s.SchemaByID(int(b[1])<<24 | int(b[2])<<16 | int(b[3])<<8 | int(b[4]))
	if !ok {
		t.Fatalf("no schema for header % x", b[:5])
	}
	c, err := goavro.NewCodec(text)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkGoavro decodes b's payload with the fetched schema and compares it to
// the typed value.
func checkGoavro(t testing.TB, s *Set, b []byte, want map[string]any) {
	t.Helper()
	got, rest, err := fetchedCodec(t, s, b).NativeFromBinary(b[5:])
	if err != nil || len(rest) != 0 {
		t.Fatalf("goavro: %v, %d bytes left", err, len(rest))
	}
	if g, w := normalize(got), normalize(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("goavro decoded\n%v\ntyped decode gave\n%v", g, w)
	}
}

type gen struct{ *rand.Rand }

func (g gen) str() string {
	pool := []string{"", "WH1", "A-01-02", "Ωmega-🚚", "日本語", "tab\tnew\nline", "\x00nul", "ü"}
	if g.IntN(3) == 0 {
		b := make([]byte, g.IntN(300))
		for i := range b {
			b[i] = byte(' ' + g.IntN(95))
		}
		return string(b)
	}
	return pool[g.IntN(len(pool))]
}

func (g gen) long() int64 {
	switch g.IntN(5) {
	case 0:
		return []int64{0, -1, 1, 63, -64, 64, math.MaxInt64, math.MinInt64, math.MaxInt32, math.MinInt32}[g.IntN(10)]
	case 1:
		return g.Int64N(1000) - 500
	default:
		return int64(g.Uint64())
	}
}

func (g gen) int() int32 { return int32(g.long()) }

func (g gen) time() time.Time {
	if g.IntN(10) == 0 {
		return time.Time{}
	}
	return time.UnixMilli(g.long()).UTC()
}

func (g gen) optStr() *string {
	if g.IntN(2) == 0 {
		return nil
	}
	return ptr(g.str())
}

func (g gen) strs() []string {
	var v []string
	for range g.IntN(4) {
		v = append(v, g.str())
	}
	return v
}

func (g gen) bytes() []byte {
	if g.IntN(4) == 0 {
		return nil
	}
	b := make([]byte, 1+g.IntN(40))
	for i := range b {
		b[i] = byte(g.Uint32())
	}
	return b
}

func pick[E any](g gen, v []E) E { return v[g.IntN(len(v))] }

func (g gen) transaction() Transaction {
	t := Transaction{
		TransactionID: g.str(), Type: pick(g, transactionTypes), WarehouseID: g.str(), ItemID: g.str(),
		LocationID: g.str(), LotNumber: g.str(), Quantity: g.long(), ToLocationID: g.optStr(),
		AllocationID: g.optStr(), Override: g.IntN(2) == 0, UserID: g.str(), ReasonCode: g.optStr(), ScannerID: g.str(),
		DeviceTimestamp: g.time(), CorrectedTimestamp: g.time(), SentAt: g.time(), ReceivedAt: g.time(), BodyHash: g.bytes(),
		Principal: g.optStr(), CountTaskID: g.optStr(),
	}
	if g.IntN(2) == 0 {
		t.ExpectedVersion = ptr(g.long())
	}
	return t
}

func (g gen) inventoryEvent() InventoryEvent {
	return InventoryEvent{
		EventID: g.str(), Timestamp: g.time(), EventType: pick(g, eventTypes), ItemID: g.str(), WarehouseID: g.str(),
		LocationID: g.str(), LotNumber: g.optStr(), QuantityChange: g.long(), ResultingOnHand: g.long(),
		TransactionID: g.str(), ScannerID: g.str(), UserID: g.str(), Version: g.long(), Allocated: g.long(),
		Available: g.long(), DeviceTimestamp: g.time(), CorrectedTimestamp: g.time(), Warnings: g.strs(), AllocationID: g.optStr(),
		Principal: g.optStr(),
	}
}

func (g gen) catalogEntry() CatalogEntry {
	return CatalogEntry{Kind: pick(g, catalogKinds), ID: g.str(), Locations: g.strs(), Description: g.str(),
		LotTracked: g.IntN(2) == 0, MaxTransactionQuantity: g.long()}
}

func (g gen) allocationRequest() AllocationRequest {
	a := AllocationRequest{
		Action: pick(g, allocationActions), AllocationID: g.str(), OrderID: g.str(), OrderLine: g.int(),
		WarehouseID: g.str(), ItemID: g.str(), Quantity: g.long(), LocationID: g.optStr(), LotNumber: g.optStr(),
		AllowPartial: g.IntN(2) == 0, RequestedAt: g.time(), BodyHash: g.bytes(),
	}
	if g.IntN(2) == 0 {
		a.ExpiresAt = ptr(g.time())
	}
	return a
}

func (g gen) allocationDecision() AllocationDecision {
	d := AllocationDecision{
		DecisionID: g.str(), AllocationID: g.str(), OrderID: g.str(), OrderLine: g.int(), WarehouseID: g.str(),
		ItemID: g.str(), Status: pick(g, allocationStatuses), RequestedQuantity: g.long(), ConfirmedQuantity: g.long(),
		BackorderQuantity: g.long(), PickedQuantity: g.long(), Reason: g.optStr(), DecidedAt: g.time(), Sequence: g.long(),
	}
	for range g.IntN(4) {
		d.Lines = append(d.Lines, AllocationLine{LocationID: g.str(), LotNumber: g.str(), Quantity: g.long()})
	}
	return d
}

func (g gen) positionSnapshot() PositionSnapshot {
	return PositionSnapshot{
		SnapshotID: g.str(), Partition: g.int(), TakenAt: g.time(), WarehouseID: g.str(), ItemID: g.str(),
		LocationID: g.str(), LotNumber: g.str(), OnHand: g.long(), Allocated: g.long(), Available: g.long(),
		Version: g.long(), UpdatedAt: g.time(),
	}
}

func (g gen) lock() Lock {
	l := Lock{LockID: g.str(), WarehouseID: g.str(), LocationID: g.str(), ScannerID: g.str(),
		AcquiredAt: g.time(), ExpiresAt: g.time()}
	if g.IntN(2) == 0 {
		l.ReleasedAt = ptr(g.time())
	}
	return l
}

// oracle round-trips n random values of one type and checks them against goavro.
func oracle[T any](t *testing.T, s *Set, n int, rnd func() T, enc func([]byte, *T) ([]byte, error),
	dec func([]byte) (T, error), native func(*T) map[string]any) {
	t.Helper()
	for range n {
		v := rnd()
		b := roundTrip(t, v, enc, dec)
		checkGoavro(t, s, b, native(&v))
	}
}

func TestAgainstGoavro(t *testing.T) {
	s := newSet(t)
	g := gen{rand.New(rand.NewPCG(1, 2))}
	const n = 2000
	oracle(t, s, n, g.transaction, s.AppendTransaction, s.DecodeTransaction, (*Transaction).native)
	oracle(t, s, n, g.inventoryEvent, s.AppendInventoryEvent, s.DecodeInventoryEvent, (*InventoryEvent).native)
	oracle(t, s, n, g.catalogEntry, s.AppendCatalogEntry, s.DecodeCatalogEntry, (*CatalogEntry).native)
	oracle(t, s, n, g.allocationRequest, s.AppendAllocationRequest, s.DecodeAllocationRequest, (*AllocationRequest).native)
	oracle(t, s, n, g.allocationDecision, s.AppendAllocationDecision, s.DecodeAllocationDecision, (*AllocationDecision).native)
	oracle(t, s, n, g.positionSnapshot, s.AppendPositionSnapshot, s.DecodePositionSnapshot, (*PositionSnapshot).native)
	oracle(t, s, n, g.lock, s.AppendLock, s.DecodeLock, (*Lock).native)
}

func TestTransactionEncoderMatchesGoavro(t *testing.T) {
	s := newSet(t)
	g := gen{rand.New(rand.NewPCG(5, 6))}
	encoderMatchesGoavro(t, s, kindTransaction, g.transaction, s.AppendTransaction, (*Transaction).native)
}

func TestInventoryEventEncoderMatchesGoavro(t *testing.T) {
	s := newSet(t)
	g := gen{rand.New(rand.NewPCG(3, 4))}
	encoderMatchesGoavro(t, s, kindInventoryEvent, g.inventoryEvent, s.AppendInventoryEvent, (*InventoryEvent).native)
}

// encoderMatchesGoavro checks that a hand-written encoder writes, for 5000
// random values, byte for byte what goavro writes.
func encoderMatchesGoavro[T any](t *testing.T, s *Set, k kind, rnd func() T, enc func([]byte, *T) ([]byte, error),
	native func(*T) map[string]any) {
	t.Helper()
	for i := range 5000 {
		v := rnd()
		got, err := enc(nil, &v)
		if err != nil {
			t.Fatal(err)
		}
		want, err := s.codecs[k].BinaryFromNative(s.headers[k][:], native(&v))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("value %d: hand-written\n% x\ngoavro\n% x", i, got, want)
		}
	}
}

// checkDecodeAgrees runs the goavro decoder on the payload of b and checks it
// agrees with the typed decoder's outcome: both fail, or both succeed with
// equal values. Invalid UTF-8 is the exception (goavro does not check it).
// Only for record types without arrays: goavro preallocates them by the
// untrusted block count.
func checkDecodeAgrees(t *testing.T, s *Set, b []byte, k kind, typedErr error, typed func() map[string]any) {
	if typedErr != nil && !errors.Is(typedErr, ErrMalformed) {
		return // a header error, or invalid UTF-8
	}
	got, rest, err := s.codecs[k].NativeFromBinary(b[5:])
	goavroOK := err == nil && len(rest) == 0
	if typedErr == nil && !goavroOK {
		// A record written before fields were added at the end of the
		// schema (with null defaults) is accepted: it must then decode
		// fully with the schema as it was, and the added fields be null.
		if legacy := legacyCodec(t, s, k); legacy != nil {
			old, rest, lerr := legacy.NativeFromBinary(b[5:])
			if lerr == nil && len(rest) == 0 {
				want := typed()
				for _, f := range addedFields {
					if want[f] != nil {
						t.Fatalf("a legacy payload decoded with %s = %v, want null", f, want[f])
					}
					delete(want, f)
				}
				if g, w := normalize(old), normalize(want); !reflect.DeepEqual(g, w) {
					t.Fatalf("goavro (legacy schema) decoded\n%v\ntyped decode gave\n%v", g, w)
				}
				return
			}
		}
	}
	switch {
	case typedErr != nil && goavroOK:
		t.Fatalf("typed decoder rejects (%v) what goavro accepts: %v", typedErr, got)
	case typedErr == nil && !goavroOK:
		t.Fatalf("typed decoder accepts what goavro rejects (%v, %d left)", err, len(rest))
	case typedErr == nil:
		if g, w := normalize(got), normalize(typed()); !reflect.DeepEqual(g, w) {
			t.Fatalf("goavro decoded\n%v\ntyped decode gave\n%v", g, w)
		}
	}
}

// addedFields were appended to schemas after records were written without
// them; the typed decoders accept such records.
var addedFields = []string{"principal", "countTaskId"}

// legacyCodec is k's schema without the added fields, or nil when k has
// none of them.
func legacyCodec(t *testing.T, s *Set, k kind) *goavro.Codec {
	t.Helper()
	var sch map[string]any
	if err := json.Unmarshal([]byte(s.schemas[k].Text), &sch); err != nil {
		t.Fatal(err)
	}
	fields := sch["fields"].([]any)
	kept := fields[:0:0]
	for _, f := range fields {
		if !slices.Contains(addedFields, f.(map[string]any)["name"].(string)) {
			kept = append(kept, f)
		}
	}
	if len(kept) == len(fields) {
		return nil
	}
	sch["fields"] = kept
	text, err := json.Marshal(sch)
	if err != nil {
		t.Fatal(err)
	}
	c, err := goavro.NewCodec(string(text))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
