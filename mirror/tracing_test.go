package mirror

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kotel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/telemetry"
)

// TestApplyContinuesEventTrace: an event with a traceparent is applied in
// a CONSUMER span that is a child of the event's producer, one per
// producing transaction, and both latency histograms count every event,
// their exemplars naming the event's trace.
func TestApplyContinuesEventTrace(t *testing.T) {
	k := newTestKafka(t, 1, false)
	w := newWorld(k, 7, 1, 1, 3, 1)
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	// Two transactions' traces with two events each, and one event
	// without a traceparent (counted, not traced).
	parents := make([]trace.SpanContext, 2)
	var recs []*kgo.Record
	scanned := time.Now().Add(-10 * time.Minute).Truncate(time.Millisecond)
	for i := range parents {
		parents[i] = trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{byte(i + 1), 0xaa}, SpanID: trace.SpanID{byte(i + 1), 0xbb}, TraceFlags: trace.FlagsSampled, Remote: true})
		for range 2 {
			e := w.nextEvent()
			e.EventID = fmt.Sprintf("evt-traced-%d-%d", i, len(recs))
			e.CorrectedTimestamp = scanned
			r := w.eventRecord(e)
			telemetry.Propagator.Inject(trace.ContextWithSpanContext(context.Background(), parents[i]), kotel.NewRecordCarrier(r))
			recs = append(recs, r)
		}
	}
	e := w.nextEvent()
	e.CorrectedTimestamp = scanned
	recs = append(recs, w.eventRecord(e))
	produceTx(t, k.producer(t), recs, true)

	m, _ := startMirror(t, Config{Brokers: k.brokers, TopicPrefix: k.prefix, SQLURL: newSQLiteDB(t).url,
		Logger: testLogger(t), Meter: mp.Meter("test"), TracerProvider: tp})
	waitCaughtUp(t, m, 60*time.Second)
	var applies []sdktrace.ReadOnlySpan
	testkit.Eventually(t, 10*time.Second, func() error {
		applies = applies[:0]
		for _, s := range spans.Ended() {
			if s.Name() == "apply "+k.topics.InventoryEvents {
				applies = append(applies, s)
			}
		}
		if len(applies) < len(parents) {
			return fmt.Errorf("%d apply spans, want %d", len(applies), len(parents))
		}
		return nil
	})
	if len(applies) != len(parents) {
		t.Fatalf("%d apply spans, want one per producing transaction (%d)", len(applies), len(parents))
	}
	for _, p := range parents {
		found := false
		for _, s := range applies {
			if s.Parent().SpanID() == p.SpanID() && s.SpanContext().TraceID() == p.TraceID() {
				found = true
				if s.SpanKind() != trace.SpanKindConsumer {
					t.Errorf("apply span kind %v", s.SpanKind())
				}
			}
		}
		if !found {
			t.Errorf("no apply span is a child of %s/%s", p.TraceID(), p.SpanID())
		}
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"invsync.mirror.event_to_row", "invsync.mirror.scan_to_row"} {
		var h *metricdata.Histogram[float64]
		for _, sm := range rm.ScopeMetrics {
			for _, x := range sm.Metrics {
				if d, ok := x.Data.(metricdata.Histogram[float64]); ok && x.Name == name {
					h = &d
				}
			}
		}
		if h == nil {
			t.Fatalf("%s not recorded", name)
		}
		var count uint64
		exemplars := 0
		for _, dp := range h.DataPoints {
			count += dp.Count
			for _, ex := range dp.Exemplars {
				exemplars++
				if ex.TraceID[1] != 0xaa {
					t.Errorf("%s exemplar trace %x is not an event's trace", name, ex.TraceID)
				}
			}
			if name == "invsync.mirror.scan_to_row" {
				if v, ok := dp.Min.Value(); !ok || v < 600 {
					t.Errorf("scan_to_row min %.1f s; the scans were 10 minutes old", v)
				}
			}
		}
		if count != uint64(len(recs)) {
			t.Errorf("%s count %d, want %d", name, count, len(recs))
		}
		if exemplars == 0 {
			t.Errorf("%s has no exemplar", name)
		}
	}
}
