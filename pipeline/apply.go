package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/state"
)

// applyRecord applies one input record to its partition's batch and queues
// what it produces. An error means the batch cannot be trusted and the
// transaction is aborted; a record that cannot be decoded is not an error:
// it goes to the dead-letter topic and processing goes on.
func (s *session) applyRecord(ctx context.Context, w *txWork, b *state.Batch, part int32, rec *kgo.Record, buf *[]byte) error {
	switch {
	case rec.Topic == s.cfg.Topics.AllocationRequests:
		return processInput(ctx, s, w, part, rec, s.cfg.Codec.DecodeAllocationRequest, AllocRequestFromWire, checkAllocRequest,
			func(ctx context.Context, req *processors.AllocRequest) error {
				return s.applyAllocRequest(ctx, w, b, part, req)
			})
	case rec.Topic == s.cfg.Topics.Commands:
		return processInput(ctx, s, w, part, rec, s.cfg.Codec.DecodeCommand, CommandFromWire, checkCommand,
			func(ctx context.Context, cmd *processors.Command) error { return s.applyCommand(ctx, w, b, part, cmd) })
	case isTick(rec):
		return nil // only wakes the partition's timers (timers.go)
	default:
		return processInput(ctx, s, w, part, rec, s.cfg.Codec.DecodeTransaction, FromWire, nil,
			func(ctx context.Context, tx *processors.Transaction) error {
				return s.applyTransaction(ctx, w, b, part, tx, buf)
			})
	}
}

func (s *session) applyAllocRequest(ctx context.Context, w *txWork, b *state.Batch, part int32, req *processors.AllocRequest) error {
	res, err := s.cfg.Processor.Allocate(b, req, w.now)
	if err != nil {
		return err
	}
	if res.Duplicate || res.Unknown {
		if res.Mismatch {
			s.log.Warn("allocation request reuses an allocationId with a different body; ignored", "allocation", req.AllocationID)
			return nil
		}
		if res.Duplicate {
			// A request sent again (a client retrying across a restart)
			// is answered with the allocation as it stands, as a resent
			// transaction is with its outcome: whoever waits for it to
			// be decided may have subscribed only after the first
			// request's decision was published. Nothing is produced.
			w.resMu.Lock()
			w.decisions = append(w.decisions, res.Allocation)
			w.resMu.Unlock()
		}
		return nil
	}
	if err := s.emitEvents(ctx, w, part, res.Events, nil); err != nil {
		return err
	}
	return w.decide(ctx, part, res.Decisions)
}

// applyCommand applies a command (a report piece, a discrepancy change, a
// decision on a held count) and queues what it publishes.
func (s *session) applyCommand(ctx context.Context, w *txWork, b *state.Batch, part int32, cmd *processors.Command) error {
	res, err := s.cfg.Processor.Command(b, cmd, w.now)
	if err != nil {
		return err
	}
	w.resMu.Lock()
	w.commands = append(w.commands, res)
	if res.Outcome != nil && !res.Duplicate {
		w.outcomes = append(w.outcomes, *res.Outcome)
	}
	w.resMu.Unlock()
	if res.Duplicate {
		return nil
	}
	if err := s.emitEvents(ctx, w, part, res.Events, nil); err != nil {
		return err
	}
	return w.publishReconciliation(ctx, part, res.Discrepancies, res.CountTasks)
}

// checkCommand validates what arrives on the commands topic.
func checkCommand(c *processors.Command) string {
	switch {
	case c.CommandID == "" || c.WarehouseID == "":
		return "commandId and warehouseId are required"
	case c.Kind == processors.CommandReportPiece && (c.Report == nil || c.Report.PieceID != c.CommandID):
		return "a REPORT_PIECE command carries a report piece whose pieceId is the commandId"
	case c.Kind == processors.CommandDiscrepancyUpdate && (c.Discrepancy == nil || c.Discrepancy.DiscrepancyID == ""):
		return "a DISCREPANCY_UPDATE command carries a discrepancyId"
	case c.Kind == processors.CommandCountDecision && (c.Count == nil || c.Count.TransactionID == ""):
		return "a COUNT_DECISION command carries a transactionId"
	}
	return ""
}

// emitEvents produces events on the events topic's partition part, keyed
// by stock key; buf is reused between encodings (nil allocates). Each
// carries the traceparent of the span in ctx: the transaction that caused
// it.
func (s *session) emitEvents(ctx context.Context, w *txWork, part int32, events []processors.Event, buf *[]byte) error {
	if buf == nil {
		buf = new([]byte)
	}
	for i := range events {
		we := EventToWire(&events[i])
		var err error
		*buf, err = s.cfg.Codec.AppendInventoryEvent((*buf)[:0], &we)
		if err != nil {
			return fmt.Errorf("encoding event %s: %w", we.EventID, err)
		}
		key := processors.StockKey(events[i].WarehouseID, events[i].ItemID)
		// The record's key and value share one allocation.
		kv := make([]byte, len(key)+len(*buf))
		copy(kv, key)
		copy(kv[len(key):], *buf)
		rec := &kgo.Record{Topic: s.cfg.Topics.InventoryEvents, Partition: part, Key: kv[:len(key):len(key)], Value: kv[len(key):]}
		inject(ctx, rec)
		w.produce(ctx, rec)
	}
	return nil
}

func (s *session) applyTransaction(ctx context.Context, w *txWork, b *state.Batch, part int32, tx *processors.Transaction, buf *[]byte) error {
	res, err := s.cfg.Processor.Apply(b, tx, w.now)
	if err != nil {
		return err
	}
	w.resMu.Lock()
	w.outcomes = append(w.outcomes, res.Outcome)
	if !res.Duplicate {
		w.applied = append(w.applied, appliedTx{typ: tx.Type, status: res.Outcome.Status, code: res.Outcome.Code, received: tx.ReceivedAt,
			scanned: tx.CorrectedTimestamp, events: len(res.Events) > 0, span: trace.SpanContextFromContext(ctx)})
	}
	w.resMu.Unlock()
	if res.Duplicate {
		s.metrics.duplicates.Add(ctx, 1)
		return nil
	}
	if err := s.emitEvents(ctx, w, part, res.Events, buf); err != nil {
		return err
	}
	if err := w.publishReconciliation(ctx, part, res.Discrepancies, res.CountTasks); err != nil {
		return err
	}
	return w.decide(ctx, part, res.Decisions)
}

// processInput applies one input record in its process span, which the
// Kafka transaction that commits it links to: it decodes rec with dec,
// converts it to its domain form with from and, unless check is nil,
// validates it, then hands it to apply with the span's context. A record
// that does not decode or that check refuses (with its reason) goes to the
// dead-letter topic and is not applied: the partition carries on. The span
// ends with apply's error.
func processInput[W, D any](ctx context.Context, s *session, w *txWork, part int32, rec *kgo.Record,
	dec func([]byte) (W, error), from func(*W) D, check func(*D) string,
	apply func(ctx context.Context, v *D) error) (err error) {
	ctx, span := s.startProcess(ctx, rec)
	defer func() { endProcess(span, err) }()
	w.links.add(ctx)
	wv, err := dec(rec.Value)
	if err != nil {
		s.deadLetter(ctx, w, part, rec, err)
		return nil
	}
	v := from(&wv)
	if check != nil {
		if msg := check(&v); msg != "" {
			s.deadLetter(ctx, w, part, rec, errors.New(msg))
			return nil
		}
	}
	return apply(ctx, &v)
}

// deadLetter keeps an input record that cannot be applied, verbatim, with
// the reason and its origin in headers, in the same transaction.
func (s *session) deadLetter(ctx context.Context, w *txWork, part int32, rec *kgo.Record, err error) {
	s.log.Error("undecodable input record sent to the dead-letter topic", "topic", rec.Topic, "partition", part, "offset", rec.Offset, "err", err)
	s.metrics.deadLetter.Add(ctx, 1)
	w.produce(ctx, &kgo.Record{Topic: s.cfg.Topics.DeadLetter, Partition: part, Key: rec.Key, Value: rec.Value,
		Headers: []kgo.RecordHeader{{Key: "error", Value: []byte(err.Error())},
			{Key: "source", Value: []byte(fmt.Sprintf("%s/%d/%d", rec.Topic, rec.Partition, rec.Offset))}}})
}

// checkAllocRequest validates what arrives from the requests topic, which
// the cloud writes directly.
func checkAllocRequest(r *processors.AllocRequest) string {
	if msg := processors.ValidAllocationID("allocationId", r.AllocationID); msg != "" {
		return msg
	}
	if r.Action == processors.ActionAllocate && r.Quantity <= 0 {
		return fmt.Sprintf("quantity must be > 0, got %d", r.Quantity)
	}
	if r.WarehouseID == "" || r.ItemID == "" {
		return "warehouseId and itemId are required"
	}
	return ""
}
