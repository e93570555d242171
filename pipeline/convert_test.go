package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/invsync/invsync/pipeline"
	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
)

// The conversions between the domain and the wire, through the real codec:
// what one side writes is what the other reads, for random values of every
// field. The wire carries times as milliseconds (truncated towards the
// past, read back in UTC), an optional string as null when the domain's is
// empty, and an empty byte or string list as nil.

const convertValues = 3000

func newCodec(t *testing.T) *schemas.Set {
	t.Helper()
	c, err := schemas.New(context.Background(), schemas.Config{TopicPrefix: "t."})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// convertRand is a seeded source; each test logs its seed.
func convertRand(t *testing.T, seed uint64) *rand.Rand {
	t.Logf("seed %d", seed)
	return rand.New(rand.NewPCG(seed, 0x636f6e76))
}

// eachThroughCodec makes convertValues random domain values with gen,
// converts each to the wire with toWire, encodes that with enc and decodes
// it with dec (failing the test, at value i, on either error), and hands
// check the domain value, what went on the wire and what came back.
func eachThroughCodec[D, W any](t *testing.T, rng *rand.Rand, gen func(*rand.Rand) D, toWire func(*D) W,
	enc func([]byte, *W) ([]byte, error), dec func([]byte) (W, error), check func(i int, d *D, w *W, got W)) {
	t.Helper()
	var buf []byte
	for i := range convertValues {
		d := gen(rng)
		w := toWire(&d)
		var err error
		if buf, err = enc(buf[:0], &w); err != nil {
			t.Fatalf("value %d: encoding %#v: %v", i, w, err)
		}
		got, err := dec(buf)
		if err != nil {
			t.Fatalf("value %d: decoding: %v", i, err)
		}
		check(i, &d, &w, got)
	}
}

// wireTime is t as the wire returns it.
func wireTime(t time.Time) time.Time { return t.Truncate(time.Millisecond).UTC() }

func TestTransactionRoundTrip(t *testing.T) {
	codec := newCodec(t)
	eachThroughCodec(t, convertRand(t, 1), randTransaction, pipeline.ToWire, codec.AppendTransaction, codec.DecodeTransaction,
		func(i int, tx *processors.Transaction, w *schemas.Transaction, dw schemas.Transaction) {
			if (w.ToLocationID == nil) != (tx.ToLocationID == "") || (w.AllocationID == nil) != (tx.AllocationID == "") ||
				(w.ReasonCode == nil) != (tx.ReasonCode == "") {
				t.Fatalf("value %d: an empty optional string must go on the wire as null: %#v from %#v", i, *w, *tx)
			}
			got := pipeline.FromWire(&dw)

			want := *tx
			want.DeviceTimestamp = wireTime(tx.DeviceTimestamp)
			want.CorrectedTimestamp = wireTime(tx.CorrectedTimestamp)
			want.SentAt = wireTime(tx.SentAt)
			want.ReceivedAt = wireTime(tx.ReceivedAt)
			if len(want.BodyHash) == 0 {
				want.BodyHash = nil
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("value %d: round trip of\n  %#v\nreads back\n  %#v\nwant\n  %#v", i, *tx, got, want)
			}
			// The idempotency hash covers what the device sent, which the
			// wire keeps exactly.
			if !bytes.Equal(got.Hash(), tx.Hash()) {
				t.Fatalf("value %d: the content hash changed on the wire", i)
			}
		})
}

func TestAllocRequestRoundTrip(t *testing.T) {
	codec := newCodec(t)
	defaulted := 0
	eachThroughCodec(t, convertRand(t, 2), randAllocRequest, pipeline.AllocRequestToWire, codec.AppendAllocationRequest, codec.DecodeAllocationRequest,
		func(i int, r *processors.AllocRequest, w *schemas.AllocationRequest, dw schemas.AllocationRequest) {
			if (w.LocationID == nil) != (r.LocationID == "") || (w.LotNumber == nil) != (r.LotNumber == "") {
				t.Fatalf("value %d: an empty optional string must go on the wire as null: %#v from %#v", i, *w, *r)
			}
			got := pipeline.AllocRequestFromWire(&dw)

			want := *r
			want.RequestedAt = wireTime(r.RequestedAt)
			if r.ExpiresAt != nil {
				e := wireTime(*r.ExpiresAt)
				want.ExpiresAt = &e
			}
			switch {
			case len(r.BodyHash) > 0:
			case r.Action == processors.ActionAllocate:
				// A request without a hash gets the hash of its content as
				// read from the wire: the same for every reader and every
				// resend of the same request.
				want.BodyHash = want.Hash()
				if len(want.BodyHash) == 0 {
					t.Fatalf("value %d: empty content hash", i)
				}
				defaulted++
			default:
				want.BodyHash = nil // a CANCEL needs none
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("value %d: round trip of\n  %#v\nreads back\n  %#v\nwant\n  %#v", i, *r, got, want)
			}
		})
	if defaulted < convertValues/20 {
		t.Errorf("only %d of %d requests took the default body hash; the generator should make more", defaulted, convertValues)
	}
}

// wireEventTypes is the spec's table of event types by transaction type.
var wireEventTypes = map[processors.TxType]schemas.EventType{
	processors.Receipt:    "InventoryReceipt",
	processors.Pick:       "InventoryPick",
	processors.Move:       "InventoryMove",
	processors.Adjustment: "InventoryAdjustment",
	processors.CycleCount: "CycleCount",
}

func TestEventToWire(t *testing.T) {
	codec := newCodec(t)
	rng := convertRand(t, 3)
	eachThroughCodec(t, rng, randEvent, pipeline.EventToWire, codec.AppendInventoryEvent, codec.DecodeInventoryEvent,
		func(i int, e *processors.Event, _ *schemas.InventoryEvent, got schemas.InventoryEvent) {
			want := schemas.InventoryEvent{
				EventID:            e.EventID,
				Timestamp:          wireTime(e.Timestamp),
				EventType:          wireEventTypes[e.Type],
				ItemID:             e.ItemID,
				WarehouseID:        e.WarehouseID,
				LocationID:         e.LocationID,
				LotNumber:          optional(e.LotNumber), // null when not lot-tracked
				QuantityChange:     e.QuantityChange,
				ResultingOnHand:    e.ResultingOnHand,
				TransactionID:      e.TransactionID,
				ScannerID:          e.ScannerID,
				UserID:             e.UserID,
				Version:            e.Version,
				Allocated:          e.Allocated,
				Available:          e.Available,
				DeviceTimestamp:    wireTime(e.DeviceTimestamp),
				CorrectedTimestamp: wireTime(e.CorrectedTimestamp),
				AllocationID:       optional(e.AllocationID),
			}
			if len(e.Warnings) > 0 {
				want.Warnings = append([]string(nil), e.Warnings...)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("value %d: event\n  %#v\nreads back\n  %#v\nwant\n  %#v", i, *e, got, want)
			}
		})

	// An event of no known type is refused, not published with a made-up one.
	e := randEvent(rng)
	e.Type = "SHRINK"
	w := pipeline.EventToWire(&e)
	if _, err := codec.AppendInventoryEvent(nil, &w); !errors.Is(err, schemas.ErrInvalid) {
		t.Errorf("encoding an event of type SHRINK: %v, want ErrInvalid", err)
	}
}

func TestDecisionToWire(t *testing.T) {
	codec := newCodec(t)
	eachThroughCodec(t, convertRand(t, 4), randAllocation, pipeline.DecisionToWire, codec.AppendAllocationDecision, codec.DecodeAllocationDecision,
		func(i int, a *processors.Allocation, _ *schemas.AllocationDecision, got schemas.AllocationDecision) {
			want := schemas.AllocationDecision{
				DecisionID:        "dec-" + a.AllocationID + "-" + strconv.FormatInt(a.Sequence, 10),
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
				Reason:            optional(a.Reason),
				Sequence:          a.Sequence,
			}
			for _, l := range a.Lines {
				want.Lines = append(want.Lines, schemas.AllocationLine{LocationID: l.LocationID, LotNumber: l.LotNumber, Quantity: l.Quantity})
			}
			if n := len(a.History); n > 0 {
				want.DecidedAt = wireTime(a.History[n-1].At) // the change the decision reports
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("value %d: allocation\n  %#v\nreads back\n  %#v\nwant\n  %#v", i, *a, got, want)
			}
		})
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Generators. Strings are valid UTF-8 (the codec refuses anything else)
// and often empty; numbers reach their extremes; times span years 1 to
// 9999 in any zone, with nanoseconds, and include the zero time.

var runes = []rune("aZ09-_/.: \x00é€Ω🚚\u00a0\u200b")

func randString(rng *rand.Rand) string {
	n := rng.IntN(12)
	if rng.IntN(6) == 0 {
		n = 0
	}
	r := make([]rune, n)
	for i := range r {
		r[i] = runes[rng.IntN(len(runes))]
	}
	return string(r)
}

func nonEmpty(rng *rand.Rand) string {
	if s := randString(rng); s != "" {
		return s
	}
	return "x"
}

func maybe(rng *rand.Rand) string {
	if rng.IntN(2) == 0 {
		return ""
	}
	return nonEmpty(rng)
}

func randInt64(rng *rand.Rand) int64 {
	switch rng.IntN(8) {
	case 0:
		return math.MinInt64
	case 1:
		return math.MaxInt64
	case 2:
		return 0
	case 3:
		return rng.Int64N(200) - 100
	default:
		return int64(rng.Uint64())
	}
}

func randInt32(rng *rand.Rand) int32 {
	switch rng.IntN(4) {
	case 0:
		return math.MinInt32
	case 1:
		return math.MaxInt32
	default:
		return int32(rng.Uint32())
	}
}

var zones = []*time.Location{time.UTC, time.FixedZone("A", 5*3600+1800), time.FixedZone("B", -8*3600), time.FixedZone("C", 59)}

func randTime(rng *rand.Rand) time.Time {
	const minSec, maxSec = -62135596800, 253402300799 // years 1 to 9999
	var t time.Time
	switch rng.IntN(8) {
	case 0:
		return time.Time{}
	case 1: // whole milliseconds
		t = time.UnixMilli(1_700_000_000_000 + rng.Int64N(1e12))
	case 2: // around the Unix epoch, where truncation goes towards the past
		t = time.Unix(0, rng.Int64N(2e9)-1e9)
	default:
		t = time.Unix(minSec+rng.Int64N(maxSec-minSec), rng.Int64N(1e9))
	}
	return t.In(zones[rng.IntN(len(zones))])
}

// randSlice is nil, empty, or 1 to most items made by item: the wire's
// empty and absent lists must both convert.
func randSlice[T any](rng *rand.Rand, most int, item func(*rand.Rand) T) []T {
	switch rng.IntN(4) {
	case 0:
		return nil
	case 1:
		return []T{}
	default:
		s := make([]T, 1+rng.IntN(most))
		for i := range s {
			s[i] = item(rng)
		}
		return s
	}
}

func randBytes(rng *rand.Rand) []byte {
	return randSlice(rng, 40, func(rng *rand.Rand) byte { return byte(rng.UintN(256)) })
}

var txTypes = []processors.TxType{processors.Receipt, processors.Pick, processors.Move, processors.Adjustment, processors.CycleCount}

func randTransaction(rng *rand.Rand) processors.Transaction {
	tx := processors.Transaction{
		TransactionID:      randString(rng),
		Type:               txTypes[rng.IntN(len(txTypes))],
		WarehouseID:        randString(rng),
		ItemID:             randString(rng),
		LocationID:         randString(rng),
		LotNumber:          maybe(rng),
		Quantity:           randInt64(rng),
		ToLocationID:       maybe(rng),
		AllocationID:       maybe(rng),
		Override:           rng.IntN(2) == 0,
		UserID:             randString(rng),
		ReasonCode:         maybe(rng),
		ScannerID:          randString(rng),
		DeviceTimestamp:    randTime(rng),
		CorrectedTimestamp: randTime(rng),
		SentAt:             randTime(rng),
		ReceivedAt:         randTime(rng),
		BodyHash:           randBytes(rng),
	}
	if rng.IntN(2) == 0 {
		v := randInt64(rng)
		tx.ExpectedVersion = &v
	}
	return tx
}

func randAllocRequest(rng *rand.Rand) processors.AllocRequest {
	r := processors.AllocRequest{
		Action:       processors.ActionAllocate,
		AllocationID: randString(rng),
		OrderID:      randString(rng),
		OrderLine:    randInt32(rng),
		WarehouseID:  randString(rng),
		ItemID:       randString(rng),
		Quantity:     randInt64(rng),
		LocationID:   maybe(rng),
		LotNumber:    maybe(rng),
		AllowPartial: rng.IntN(2) == 0,
		RequestedAt:  randTime(rng),
		BodyHash:     randBytes(rng),
	}
	if rng.IntN(4) == 0 {
		r.Action = processors.ActionCancel
	}
	if rng.IntN(2) == 0 {
		e := randTime(rng)
		r.ExpiresAt = &e
	}
	return r
}

func randWarnings(rng *rand.Rand) []string { return randSlice(rng, 4, randString) }

func randEvent(rng *rand.Rand) processors.Event {
	return processors.Event{
		EventID:            randString(rng),
		Timestamp:          randTime(rng),
		Type:               txTypes[rng.IntN(len(txTypes))],
		WarehouseID:        randString(rng),
		ItemID:             randString(rng),
		LocationID:         randString(rng),
		LotNumber:          maybe(rng),
		QuantityChange:     randInt64(rng),
		ResultingOnHand:    randInt64(rng),
		TransactionID:      randString(rng),
		ScannerID:          randString(rng),
		UserID:             randString(rng),
		Version:            randInt64(rng),
		Allocated:          randInt64(rng),
		Available:          randInt64(rng),
		DeviceTimestamp:    randTime(rng),
		CorrectedTimestamp: randTime(rng),
		Warnings:           randWarnings(rng),
		AllocationID:       maybe(rng),
	}
}

var allocStatuses = []string{
	processors.AllocTentative, processors.AllocConfirmed, processors.AllocPartial, processors.AllocRejected,
	processors.AllocCancelled, processors.AllocFulfilled, processors.AllocExpired,
}

func randAllocation(rng *rand.Rand) processors.Allocation {
	a := processors.Allocation{
		AllocationID:      randString(rng),
		OrderID:           randString(rng),
		OrderLine:         randInt32(rng),
		WarehouseID:       randString(rng),
		ItemID:            randString(rng),
		Status:            allocStatuses[rng.IntN(len(allocStatuses))],
		RequestedQuantity: randInt64(rng),
		ConfirmedQuantity: randInt64(rng),
		BackorderQuantity: randInt64(rng),
		PickedQuantity:    randInt64(rng),
		Reason:            maybe(rng),
		// Not part of a decision: they must not leak into it.
		AllowPartial: rng.IntN(2) == 0,
		LocationID:   maybe(rng),
		LotNumber:    maybe(rng),
		Seq:          randInt64(rng),
		Sequence:     randInt64(rng),
		BodyHash:     randBytes(rng),
	}
	if rng.IntN(3) == 0 {
		a.Lines = []processors.AllocLine{}
	}
	for range rng.IntN(4) {
		a.Lines = append(a.Lines, processors.AllocLine{LocationID: randString(rng), LotNumber: maybe(rng), Quantity: randInt64(rng)})
	}
	for range rng.IntN(4) {
		a.History = append(a.History, processors.AllocHistory{At: randTime(rng), Status: allocStatuses[rng.IntN(len(allocStatuses))], Reason: maybe(rng)})
	}
	return a
}
