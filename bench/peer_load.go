package bench

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
)

// newPeerProducer returns the client that writes the load to the peer's
// input topic with the ingest producer's settings (pipeline.NewProducer):
// acks=all, idempotent, linger 1 ms, batches up to 1 MiB, franz-go's
// default snappy compression and sticky-key murmur2 partitioning, which
// is Kafka's default partitioner, the one the peer's own producer uses.
func newPeerProducer(brokers []string, topic string) (*kgo.Client, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(time.Millisecond),
		kgo.ProducerBatchMaxBytes(1<<20),
		kgo.RecordDeliveryTimeout(30*time.Second),
	)
	if err != nil {
		return nil, fmt.Errorf("creating the peer's load producer: %w", err)
	}
	return cl, nil
}

// peerWire converts a generated transaction into the record ingest would
// write for it: scanner clock taken as right (corrected = device time),
// received when produced, the body hash over the transaction's fields.
func peerWire(t *scanTx, scanner string, now time.Time) schemas.Transaction {
	w := schemas.Transaction{
		TransactionID: t.ID, Type: schemas.TransactionType(t.Type), WarehouseID: t.Warehouse,
		ItemID: t.Item, LocationID: t.Location, LotNumber: t.Lot, Quantity: t.Quantity,
		UserID: t.User, ScannerID: scanner, DeviceTimestamp: t.Timestamp,
		CorrectedTimestamp: t.Timestamp, SentAt: now, ReceivedAt: now,
	}
	if t.ToLocation != "" {
		w.ToLocationID = &t.ToLocation
	}
	h := sha256.New()
	for _, s := range []string{t.ID, string(t.Type), t.Warehouse, t.Item, t.Location, t.Lot, t.ToLocation, t.User, strconv.FormatInt(t.Quantity, 10)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	w.BodyHash = h.Sum(nil)
	return w
}

// send produces txs, one record each, keyed by stock key. It returns once
// they are buffered; the phase's request stays in flight until every
// record is acknowledged. An acknowledged record counts as accepted, a
// failed one as failed (open loop: no retry).
func (r *peerRun) send(ctx context.Context, p *phase, txs []scanTx, scanner string) {
	p.inflight.Add(1)
	p.sentTx.Add(int64(len(txs)))
	pending := new(atomic.Int32)
	pending.Store(int32(len(txs)))
	done := func(err error) {
		if err != nil {
			p.failedTx.Add(1)
			p.noteErr("producing to %s: %v", r.topics.input, err)
		} else {
			p.acceptedTx.Add(1)
		}
		if pending.Add(-1) == 0 {
			p.inflight.Add(-1)
		}
	}
	now := time.Now()
	for i := range txs {
		t := &txs[i]
		w := peerWire(t, scanner, now)
		v, err := r.codec.AppendTransaction(nil, &w)
		if err != nil {
			done(fmt.Errorf("encoding %s: %w", t.ID, err))
			continue
		}
		rec := &kgo.Record{Key: []byte(processors.StockKey(t.Warehouse, t.Item)), Value: v}
		r.prod.Produce(ctx, rec, func(_ *kgo.Record, err error) { done(err) })
	}
}

// peerMixed appends one transaction of invsync's mix (workload.mixed)
// without CYCLE_COUNT, which the peer does not do: a count is redrawn from
// the same generator, so the other types keep their proportions.
func peerMixed(w *workload, dst []scanTx, rng *rand.Rand, phase, seq int, at time.Time, user string) []scanTx {
	for {
		dst = w.mixed(dst, rng, phase, seq, at, user)
		if dst[len(dst)-1].Type != processors.CycleCount {
			return dst
		}
		dst = dst[:len(dst)-1]
	}
}

// preload produces one RECEIPT per stock record as fast as the producer
// takes them, in sends of maxUpload, and waits for every event: the same
// records and quantities as Run's preload.
func (r *peerRun) preload(ctx context.Context) (Preload, error) {
	b := r.b
	p, n, nReq := b.preloadPhase()
	t0 := time.Now()
	stop := everySecond(func() { b.progressLine("preload", p, int64(n)) })
	var txs []scanTx
	for req := range nReq {
		txs = p.gen(txs[:0], req, time.Now())
		r.send(ctx, p, txs, "BENCH-PRELOAD-01")
	}
	var err error
	if !b.drain(ctx, p, 2*time.Minute+time.Duration(n)*time.Millisecond, "preload") {
		err = fmt.Errorf("preload: %d of %d RECEIPTs applied after the timeout (%s)", p.seenTx.Load(), n, p.error())
	}
	stop()
	d := time.Since(t0)
	pre := Preload{Records: n, Requests: nReq, Seconds: d.Seconds(), TPS: float64(p.seenTx.Load()) / d.Seconds()}
	if err == nil && p.failedTx.Load() > 0 {
		err = fmt.Errorf("preload: %d RECEIPTs not produced (%s)", p.failedTx.Load(), p.error())
	}
	fmt.Fprintf(b.out, "[%6.1fs] preload: %d RECEIPTs applied in %.1f s (%.0f tx/s)\n",
		time.Duration(b.now()).Seconds(), p.seenTx.Load(), pre.Seconds, pre.TPS)
	return pre, err
}
