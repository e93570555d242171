package pipeline

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kotel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/telemetry"
)

// TestTraceFollowsTransactionToEvent: a transaction produced inside a span
// is processed in a CONSUMER span of that same trace (child of its
// PRODUCER span), its event carries the trace's traceparent, the commit
// span links to the processing, and the scan-to-event histogram's
// exemplars name the trace.
func TestTraceFollowsTransactionToEvent(t *testing.T) {
	r := newRig(t)
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	traced, err := NewProducer(r.brokers, r.topics, r.codec, 10*time.Second, ProducerTracing(tp))
	if err != nil {
		t.Fatal(err)
	}
	defer traced.Close()
	r.startWith("a", "", func(c *ProcessingConfig) {
		c.TracerProvider = tp
		c.Meter = mp.Meter("test")
	}, nil)

	const n = 3
	uploads := map[string]trace.SpanContext{} // transactionId -> its upload span
	var txs []processors.Transaction
	for i := range n {
		tx := rigTx("trace", i)
		// Ages in different buckets: a histogram keeps one exemplar per bucket.
		tx.CorrectedTimestamp = time.Now().Add(-[]time.Duration{2 * time.Minute, 10 * time.Minute, 30 * time.Minute}[i])
		ctx, span := tp.Tracer("test").Start(context.Background(), fmt.Sprintf("upload %d", i))
		for _, err := range traced.Produce(ctx, []processors.Transaction{tx}) {
			if err != nil {
				t.Fatal(err)
			}
		}
		span.End()
		uploads[tx.TransactionID] = span.SpanContext()
		txs = append(txs, tx)
	}

	// Each event's traceparent is in its transaction's trace.
	cl := r.committedReader(r.topics.InventoryEvents)
	defer cl.Close()
	eventTrace := map[string]trace.SpanContext{} // transactionId -> the event's parent
	deadline := time.Now().Add(60 * time.Second)
	pollUntil(cl, time.Until(deadline), func(rec *kgo.Record) {
		e, err := r.codec.DecodeInventoryEvent(rec.Value)
		if err != nil {
			t.Errorf("event: %v", err)
			return
		}
		eventTrace[e.TransactionID] = trace.SpanContextFromContext(
			telemetry.Propagator.Extract(context.Background(), kotel.NewRecordCarrier(rec)))
	}, func() bool { return len(eventTrace) >= n })
	if len(eventTrace) != n {
		t.Fatalf("%d of %d events read", len(eventTrace), n)
	}

	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	var commits []sdktrace.ReadOnlySpan
	// The commit span ends after the events are readable: wait for it.
	for time.Now().Before(deadline) {
		commits = commits[:0]
		for _, s := range spans.Ended() {
			byID[s.SpanContext().SpanID()] = s
			if s.Name() == "commit "+r.topics.Transactions {
				commits = append(commits, s)
			}
		}
		if linked(commits) >= n {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, tx := range txs {
		up := uploads[tx.TransactionID]
		ev := eventTrace[tx.TransactionID]
		if ev.TraceID() != up.TraceID() {
			t.Fatalf("%s: event traceparent trace %s, upload trace %s", tx.TransactionID, ev.TraceID(), up.TraceID())
		}
		process, ok := byID[ev.SpanID()]
		if !ok {
			t.Fatalf("%s: the event's parent span %s was not recorded", tx.TransactionID, ev.SpanID())
		}
		if process.SpanKind() != trace.SpanKindConsumer || process.Name() != "process "+r.topics.Transactions {
			t.Errorf("%s: event's parent is %q kind %v, want the CONSUMER process span", tx.TransactionID, process.Name(), process.SpanKind())
		}
		produce, ok := byID[process.Parent().SpanID()]
		if !ok || produce.SpanKind() != trace.SpanKindProducer || produce.Parent().SpanID() != up.SpanID() {
			t.Fatalf("%s: process span's parent is not a PRODUCER span under the upload (found %v)", tx.TransactionID, ok)
		}
		found := false
		for _, c := range commits {
			for _, l := range c.Links() {
				found = found || l.SpanContext.SpanID() == process.SpanContext().SpanID()
			}
		}
		if !found {
			t.Errorf("%s: no commit span links to its process span", tx.TransactionID)
		}
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"invsync.scan_to_event", "invsync.upload_to_event"} {
		h := findHistogram(rm, name)
		if h == nil {
			t.Fatalf("%s not recorded", name)
		}
		var count uint64
		traces := map[string]bool{}
		for _, dp := range h.DataPoints {
			count += dp.Count
			for _, ex := range dp.Exemplars {
				traces[fmt.Sprintf("%x", ex.TraceID)] = true
			}
			if name == "invsync.scan_to_event" {
				if v, ok := dp.Min.Value(); !ok || v < 60 {
					t.Errorf("scan_to_event min %.1f s; the scans were at least a minute old", v)
				}
			}
		}
		if count != n {
			t.Errorf("%s count %d, want %d", name, count, n)
		}
		ours := map[string]bool{}
		for _, tx := range txs {
			id := uploads[tx.TransactionID].TraceID().String()
			ours[id] = true
			if name == "invsync.scan_to_event" && !traces[id] {
				t.Errorf("%s: no exemplar with trace %s (%s); have %v", name, id, tx.TransactionID, traces)
			}
		}
		if len(traces) == 0 {
			t.Errorf("%s: no exemplars", name)
		}
		for id := range traces {
			if !ours[id] {
				t.Errorf("%s: exemplar trace %s is not a transaction's upload trace", name, id)
			}
		}
	}
}

func linked(commits []sdktrace.ReadOnlySpan) int {
	n := 0
	for _, c := range commits {
		n += len(c.Links())
	}
	return n
}

func findHistogram(rm metricdata.ResourceMetrics, name string) *metricdata.Histogram[float64] {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				if h, ok := m.Data.(metricdata.Histogram[float64]); ok {
					return &h
				}
			}
		}
	}
	return nil
}

// TestProducerTracingUnsampled: a record produced in a sampled trace gets a
// PRODUCER span and its traceparent; one in a trace that is not sampled
// gets no span, only the trace's traceparent flagged not sampled; with no
// tracing an incoming traceparent is passed on and a record outside any
// trace gets no header.
func TestProducerTracingUnsampled(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())))
	tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	sid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	in := func(flags trace.TraceFlags) context.Context {
		return trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: tid, SpanID: sid, TraceFlags: flags}))
	}
	produce := func(opt kgo.Opt, ctx context.Context) (string, int) {
		t.Helper()
		before := len(spans.Ended())
		hooks := hooksOf(t, opt)
		rec := &kgo.Record{Topic: "t", Context: ctx}
		hooks.OnProduceRecordBuffered(rec)
		hooks.OnProduceRecordUnbuffered(rec, nil)
		var tp string
		for _, h := range rec.Headers {
			if h.Key == "traceparent" {
				tp = string(h.Value)
			}
		}
		return tp, len(spans.Ended()) - before
	}

	tp1, n := produce(ProducerTracing(tp), in(trace.FlagsSampled))
	if n != 1 || !strings.HasPrefix(tp1, "00-0af7651916cd43dd8448eb211c80319c-") || strings.Contains(tp1, "b7ad6b7169203331") || !strings.HasSuffix(tp1, "-01") {
		t.Errorf("sampled: %d spans, traceparent %q; want 1 PRODUCER span whose id is in a sampled traceparent", n, tp1)
	}
	if s := spans.Ended()[len(spans.Ended())-1]; s.SpanKind() != trace.SpanKindProducer || s.Parent().SpanID() != sid {
		t.Errorf("sampled: span %q kind %v parent %s", s.Name(), s.SpanKind(), s.Parent().SpanID())
	}
	if tp0, n := produce(ProducerTracing(tp), in(0)); n != 0 || tp0 != "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00" {
		t.Errorf("not sampled: %d spans, traceparent %q; want none and the context's, not sampled", n, tp0)
	}
	if off, _ := produce(ProducerTracing(nil), in(trace.FlagsSampled)); off != "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" {
		t.Errorf("no tracing: traceparent %q; want the incoming one unchanged", off)
	}
	if off, _ := produce(ProducerTracing(nil), context.Background()); off != "" {
		t.Errorf("no tracing, no trace: traceparent %q; want none", off)
	}
}

// producerHookSet is what ProducerTracing installs.
type producerHookSet interface {
	kgo.HookProduceRecordBuffered
	kgo.HookProduceRecordUnbuffered
}

// hooksOf builds a client with opt and returns its produce hooks.
func hooksOf(t *testing.T, opt kgo.Opt) producerHookSet {
	t.Helper()
	cl, err := kgo.NewClient(opt, kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, h := range cl.OptValues(kgo.WithHooks)[0].([]kgo.Hook) {
		if p, ok := h.(producerHookSet); ok {
			return p
		}
	}
	t.Fatal("no produce hooks installed")
	return nil
}

// BenchmarkProduceHooks: what the produce hooks cost one record, with
// tracing off, in an unsampled trace and in a sampled one; "kotel" is
// franz-go's hooks alone on an unsampled trace, for comparison.
func BenchmarkProduceHooks(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())))
	defer tp.Shutdown(context.Background())
	tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	sid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	in := func(flags trace.TraceFlags) context.Context {
		return trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: tid, SpanID: sid, TraceFlags: flags}))
	}
	kotelOnly := kotel.NewTracer(kotel.TracerProvider(tp), kotel.TracerPropagator(telemetry.Propagator))
	for _, c := range []struct {
		name  string
		hooks producerHookSet
		ctx   context.Context
	}{
		{"off", producerHooks{}, context.Background()},
		{"unsampled", producerHooks{kotel: kotelOnly}, in(0)},
		{"sampled", producerHooks{kotel: kotelOnly}, in(trace.FlagsSampled)},
		{"kotel-unsampled", kotelOnly, in(0)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rec := &kgo.Record{Topic: "invsync.transactions", Key: []byte("WH-001|ITEM|LOC"), Context: c.ctx}
				c.hooks.OnProduceRecordBuffered(rec)
				c.hooks.OnProduceRecordUnbuffered(rec, nil)
			}
		})
	}
}
