package mirror

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kotel"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/invsync/invsync/telemetry"
)

// tracerName is the instrumentation scope of the mirror's spans.
const tracerName = "github.com/invsync/invsync/mirror"

// eventTrace is what the mirror measures and traces of one applied event:
// the trace of the transaction that caused it (its traceparent header),
// when it was produced, and the scan's corrected time.
type eventTrace struct {
	parent   trace.SpanContext
	produced time.Time
	scanned  time.Time
}

func newEventTrace(r *kgo.Record, scanned time.Time) eventTrace {
	ctx := telemetry.Propagator.Extract(context.Background(), kotel.NewRecordCarrier(r))
	return eventTrace{parent: trace.SpanContextFromContext(ctx), produced: r.Timestamp, scanned: scanned}
}

// applied traces and measures the events of a batch whose SQL transaction
// ran from start to end: one CONSUMER span per transaction that caused
// events in it, a child of the processing that produced them (so the
// upload's trace ends at the row), and each event's latencies with that
// trace as exemplar.
func (m *Mirror) applied(ctx context.Context, b *batch, start, end time.Time) {
	if len(b.events) == 0 {
		return
	}
	spans := map[trace.SpanID]context.Context{}
	counts := map[trace.SpanID]int{}
	for _, e := range b.events {
		if e.parent.IsValid() {
			counts[e.parent.SpanID()]++
		}
	}
	for _, e := range b.events {
		mctx := ctx
		if e.parent.IsValid() {
			id := e.parent.SpanID()
			sctx, ok := spans[id]
			if !ok {
				var span trace.Span
				sctx, span = m.tracer.Start(trace.ContextWithRemoteSpanContext(ctx, e.parent), "apply "+m.eventsTopic,
					trace.WithSpanKind(trace.SpanKindConsumer), trace.WithTimestamp(start),
					trace.WithAttributes(
						semconv.MessagingSystemKafka,
						semconv.MessagingOperationTypeProcess,
						semconv.MessagingOperationName("apply"),
						semconv.MessagingDestinationName(m.eventsTopic),
						semconv.MessagingBatchMessageCount(counts[id]),
						m.dbSystem,
						attribute.Int("invsync.mirror.batch_records", b.total),
					))
				span.End(trace.WithTimestamp(end))
				spans[id] = sctx
			}
			mctx = sctx
		}
		m.metrics.eventToRow.Record(mctx, max(end.Sub(e.produced).Seconds(), 0))
		if !e.scanned.IsZero() {
			m.metrics.scanToRow.Record(mctx, max(end.Sub(e.scanned).Seconds(), 0))
		}
	}
}
