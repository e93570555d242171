package bench

// The exactly-once floor: the least work an exactly-once Kafka processor
// can do, measured with the same load, schedule and event reader as invsync
// and the peer. It is a stateless relay in this process: one franz-go
// GroupTransactSession with the settings of invsync's own transaction cycle
// (pipeline.CycleOpts: read_committed, stable offsets, one produce request
// per transaction, the same fetch wait and poll size) that, for each poll,
// begins a Kafka transaction, decodes every Avro transaction, writes one
// Avro event per leg (two for a MOVE), flushes and commits the poll's
// offsets with it. It keeps no state, reads nothing back, validates nothing
// and produces no changelog.
//
// What it bounds: no exactly-once processor on this broker and this
// machine, invsync included, can be faster or sustain more with this
// cycle; its latency at a low rate is the cycle's broker round trips
// (fetch, produce, TxnOffsetCommit, heartbeat, EndTxn, the reader's fetch)
// and nothing else. It shares the cores with the broker and the load
// generator exactly as invsync's direct run does.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/pipeline"
	"github.com/invsync/invsync/schemas"
)

// PeerFloor is the name of the exactly-once floor's run.
const PeerFloor = "eos-floor"

// DefaultFloorTopicPrefix prefixes the floor run's topics.
const DefaultFloorTopicPrefix = "invsync.floor."

// ErrFloorFailed ends a floor run whose relay stopped on an error.
var ErrFloorFailed = errors.New("the exactly-once floor's relay failed")

// relay is the floor's processor: it runs until its context ends, and
// reports the first error that ends it early.
type relay struct {
	gs    *kgo.GroupTransactSession
	codec *schemas.Set
	out   string
	done  chan error
}

// startRelay joins group on brokers as a transactional relay from
// topics.input to topics.output; fail is called with the error that ends
// it before ctx does.
func startRelay(ctx context.Context, brokers []string, topics peerTopics, codec *schemas.Set, fail func(error)) (*relay, error) {
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ConsumerGroup(topics.appID),
		kgo.ConsumeTopics(topics.input),
		kgo.TransactionalID(topics.appID),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	}, pipeline.CycleOpts()...)
	gs, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating the floor's transactional session: %w", err)
	}
	r := &relay{gs: gs, codec: codec, out: topics.output, done: make(chan error, 1)}
	go func() {
		err := r.run(ctx)
		if err != nil {
			fail(fmt.Errorf("%w: %w", ErrFloorFailed, err))
		}
		r.done <- err
	}()
	return r, nil
}

// stop waits for the relay to end (its context must have ended) and
// leaves the group; it returns the error that ended it early, if any.
func (r *relay) stop() error {
	err := <-r.done
	r.gs.Close()
	return err
}

func (r *relay) run(ctx context.Context) error {
	for {
		fs := r.gs.PollRecords(ctx, pipeline.DefaultMaxPollRecords)
		if ctx.Err() != nil {
			return nil
		}
		if fs.IsClientClosed() {
			return errors.New("the floor's client closed")
		}
		var fatal error
		fs.EachError(func(t string, p int32, err error) {
			if !isTimeout(err) && fatal == nil {
				fatal = fmt.Errorf("the floor fetching %s[%d]: %w", t, p, err)
			}
		})
		if fatal != nil {
			return fatal
		}
		if fs.NumRecords() == 0 {
			continue
		}
		if err := r.relayPoll(ctx, fs); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// relayPoll writes the events of one poll's records in one transaction and
// commits them with the poll's offsets.
func (r *relay) relayPoll(ctx context.Context, fs kgo.Fetches) error {
	if err := r.gs.Begin(); err != nil {
		return fmt.Errorf("the floor beginning a transaction: %w", err)
	}
	var (
		mu      sync.Mutex
		prodErr error
	)
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			prodErr = cmp.Or(prodErr, err)
			mu.Unlock()
		}
	}
	now := time.Now()
	var (
		bad error
		evs []schemas.InventoryEvent
	)
	fs.EachRecord(func(rec *kgo.Record) {
		if bad != nil {
			return
		}
		tx, err := r.codec.DecodeTransaction(rec.Value)
		if err != nil {
			bad = fmt.Errorf("the floor decoding %s[%d]@%d: %w", rec.Topic, rec.Partition, rec.Offset, err)
			return
		}
		evs = floorEvents(evs[:0], &tx, now)
		for leg := range evs {
			ev := &evs[leg]
			v, err := r.codec.AppendInventoryEvent(nil, ev)
			if err != nil {
				bad = fmt.Errorf("the floor encoding the event of %s leg %d: %w", tx.TransactionID, leg, err)
				return
			}
			r.gs.Produce(ctx, &kgo.Record{Topic: r.out, Partition: rec.Partition, Key: rec.Key, Value: v}, promise)
		}
	})
	try := kgo.TryCommit
	if bad != nil {
		try = kgo.TryAbort
	} else if err := r.gs.Client().Flush(ctx); err != nil {
		return fmt.Errorf("the floor flushing: %w", err)
	}
	mu.Lock()
	if prodErr != nil {
		try = kgo.TryAbort
	}
	mu.Unlock()
	if _, err := r.gs.End(ctx, try); err != nil {
		return fmt.Errorf("the floor ending its transaction: %w", err)
	}
	// An aborted poll is read again from the committed offsets; a record
	// that cannot be decoded would be forever, so it ends the run.
	return bad
}

var floorEventTypes = map[schemas.TransactionType]schemas.EventType{
	schemas.TxReceipt: schemas.EventInventoryReceipt, schemas.TxPick: schemas.EventInventoryPick,
	schemas.TxMove: schemas.EventInventoryMove, schemas.TxAdjustment: schemas.EventInventoryAdjustment,
	schemas.TxCycleCount: schemas.EventCycleCount,
}

// floorEvents appends to dst the events invsync would name for tx: one
// per leg, two for a MOVE ("evt-<transactionId>-<leg>"), with the
// transaction's own fields and no computed state.
func floorEvents(dst []schemas.InventoryEvent, tx *schemas.Transaction, now time.Time) []schemas.InventoryEvent {
	typ := floorEventTypes[tx.Type]
	legs := 1
	if tx.Type == schemas.TxMove {
		legs = 2
	}
	for i := range legs {
		ev := schemas.InventoryEvent{
			EventID: "evt-" + tx.TransactionID + "-" + strconv.Itoa(i+1), Timestamp: now, EventType: typ,
			ItemID: tx.ItemID, WarehouseID: tx.WarehouseID, LocationID: tx.LocationID, QuantityChange: tx.Quantity,
			TransactionID: tx.TransactionID, ScannerID: tx.ScannerID, UserID: tx.UserID,
			DeviceTimestamp: tx.DeviceTimestamp, CorrectedTimestamp: tx.CorrectedTimestamp, Principal: tx.Principal,
		}
		if tx.LotNumber != "" {
			ev.LotNumber = &tx.LotNumber
		}
		dst = append(dst, ev)
	}
	return dst
}

// runFloor creates the floor's topics, runs the relay on them, measures
// it as the peer is measured and deletes what it created.
func (r *peerRun) runFloor(ctx context.Context, res *PeerResult, adm *kadm.Client, fail func(error)) (err error) {
	if err := createPeerTopics(ctx, adm, r.topics, int32(r.cfg.Partitions)); err != nil {
		return err
	}
	if !r.cfg.KeepTopics {
		defer deletePeerTopics(adm, r.topics, r.out)
	}
	fmt.Fprintf(r.out, "%s: a stateless exactly-once relay in this process, %d partitions, input %s, output %s\n",
		PeerFloor, r.cfg.Partitions, r.topics.input, r.topics.output)
	rctx, stopRelay := context.WithCancel(ctx)
	rl, err := startRelay(rctx, r.cfg.Brokers, r.topics, r.codec, fail)
	if err != nil {
		stopRelay()
		return err
	}
	defer func() {
		stopRelay()
		if rerr := rl.stop(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	return r.measure(ctx, res, adm)
}

func (c PeerConfig) floorSettings() map[string]string {
	return map[string]string{
		"peer":       "the exactly-once floor: a stateless franz-go relay in the bench's process, one transactional session",
		"cycle":      "invsync's (pipeline.CycleOpts): read_committed, stable offsets, linger until the commit's flush, fetch wait 250 ms, polls of up to " + strconv.Itoa(pipeline.DefaultMaxPollRecords),
		"work":       "per poll: begin, decode each Avro transaction, one Avro event per leg, flush, commit with the offsets; no state, no changelog, no checks",
		"load":       "produced straight to the relay's input topic, as the peer's and the direct run's",
		"mix":        "as the peer's",
		"partitions": strconv.Itoa(c.Partitions),
	}
}

// isTimeout reports whether err is a context's end rather than a failure.
func isTimeout(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}
