package ingest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/invsync/invsync/ingest"
	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/telemetry"
)

// spanPublisher is the fake publisher that also keeps the span context
// each Produce was called with.
type spanPublisher struct {
	*fakePublisher
	mu  sync.Mutex
	got []trace.SpanContext
}

func (p *spanPublisher) Produce(ctx context.Context, txs []processors.Transaction) []error {
	p.mu.Lock()
	p.got = append(p.got, trace.SpanContextFromContext(ctx))
	p.mu.Unlock()
	return p.fakePublisher.Produce(ctx, txs)
}

func TestUploadContinuesIncomingTrace(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	pub := &spanPublisher{fakePublisher: newFakePublisher()}
	h := newHarness(t, func(c *ingest.Config) {
		c.TracerProvider = tp
		c.Publisher = pub
	})
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	send := func(traceparent string) int {
		var header []string
		if traceparent != "" {
			header = []string{"traceparent", traceparent}
		}
		return request(t, h.url, testAdminToken, http.MethodPost, "/v1/transactions", encode(t, envelope(tx("tr-1"), tx("tr-2", "quantity", -1))), header...).status
	}
	if code := send("00-" + traceID + "-" + parentID + "-01"); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}

	var server, validate sdktrace.ReadOnlySpan
	for _, s := range spans.Ended() {
		switch s.Name() {
		case "POST /v1/transactions":
			server = s
		case "validate":
			validate = s
		}
	}
	if server == nil || validate == nil {
		t.Fatalf("spans ended: %d, server %v validate %v", len(spans.Ended()), server != nil, validate != nil)
	}
	if server.SpanKind() != trace.SpanKindServer || server.SpanContext().TraceID().String() != traceID ||
		server.Parent().SpanID().String() != parentID || !server.Parent().IsRemote() {
		t.Errorf("server span kind %v trace %s parent %s: does not continue the incoming traceparent",
			server.SpanKind(), server.SpanContext().TraceID(), server.Parent().SpanID())
	}
	attrs := map[string]string{}
	for _, kv := range server.Attributes() {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	for k, want := range map[string]string{"http.request.method": "POST", "http.route": "/v1/transactions", "http.response.status_code": "200"} {
		if attrs[k] != want {
			t.Errorf("server span %s = %q, want %q", k, attrs[k], want)
		}
	}
	if validate.Parent().SpanID() != server.SpanContext().SpanID() {
		t.Error("validate is not a child of the server span")
	}
	pub.mu.Lock()
	got := pub.got
	pub.mu.Unlock()
	if len(got) != 1 || got[0].SpanID() != server.SpanContext().SpanID() {
		t.Fatalf("Produce called with span contexts %v, want the server span %s", got, server.SpanContext().SpanID())
	}

	// Without a traceparent the request starts its own trace.
	spans2 := len(spans.Ended())
	if code := send(""); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	for _, s := range spans.Ended()[spans2:] {
		if s.Name() == "POST /v1/transactions" && (s.Parent().IsValid() || s.SpanContext().TraceID().String() == traceID) {
			t.Errorf("a request without traceparent continued a trace: parent %v", s.Parent())
		}
	}
}

// TestDeviceTraceparentUnderRatio: under parentbased_traceidratio=0 a
// device's upload, marked sampled, is not recorded, yet its trace goes on
// to the produce (flagged not sampled), so downstream decides the same.
func TestDeviceTraceparentUnderRatio(t *testing.T) {
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer collector.Close()
	env := map[string]string{telemetry.EnvEndpoint: collector.URL, telemetry.EnvSampler: "parentbased_traceidratio", telemetry.EnvSamplerArg: "0"}
	tr, err := telemetry.NewTracing(context.Background(), telemetry.Config{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	pub := &spanPublisher{fakePublisher: newFakePublisher()}
	h := newHarness(t, func(c *ingest.Config) {
		c.TracerProvider = tr.Provider()
		c.Publisher = pub
	})
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	r := request(t, h.url, testAdminToken, http.MethodPost, "/v1/transactions", encode(t, envelope(tx("tr-1"))), "traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	if r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	pub.mu.Lock()
	got := pub.got
	pub.mu.Unlock()
	if len(got) != 1 || got[0].TraceID().String() != traceID || got[0].IsSampled() {
		t.Fatalf("Produce called with span contexts %v; want one in trace %s, not sampled", got, traceID)
	}
}
