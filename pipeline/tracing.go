package pipeline

import (
	"context"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kotel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/invsync/invsync/schemas"
	"github.com/invsync/invsync/telemetry"
)

// tracerName is the instrumentation scope of the pipeline's spans.
const tracerName = "github.com/invsync/invsync/pipeline"

// ProducerTracing is the client option that traces what a client produces
// (franz-go's kotel): each record produced in a sampled trace is a PRODUCER
// span, child of the span in the context given to Produce, and carries that
// span's W3C traceparent in its headers so its consumer continues the
// trace. Pass it to NewProducer (and to any client whose records start a
// downstream trace).
//
// A record produced in a trace that is not sampled gets no span and no
// attributes, only the traceparent of the context's span (flagged not
// sampled, so its consumers decide the same). With a nil or no-op provider
// nothing is traced and an incoming traceparent is passed on unchanged.
func ProducerTracing(tp trace.TracerProvider) kgo.Opt {
	h := producerHooks{}
	switch tp.(type) {
	case nil, noop.TracerProvider:
	default:
		h.kotel = kotel.NewTracer(kotel.TracerProvider(tp), kotel.TracerPropagator(telemetry.Propagator))
	}
	return kgo.WithHooks(h)
}

// producerHooks calls kotel's produce hooks only for a record whose span
// would be recorded: kotel builds the span's attributes and starts it for
// every record, which the unsampled majority of a sampled-at-1 % load
// would pay for nothing.
type producerHooks struct {
	kotel *kotel.Tracer // nil: not tracing
}

var (
	_ kgo.HookProduceRecordBuffered   = producerHooks{}
	_ kgo.HookProduceRecordUnbuffered = producerHooks{}
)

// OnProduceRecordBuffered starts the record's PRODUCER span and writes its
// traceparent when the trace is sampled (or, tracing, when there is no
// trace yet: the sampler decides the root); otherwise it writes the
// context's traceparent, if any.
func (h producerHooks) OnProduceRecordBuffered(r *kgo.Record) {
	sc := trace.SpanContextFromContext(r.Context)
	if h.kotel != nil && (sc.IsSampled() || !sc.IsValid()) {
		h.kotel.OnProduceRecordBuffered(r)
		return
	}
	if sc.IsValid() {
		telemetry.Propagator.Inject(r.Context, kotel.NewRecordCarrier(r))
	}
}

// OnProduceRecordUnbuffered ends the record's span. A record that got none
// holds its producer's span, which is not recording (not sampled) and is
// not this hook's to end.
func (h producerHooks) OnProduceRecordUnbuffered(r *kgo.Record, err error) {
	if h.kotel != nil && trace.SpanFromContext(r.Context).IsRecording() {
		h.kotel.OnProduceRecordUnbuffered(r, err)
	}
}

// recordContext is ctx with the trace of rec's traceparent header, if any,
// as its remote parent.
func recordContext(ctx context.Context, rec *kgo.Record) context.Context {
	if len(rec.Headers) == 0 {
		return ctx // nothing to extract: no carrier built
	}
	return telemetry.Propagator.Extract(ctx, kotel.NewRecordCarrier(rec))
}

// inject writes the traceparent of the span in ctx into rec's headers (a
// no-op when ctx holds no valid span context).
func inject(ctx context.Context, rec *kgo.Record) {
	if trace.SpanContextFromContext(ctx).IsValid() {
		telemetry.Propagator.Inject(ctx, kotel.NewRecordCarrier(rec))
	}
}

// processKind is the only start option of a process span: its attributes
// are set once it is known to be recorded, so an unsampled or untraced
// record costs no attribute building.
var processKind = trace.WithSpanKind(trace.SpanKindConsumer)

// startProcess starts the CONSUMER span of applying one input record: a
// child of the record's producing span, in the uploader's trace.
func (s *session) startProcess(ctx context.Context, rec *kgo.Record) (context.Context, trace.Span) {
	name, ok := s.processNames[rec.Topic]
	if !ok {
		name = "process " + rec.Topic
	}
	ctx, span := s.tracer.Start(recordContext(ctx, rec), name, processKind)
	if span.IsRecording() {
		span.SetAttributes(
			semconv.MessagingSystemKafka,
			semconv.MessagingOperationTypeProcess,
			semconv.MessagingOperationName("process"),
			semconv.MessagingDestinationName(rec.Topic),
			semconv.MessagingDestinationPartitionID(strconv.Itoa(int(rec.Partition))),
			semconv.MessagingKafkaOffset(int(rec.Offset)),
			semconv.MessagingConsumerGroupName(s.cfg.Group),
		)
	}
	return ctx, span
}

// processSpanNames names the process span of each input topic once.
func processSpanNames(t schemas.Topics) map[string]string {
	names := map[string]string{}
	for _, topic := range []string{t.Transactions, t.AllocationRequests, t.Commands} {
		names[topic] = "process " + topic
	}
	return names
}

// endProcess ends a process span, marking it failed when err is set.
func endProcess(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// spanLinks collects the span contexts of the inputs a Kafka transaction
// commits, for the commit span's links. Safe for concurrent use (the
// partitions of a poll apply in parallel).
type spanLinks struct {
	mu    sync.Mutex
	links []trace.Link
}

// add keeps ctx's span context when it is sampled: a link to a span that
// was not recorded points nowhere.
func (l *spanLinks) add(ctx context.Context) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsSampled() {
		return
	}
	l.mu.Lock()
	l.links = append(l.links, trace.Link{SpanContext: sc})
	l.mu.Unlock()
}

func (l *spanLinks) all() []trace.Link {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.links
}

// startCommit starts the span of a poll's Kafka transaction commit. One
// commit serves many traces, so it is a root of its own, linked to the
// process span of every transaction it commits (the messaging
// conventions' batch shape).
func (s *session) startCommit(ctx context.Context, w *txWork) (context.Context, trace.Span) {
	links := w.links.all()
	return s.tracer.Start(ctx, "commit "+s.cfg.Topics.Transactions,
		trace.WithNewRoot(),
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithLinks(links...),
		trace.WithAttributes(
			semconv.MessagingSystemKafka,
			semconv.MessagingOperationTypeSettle,
			semconv.MessagingOperationName("commit"),
			semconv.MessagingConsumerGroupName(s.cfg.Group),
			semconv.MessagingBatchMessageCount(len(links)),
			attribute.Int("invsync.partitions", len(w.batches)),
		))
}
