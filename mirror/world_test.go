package mirror

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"iter"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/schemas"
)

// world generates the records a test produces and keeps the oracle: what
// the tables must hold after the committed records, computed by applying
// them one at a time in log order with the rules as the contract states
// them (independently of the batch folding and the SQL).
type world struct {
	rnd        *rand.Rand
	k          *testKafka
	partitions int32
	base       time.Time

	keys     []positionKey
	version  map[positionKey]int64
	past     map[positionKey][]schemas.InventoryEvent
	allocSeq map[string]int64
	allocs   []string
	pastDec  map[string][]schemas.AllocationDecision
	n        int

	// What was produced and committed, by partition, in offset order.
	events    map[topicPartition][]sentEvent
	decisions map[topicPartition][]sentDecision
	garbage   map[topicPartition][]int64 // offsets of records that must be dead letters
}

type sentEvent struct {
	offset int64
	e      schemas.InventoryEvent
}

type sentDecision struct {
	offset int64
	d      schemas.AllocationDecision
}

func newWorld(k *testKafka, seed uint64, partitions int32, warehouses, items, locations int) *world {
	w := &world{
		rnd: rand.New(rand.NewPCG(seed, seed^0x5eed)), k: k, partitions: partitions,
		base:    time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC),
		version: map[positionKey]int64{}, past: map[positionKey][]schemas.InventoryEvent{},
		allocSeq: map[string]int64{}, pastDec: map[string][]schemas.AllocationDecision{},
		events: map[topicPartition][]sentEvent{}, decisions: map[topicPartition][]sentDecision{},
		garbage: map[topicPartition][]int64{},
	}
	for wh := range warehouses {
		for it := range items {
			for loc := range locations {
				lot := ""
				if it%3 == 0 {
					lot = fmt.Sprintf("LOT-%d", loc%2)
				}
				w.keys = append(w.keys, positionKey{fmt.Sprintf("WH-%03d", wh), fmt.Sprintf("ITEM-%05d", it), fmt.Sprintf("L-%02d", loc), lot})
			}
		}
	}
	return w
}

// newTestWorld starts a broker of partitions partitions (newTestKafka), a
// world on it (newWorld) and a transactional producer to write its rounds
// with.
func newTestWorld(t *testing.T, seed uint64, partitions int32, warehouses, items, locations int) (*testKafka, *world, *kgo.Client) {
	t.Helper()
	k := newTestKafka(t, partitions, false)
	return k, newWorld(k, seed, partitions, warehouses, items, locations), k.producer(t)
}

func partitionOf(key string, n int32) int32 {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int32(h.Sum32() % uint32(n))
}

// nextEvent returns a new event (most of the time), an exact duplicate of a
// past one, or a stale event: an older version with other quantities.
func (w *world) nextEvent() schemas.InventoryEvent {
	key := w.keys[w.rnd.IntN(len(w.keys))]
	w.n++
	if past := w.past[key]; len(past) > 0 {
		switch r := w.rnd.IntN(100); {
		case r < 8:
			return past[w.rnd.IntN(len(past))]
		case r < 13:
			e := past[w.rnd.IntN(len(past))]
			e.EventID = fmt.Sprintf("evt-stale-%d", w.n)
			e.ResultingOnHand = int64(w.rnd.IntN(1000)) - 100
			e.Version = int64(w.rnd.IntN(int(w.version[key])))
			return e
		}
	}
	w.version[key]++
	onHand := int64(w.rnd.IntN(500))
	allocated := int64(w.rnd.IntN(50))
	e := schemas.InventoryEvent{
		EventID:         fmt.Sprintf("evt-%d-1", w.n),
		Timestamp:       w.base.Add(time.Duration(w.n) * time.Millisecond),
		EventType:       schemas.EventInventoryAdjustment,
		ItemID:          key.ItemID,
		WarehouseID:     key.WarehouseID,
		LocationID:      key.LocationID,
		QuantityChange:  int64(w.rnd.IntN(20)) - 10,
		ResultingOnHand: onHand,
		TransactionID:   fmt.Sprintf("tx-%d", w.n),
		ScannerID:       "SCANNER-01",
		UserID:          "user-1",
		Version:         w.version[key],
		Allocated:       allocated,
		Available:       onHand - allocated,
	}
	if key.LotNumber != "" {
		lot := key.LotNumber
		e.LotNumber = &lot
	}
	w.past[key] = append(w.past[key], e)
	return e
}

func (w *world) eventRecord(e schemas.InventoryEvent) *kgo.Record {
	return encodedRecord(w, w.k.topics.InventoryEvents, e.WarehouseID+"/"+e.ItemID, w.k.codec.AppendInventoryEvent, &e)
}

// encodedRecord is v, encoded with enc, as a record of topic with key,
// in the partition the producers would choose for key.
func encodedRecord[V any](w *world, topic, key string, enc func([]byte, *V) ([]byte, error), v *V) *kgo.Record {
	b, err := enc(nil, v)
	if err != nil {
		panic(err)
	}
	return &kgo.Record{Topic: topic, Partition: partitionOf(key, w.partitions), Key: []byte(key), Value: b}
}

// nextDecision returns the next decision of a new or existing allocation,
// or a replay of a past one.
func (w *world) nextDecision() schemas.AllocationDecision {
	w.n++
	if len(w.allocs) > 0 && w.rnd.IntN(100) < 10 {
		id := w.allocs[w.rnd.IntN(len(w.allocs))]
		past := w.pastDec[id]
		return past[w.rnd.IntN(len(past))]
	}
	var id string
	if len(w.allocs) == 0 || w.rnd.IntN(100) < 40 {
		id = fmt.Sprintf("ALLOC-%d", w.n)
		w.allocs = append(w.allocs, id)
	} else {
		id = w.allocs[w.rnd.IntN(len(w.allocs))]
	}
	w.allocSeq[id]++
	seq := w.allocSeq[id]
	statuses := []schemas.AllocationStatus{schemas.StatusTentative, schemas.StatusConfirmed, schemas.StatusPartial, schemas.StatusFulfilled}
	var reason *string
	if seq%2 == 0 {
		r := "SHORTFALL"
		reason = &r
	}
	d := schemas.AllocationDecision{
		DecisionID: fmt.Sprintf("dec-%s-%d", id, seq), AllocationID: id, OrderID: "SO-" + id, OrderLine: int32(seq),
		WarehouseID: "WH-001", ItemID: "ITEM-00001", Status: statuses[int(seq-1)%len(statuses)],
		RequestedQuantity: 100, ConfirmedQuantity: 100 - seq, BackorderQuantity: seq, PickedQuantity: seq / 2,
		Lines:     []schemas.AllocationLine{{LocationID: "L-01", LotNumber: "", Quantity: 100 - seq}},
		Reason:    reason,
		DecidedAt: w.base.Add(time.Duration(w.n) * time.Millisecond),
		Sequence:  seq,
	}
	w.pastDec[id] = append(w.pastDec[id], d)
	return d
}

func (w *world) decisionRecord(d schemas.AllocationDecision) *kgo.Record {
	return encodedRecord(w, w.k.topics.AllocationDecisions, d.AllocationID, w.k.codec.AppendAllocationDecision, &d)
}

// garbageRecord returns a record that must become a dead letter.
func (w *world) garbageRecord(topic string) *kgo.Record {
	var v []byte
	switch w.rnd.IntN(5) {
	case 0:
		v = []byte("not avro at all")
	case 1:
		v = []byte{0, 0, 0, 0x7f, 0x7f, 1, 2, 3} // unknown schema id
	case 2: // a valid record of the wrong schema
		d := w.nextDecisionLike()
		v, _ = w.k.codec.AppendAllocationDecision(nil, &d)
		if topic == w.k.topics.AllocationDecisions {
			e := w.nextEventLike()
			v, _ = w.k.codec.AppendInventoryEvent(nil, &e)
		}
	case 3: // truncated
		e := w.nextEventLike()
		full, _ := w.k.codec.AppendInventoryEvent(nil, &e)
		if topic == w.k.topics.AllocationDecisions {
			d := w.nextDecisionLike()
			full, _ = w.k.codec.AppendAllocationDecision(nil, &d)
		}
		v = full[:len(full)-3]
	case 4: // decodes, but cannot be stored: a NUL in the item
		e := w.nextEventLike()
		e.ItemID = "ITEM\x00"
		v, _ = w.k.codec.AppendInventoryEvent(nil, &e)
		if topic == w.k.topics.AllocationDecisions {
			d := w.nextDecisionLike()
			d.AllocationID = ""
			v, _ = w.k.codec.AppendAllocationDecision(nil, &d)
		}
	}
	return &kgo.Record{Topic: topic, Partition: w.rnd.Int32N(w.partitions), Key: []byte("garbage"), Value: v}
}

func (w *world) nextEventLike() schemas.InventoryEvent {
	return schemas.InventoryEvent{EventID: "x", EventType: schemas.EventCycleCount, ItemID: "ITEM-X", WarehouseID: "WH-X",
		LocationID: "L-X", TransactionID: "t", ScannerID: "s", UserID: "u", Version: 1, Timestamp: w.base}
}

func (w *world) nextDecisionLike() schemas.AllocationDecision {
	return schemas.AllocationDecision{DecisionID: "dec-X-1", AllocationID: "X", OrderID: "o", WarehouseID: "WH-X", ItemID: "I",
		Status: schemas.StatusConfirmed, Sequence: 1, DecidedAt: w.base}
}

// round produces n records in transactions of about txSize: events,
// decisions and garbage mixed. abortEvery > 0 also produces an aborted
// transaction of bogus far-future versions every abortEvery transactions,
// which a read_committed mirror must never apply.
func (w *world) round(t *testing.T, cl *kgo.Client, n, txSize, abortEvery int, garbagePct int) {
	t.Helper()
	for tx := 0; n > 0; tx++ {
		size := min(n, txSize)
		n -= size
		var recs []*kgo.Record
		type meta struct {
			e       *schemas.InventoryEvent
			d       *schemas.AllocationDecision
			garbage bool
		}
		var metas []meta
		for range size {
			switch r := w.rnd.IntN(100); {
			case r < garbagePct:
				topic := w.k.topics.InventoryEvents
				if w.rnd.IntN(2) == 0 {
					topic = w.k.topics.AllocationDecisions
				}
				recs = append(recs, w.garbageRecord(topic))
				metas = append(metas, meta{garbage: true})
			case r < 80:
				e := w.nextEvent()
				recs = append(recs, w.eventRecord(e))
				metas = append(metas, meta{e: &e})
			default:
				d := w.nextDecision()
				recs = append(recs, w.decisionRecord(d))
				metas = append(metas, meta{d: &d})
			}
		}
		produceTx(t, cl, recs, true)
		for i, r := range recs {
			tp := topicPartition{r.Topic, r.Partition}
			switch m := metas[i]; {
			case m.garbage:
				w.garbage[tp] = append(w.garbage[tp], r.Offset)
			case m.e != nil:
				w.events[tp] = append(w.events[tp], sentEvent{r.Offset, *m.e})
			default:
				w.decisions[tp] = append(w.decisions[tp], sentDecision{r.Offset, *m.d})
			}
		}
		if abortEvery > 0 && tx%abortEvery == abortEvery-1 {
			var bogus []*kgo.Record
			for range 5 {
				e := w.nextEventLike()
				key := w.keys[w.rnd.IntN(len(w.keys))]
				e.WarehouseID, e.ItemID, e.LocationID = key.WarehouseID, key.ItemID, key.LocationID
				e.Version, e.ResultingOnHand = 1_000_000, -424242
				bogus = append(bogus, w.eventRecord(e))
			}
			produceTx(t, cl, bogus, false)
		}
	}
}

// below yields, partition by partition in log order, the records of
// byTP whose offset is below upTo[partition] (all of them when upTo is
// nil).
func below[T any](byTP map[topicPartition][]T, offset func(T) int64, upTo map[topicPartition]int64) iter.Seq2[topicPartition, T] {
	return func(yield func(topicPartition, T) bool) {
		for tp, recs := range byTP {
			for _, r := range recs {
				if upTo != nil && offset(r) >= upTo[tp] {
					break
				}
				if !yield(tp, r) {
					return
				}
			}
		}
	}
}

// posState is what a positions row holds besides its key.
type posState struct {
	OnHand, Allocated, Available, Version int64
	UpdatedAtMillis                       int64
}

// expectedPositions applies the committed events below upTo[partition]
// (all of them when upTo is nil) one at a time in log order.
func (w *world) expectedPositions(upTo map[topicPartition]int64) map[positionKey]posState {
	out := map[positionKey]posState{}
	for _, se := range below(w.events, func(se sentEvent) int64 { return se.offset }, upTo) {
		e := se.e
		key := positionKey{e.WarehouseID, e.ItemID, e.LocationID, ""}
		if e.LotNumber != nil {
			key.LotNumber = *e.LotNumber
		}
		cur, ok := out[key]
		correction := e.EventType == eventReconciliationCorrection
		if ok && !(e.Version > cur.Version || correction && e.Version >= cur.Version) {
			continue
		}
		out[key] = posState{e.ResultingOnHand, e.Allocated, e.Available, e.Version, e.Timestamp.UnixMilli()}
	}
	return out
}

// allocState is what an allocations row holds that the tests compare.
type allocState struct {
	Status                                  string
	Requested, Confirmed, Backorder, Picked int64
	Sequence                                int64
	DecisionID                              string
}

func (w *world) expectedAllocations(upTo map[topicPartition]int64) map[string]allocState {
	out := map[string]allocState{}
	for _, sd := range below(w.decisions, func(sd sentDecision) int64 { return sd.offset }, upTo) {
		d := sd.d
		if cur, ok := out[d.AllocationID]; ok && d.Sequence <= cur.Sequence {
			continue
		}
		out[d.AllocationID] = allocState{string(d.Status), d.RequestedQuantity, d.ConfirmedQuantity,
			d.BackorderQuantity, d.PickedQuantity, d.Sequence, d.DecisionID}
	}
	return out
}

func (w *world) expectedDeadLetters(upTo map[topicPartition]int64) []deadLetterID {
	var out []deadLetterID
	for tp, o := range below(w.garbage, func(o int64) int64 { return o }, upTo) {
		out = append(out, deadLetterID{tp.Topic, tp.Partition, o})
	}
	slices.SortFunc(out, compareDeadLetterIDs)
	return out
}

type deadLetterID struct {
	Topic     string
	Partition int32
	Offset    int64
}

func compareDeadLetterIDs(a, b deadLetterID) int {
	if a.Topic != b.Topic {
		if a.Topic < b.Topic {
			return -1
		}
		return 1
	}
	if a.Partition != b.Partition {
		return int(a.Partition - b.Partition)
	}
	return int(a.Offset - b.Offset)
}

// ---------------------------------------------------------------- table reads

// eachRow runs query on db and hands each row to scan, failing the test
// on any error, scan's included.
func eachRow(t *testing.T, db queryer, query string, scan func(*sql.Rows) error) {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			t.Fatal(err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

func readPositions(t *testing.T, db queryer) map[positionKey]posState {
	t.Helper()
	out := map[positionKey]posState{}
	eachRow(t, db, `SELECT warehouse_id, item_id, location_id, lot_number,
		on_hand, allocated, available, version, updated_at FROM positions`, func(rows *sql.Rows) error {
		var k positionKey
		var s posState
		var at any
		if err := rows.Scan(&k.WarehouseID, &k.ItemID, &k.LocationID, &k.LotNumber, &s.OnHand, &s.Allocated, &s.Available, &s.Version, &at); err != nil {
			return err
		}
		s.UpdatedAtMillis = scanMillis(t, at)
		out[k] = s
		return nil
	})
	return out
}

func scanMillis(t *testing.T, v any) int64 {
	t.Helper()
	switch x := v.(type) {
	case time.Time:
		return x.UnixMilli()
	case string:
		ts, err := time.Parse(sqliteTimeLayout, x)
		if err != nil {
			t.Fatalf("updated_at %q: %v", x, err)
		}
		return ts.UnixMilli()
	default:
		t.Fatalf("updated_at of type %T", v)
		return 0
	}
}

func readAllocations(t *testing.T, db queryer) map[string]allocState {
	t.Helper()
	out := map[string]allocState{}
	eachRow(t, db, `SELECT allocation_id, status, requested_quantity, confirmed_quantity,
		backorder_quantity, picked_quantity, decision_sequence, decision_id FROM allocations`, func(rows *sql.Rows) error {
		var id string
		var s allocState
		if err := rows.Scan(&id, &s.Status, &s.Requested, &s.Confirmed, &s.Backorder, &s.Picked, &s.Sequence, &s.DecisionID); err != nil {
			return err
		}
		out[id] = s
		return nil
	})
	return out
}

func readDeadLetters(t *testing.T, db queryer) ([]deadLetterID, []string) {
	t.Helper()
	var ids []deadLetterID
	var errs []string
	eachRow(t, db, `SELECT topic, "partition", "offset", error FROM dead_letters ORDER BY topic, "partition", "offset"`, func(rows *sql.Rows) error {
		var d deadLetterID
		var e string
		if err := rows.Scan(&d.Topic, &d.Partition, &d.Offset, &e); err != nil {
			return err
		}
		ids = append(ids, d)
		errs = append(errs, e)
		return nil
	})
	slices.SortFunc(ids, compareDeadLetterIDs)
	return ids, errs
}

func readStoredOffsets(t *testing.T, db queryer) map[topicPartition]int64 {
	t.Helper()
	out := map[topicPartition]int64{}
	eachRow(t, db, `SELECT topic, "partition", next_offset FROM consumed_offsets`, func(rows *sql.Rows) error {
		var tp topicPartition
		var o int64
		if err := rows.Scan(&tp.Topic, &tp.Partition, &o); err != nil {
			return err
		}
		out[tp] = o
		return nil
	})
	return out
}

// queryer is a database, a connection or a transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// diffPositions describes how got differs from want ("" when equal).
func diffPositions(want, got map[positionKey]posState) string {
	if maps.Equal(want, got) {
		return ""
	}
	n := 0
	msg := fmt.Sprintf("positions differ (want %d rows, got %d):", len(want), len(got))
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			if n++; n <= 5 {
				msg += fmt.Sprintf("\n  %v: want %+v, got %+v (present %v)", k, w, g, ok)
			}
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			if n++; n <= 5 {
				msg += fmt.Sprintf("\n  %v: unexpected row %+v", k, g)
			}
		}
	}
	return msg
}
