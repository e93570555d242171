package sim

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/schemas"
)

// tap reads the events topic (read_committed, from the start, no consumer
// group) to see each applied transaction's events: which record and
// version it produced (for latency), every eventId (for duplicates) and
// every transactionId (for losses).
type tap struct {
	cl    *kgo.Client
	adm   *kadm.Client
	codec *schemas.Set
	topic string

	mu      sync.Mutex
	byTx    map[string]eventRef // transactionId → its latest event
	events  map[string]int      // eventId → times seen
	offsets map[int32]int64     // partition → next offset read
	bad     int                 // records that did not decode
	fresh   chan string         // transactionIds newly seen, for the latency watch
}

// eventRef is the record and version an event left, and the change
// and resulting on-hand of the transaction's first event.
type eventRef struct {
	key            string
	version        int64
	change, onHand int64
}

func newTap(ctx context.Context, cfg Config) (*tap, error) {
	codec, err := schemas.New(ctx, schemas.Config{TopicPrefix: cfg.TopicPrefix})
	if err != nil {
		return nil, fmt.Errorf("loading the Avro schemas: %w", err)
	}
	topic := schemas.NewTopics(cfg.TopicPrefix).InventoryEvents
	opts := append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200 * time.Millisecond)}, cfg.KafkaOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating the Kafka client: %w", err)
	}
	return &tap{cl: cl, adm: kadm.NewClient(cl), codec: codec, topic: topic,
		byTx: map[string]eventRef{}, events: map[string]int{}, offsets: map[int32]int64{},
		fresh: make(chan string, 1<<16)}, nil
}

// run reads until ctx ends.
func (t *tap) run(ctx context.Context) {
	for ctx.Err() == nil {
		fs := t.cl.PollFetches(ctx)
		if fs.IsClientClosed() {
			return
		}
		fs.EachRecord(func(r *kgo.Record) {
			e, err := t.codec.DecodeInventoryEvent(r.Value)
			t.mu.Lock()
			t.offsets[r.Partition] = r.Offset + 1
			if err != nil {
				t.bad++
				t.mu.Unlock()
				return
			}
			t.events[e.EventID]++
			first := false
			if e.TransactionID != "" && e.EventType != schemas.EventReconciliationCorrection && e.EventType != schemas.EventInventoryReservation {
				prev, seen := t.byTx[e.TransactionID]
				first = !seen
				ref := eventRef{key: recordKey(e.WarehouseID, e.ItemID, e.LocationID), version: e.Version,
					change: e.QuantityChange, onHand: e.ResultingOnHand}
				if seen {
					ref.change, ref.onHand = prev.change, prev.onHand
				}
				t.byTx[e.TransactionID] = ref
			}
			t.mu.Unlock()
			if first {
				select {
				case t.fresh <- e.TransactionID:
				default: // the latency watch is behind: that scan goes unmeasured
				}
			}
		})
	}
}

// caughtUp waits until every record written to the topic before the call
// has been read.
func (t *tap) caughtUp(ctx context.Context) error {
	ends, err := t.adm.ListEndOffsets(ctx, t.topic)
	if err != nil {
		return fmt.Errorf("listing the end offsets of %s: %w", t.topic, err)
	}
	lastSeen, lastMove := t.read(), time.Now()
	for ctx.Err() == nil {
		if n := t.read(); n != lastSeen {
			lastSeen, lastMove = n, time.Now()
		}
		behind := false
		ends.Each(func(o kadm.ListedOffset) {
			t.mu.Lock()
			// A committed topic ends with a transaction marker, which is
			// never delivered: within one offset of the end is the end.
			if o.Err == nil && t.offsets[o.Partition] < o.Offset-1 {
				behind = true
			}
			t.mu.Unlock()
		})
		// Aborted transactions leave markers and skipped records at a
		// partition's end that are never delivered: once nothing new has
		// come for five seconds, what is left is not for a read_committed
		// reader.
		if !behind || time.Since(lastMove) > 5*time.Second {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return ctx.Err()
}

// read is how many records have been read.
func (t *tap) read() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var n int64
	for _, o := range t.offsets {
		n += o
	}
	return n
}

// ref returns a transaction's latest event.
func (t *tap) ref(txid string) (eventRef, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.byTx[txid]
	return r, ok
}

// duplicated counts eventIds seen more than once.
func (t *tap) duplicated() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, c := range t.events {
		if c > 1 {
			n += c - 1
		}
	}
	return n
}

func (t *tap) close() { t.cl.Close() }
