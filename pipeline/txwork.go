package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/state"
)

// txWork is one Kafka transaction's unit of work: a state batch per
// partition, the produced records' outcome, and what to publish once it
// commits. Partitions apply into it in parallel: batches are created before
// they start and each is used by one goroutine; the rest is guarded.
type txWork struct {
	s       *session
	now     time.Time
	batches map[int32]*state.Batch

	mu      sync.Mutex // guards prodErr and lastOff, written by produce callbacks
	prodErr error
	lastOff map[int32]int64 // partition -> offset of its last changelog record

	resMu     sync.Mutex // guards the four slices below
	outcomes  []processors.Outcome
	decisions []processors.Allocation
	commands  []processors.CommandResult
	applied   []appliedTx

	// links are the process spans of the inputs this transaction commits.
	links spanLinks
}

// appliedTx is what the metrics record of one applied transaction.
type appliedTx struct {
	typ      processors.TxType
	status   string
	code     string
	received time.Time
	// scanned is the corrected device time; events whether it caused
	// any; span its process span (the metrics' exemplar).
	scanned time.Time
	events  bool
	span    trace.SpanContext
}

// begin starts a Kafka transaction.
func (s *session) begin() (*txWork, error) {
	if err := s.gs.Begin(); err != nil {
		return nil, fmt.Errorf("beginning transaction: %w", err)
	}
	return &txWork{s: s, now: s.cfg.Now(), batches: map[int32]*state.Batch{}, lastOff: map[int32]int64{},
		outcomes: make([]processors.Outcome, 0, s.lastSizes.outcomes),
		applied:  make([]appliedTx, 0, s.lastSizes.applied)}, nil
}

// batch returns partition part's batch, creating it.
func (w *txWork) batch(part int32) *state.Batch {
	b, ok := w.batches[part]
	if !ok {
		b = w.s.cfg.Store.NewBatchSized(part, w.s.lastSizes.batch[part])
		w.batches[part] = b
	}
	return b
}

func (w *txWork) discard() {
	for _, b := range w.batches {
		b.Discard()
	}
}

// produce adds r to the transaction; a failure aborts it at commit.
func (w *txWork) produce(ctx context.Context, r *kgo.Record) {
	changelog := w.s.cfg.Topics.Changelog
	w.s.gs.Produce(ctx, r, func(r *kgo.Record, err error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if err != nil {
			if w.prodErr == nil {
				w.prodErr = err
			}
			return
		}
		if r.Topic == changelog && r.Offset > w.lastOff[r.Partition] {
			w.lastOff[r.Partition] = r.Offset
		}
	})
}

// decide produces allocation decisions for partition part.
func (w *txWork) decide(ctx context.Context, part int32, decs []processors.Allocation) error {
	for i := range decs {
		d := DecisionToWire(&decs[i])
		v, err := w.s.cfg.Codec.AppendAllocationDecision(nil, &d)
		if err != nil {
			return fmt.Errorf("encoding decision %s: %w", d.DecisionID, err)
		}
		rec := &kgo.Record{Topic: w.s.cfg.Topics.AllocationDecisions, Partition: part, Key: []byte(d.AllocationID), Value: v}
		inject(ctx, rec) // the request's trace continues to its decision
		w.produce(ctx, rec)
	}
	w.resMu.Lock()
	w.decisions = append(w.decisions, decs...)
	w.resMu.Unlock()
	return nil
}

// publishReconciliation produces changed discrepancies (on partition part
// of the discrepancies topic, keyed by id) and count tasks (on the
// count-tasks topic).
func (w *txWork) publishReconciliation(ctx context.Context, part int32, ds []processors.Discrepancy, tasks []processors.CountTask) error {
	for i := range ds {
		d := DiscrepancyToWire(&ds[i])
		v, err := w.s.cfg.Codec.AppendDiscrepancy(nil, &d)
		if err != nil {
			return fmt.Errorf("encoding discrepancy %s: %w", d.DiscrepancyID, err)
		}
		w.produce(ctx, &kgo.Record{Topic: w.s.cfg.Topics.Discrepancies, Partition: part, Key: []byte(d.DiscrepancyID), Value: v})
	}
	for i := range tasks {
		t := CountTaskToWire(&tasks[i])
		v, err := w.s.cfg.Codec.AppendCountTask(nil, &t)
		if err != nil {
			return fmt.Errorf("encoding count task %s: %w", t.CountTaskID, err)
		}
		w.produce(ctx, &kgo.Record{Topic: w.s.cfg.Topics.CountTasks, Partition: 0, Key: []byte(t.CountTaskID), Value: v})
	}
	return nil
}

// ErrFenced: another producer with this instance's transactional id took
// over (a second process on the same data dir, or this one's successor).
// It ends the session.
var ErrFenced = errors.New("transactional producer fenced")

// commit produces every batch's changelog, ends the Kafka transaction and,
// once committed, writes the batches to the store and publishes results. It
// reports false when the transaction was aborted (its input is read again).
func (s *session) commit(ctx context.Context, w *txWork) (ok bool, err error) {
	ctx, span := s.startCommit(ctx, w)
	defer func() {
		span.SetAttributes(attribute.Bool("invsync.committed", ok))
		endProcess(span, err)
	}()
	// The changelog's records in one allocation: they live until the
	// transaction ends either way.
	n := 0
	for _, b := range w.batches {
		n += len(b.Mutations())
	}
	recs := make([]kgo.Record, 0, n)
	for part, b := range w.batches {
		s.lastSizes.batch[part] = len(b.Mutations())
		for _, m := range b.Mutations() {
			recs = append(recs, kgo.Record{Topic: s.cfg.Topics.Changelog, Partition: part, Key: m.Key, Value: m.Value})
			w.produce(ctx, &recs[len(recs)-1])
		}
	}
	s.lastSizes.outcomes, s.lastSizes.applied = len(w.outcomes), len(w.applied)
	flushed := time.Now()
	if err := s.gs.Client().Flush(ctx); err != nil {
		return false, fmt.Errorf("flushing transaction: %w", err)
	}
	s.metrics.cycle.Record(ctx, time.Since(flushed).Seconds(), phaseFlush)
	w.mu.Lock()
	perr := w.prodErr
	w.mu.Unlock()
	try := kgo.TryCommit
	if perr != nil {
		if fenced(perr) {
			s.abort(ctx)
			return false, fmt.Errorf("%w: %w", ErrFenced, perr)
		}
		s.log.Warn("a produce in the transaction failed; aborting it", "err", perr)
		try = kgo.TryAbort
	}
	ended := time.Now()
	committed, err := s.gs.End(ctx, try)
	s.metrics.cycle.Record(ctx, time.Since(ended).Seconds(), phaseEnd)
	if err != nil || !committed {
		s.metrics.aborts.Add(ctx, 1)
		if err != nil {
			return false, fmt.Errorf("ending transaction: %w", err)
		}
		s.log.Info("transaction aborted (rebalance or produce failure); input will be reprocessed")
		return false, nil
	}
	if err := s.writeCommitted(w); err != nil {
		return false, err
	}
	s.publish(ctx, w, time.Now())
	return true, nil
}

// writeCommitted writes each partition's batch to the store with the
// changelog offset past its last record: the state never runs ahead of
// what Kafka committed.
func (s *session) writeCommitted(w *txWork) error {
	for part, b := range w.batches {
		if b.Empty() {
			continue
		}
		off, ok := w.lastOff[part]
		if !ok {
			return fmt.Errorf("partition %d: changelog offsets missing after commit", part)
		}
		if err := b.Commit(off + 1); err != nil {
			// Kafka has the change; local state catches up from the
			// changelog when the session restarts.
			return err
		}
	}
	return nil
}

// publish records the metrics of a transaction committed at committed and
// hands its outcomes and decisions to whoever waits for them.
func (s *session) publish(ctx context.Context, w *txWork, committed time.Time) {
	for _, a := range w.applied {
		s.metrics.applied.Add(ctx, 1, s.appliedAttrsOf(appliedKind{a.typ, a.status, a.code}))
		s.metrics.latency.Record(ctx, committed.Sub(a.received).Seconds())
		if a.events {
			// The exemplar is the transaction's own trace, not the
			// commit's; an unsampled trace makes none, so it costs no
			// context.
			tctx := ctx
			if a.span.IsSampled() {
				tctx = trace.ContextWithSpanContext(ctx, a.span)
			}
			s.metrics.uploadToEvent.Record(tctx, committed.Sub(a.received).Seconds())
			if !a.scanned.IsZero() {
				s.metrics.scanToEvent.Record(tctx, max(committed.Sub(a.scanned).Seconds(), 0))
			}
		}
	}
	s.cfg.Notifier.Publish(w.outcomes)
	if s.cfg.Decisions != nil {
		s.cfg.Decisions.Publish(w.decisions)
	}
	if s.cfg.Commands != nil {
		s.cfg.Commands.Publish(w.commands)
	}
}

// appliedKind is what the applied-transactions metric is broken down by.
type appliedKind struct {
	typ          processors.TxType
	status, code string
}

// maxAppliedKinds bounds the attributes publish keeps: types, statuses and
// codes are closed sets, far smaller.
const maxAppliedKinds = 1024

// appliedAttrsOf returns the metric attributes of transactions of kind k.
// Building an attribute set sorts and hashes it; once per kind, not per
// transaction.
func (s *session) appliedAttrsOf(k appliedKind) metric.AddOption {
	if o, ok := s.appliedAttrs[k]; ok {
		return o
	}
	o := metric.WithAttributes(attribute.String("type", string(k.typ)),
		attribute.String("status", k.status), attribute.String("code", k.code))
	if s.appliedAttrs == nil {
		s.appliedAttrs = map[appliedKind]metric.AddOption{}
	}
	if len(s.appliedAttrs) < maxAppliedKinds {
		s.appliedAttrs[k] = o
	}
	return o
}

// abort ends the transaction without committing it.
func (s *session) abort(ctx context.Context) {
	if _, err := s.gs.End(ctx, kgo.TryAbort); err != nil {
		s.log.Warn("aborting transaction", "err", err)
	}
	s.metrics.aborts.Add(ctx, 1)
}

// fenced reports whether err means this producer can never commit again.
func fenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed)
}
