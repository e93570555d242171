package telemetry

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestNoEndpointIsNoOp(t *testing.T) {
	tr, err := NewTracing(context.Background(), Config{Getenv: envOf(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Exporting() {
		t.Fatal("exporting with no endpoint set")
	}
	_, span := tr.Provider().Tracer("t").Start(context.Background(), "x")
	if span.IsRecording() || span.SpanContext().IsValid() {
		t.Fatalf("a root span with no endpoint is recording=%v valid=%v; want a no-op", span.IsRecording(), span.SpanContext().IsValid())
	}
	// An incoming traceparent is still passed on, so logs and downstream
	// records keep the device's trace.
	parent := Propagator.Extract(context.Background(), propagation.MapCarrier{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
	ctx, span := tr.Provider().Tracer("t").Start(parent, "y")
	if got := span.SpanContext().TraceID().String(); got != "0af7651916cd43dd8448eb211c80319c" {
		t.Fatalf("trace id passed on = %s", got)
	}
	out := propagation.MapCarrier{}
	Propagator.Inject(ctx, out)
	if !strings.Contains(out["traceparent"], "0af7651916cd43dd8448eb211c80319c") {
		t.Fatalf("traceparent injected = %q", out["traceparent"])
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestTracesExporterNone(t *testing.T) {
	tr, err := NewTracing(context.Background(), Config{Getenv: envOf(map[string]string{
		EnvEndpoint: "http://127.0.0.1:1", EnvTracesExporter: "none"})})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Exporting() {
		t.Fatal("OTEL_TRACES_EXPORTER=none still exports")
	}
}

// collector is an OTLP/HTTP receiver that only records what arrives.
type collector struct {
	mu     sync.Mutex
	paths  []string
	bodies [][]byte
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.paths = append(c.paths, r.URL.Path)
	c.bodies = append(c.bodies, b)
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

func (c *collector) received() ([]string, [][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.paths...), append([][]byte(nil), c.bodies...)
}

func TestExportsOverHTTP(t *testing.T) {
	for _, tc := range []struct {
		name     string
		env      func(url string) map[string]string
		wantPath string
	}{
		{"base endpoint", func(u string) map[string]string {
			return map[string]string{EnvEndpoint: u, EnvResourceAttrs: "deployment.environment=test%20lab,site=w1"}
		}, "/v1/traces"},
		{"traces endpoint", func(u string) map[string]string {
			return map[string]string{EnvTracesEndpoint: u + "/custom/traces", EnvEndpoint: "http://127.0.0.1:1",
				EnvServiceName: "edge-7", EnvProtocol: "http/protobuf"}
		}, "/custom/traces"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			col := &collector{}
			srv := httptest.NewServer(col)
			defer srv.Close()
			env := tc.env(srv.URL)
			tr, err := NewTracing(context.Background(), Config{ServiceName: "invsync-mirror", Getenv: envOf(env)})
			if err != nil {
				t.Fatal(err)
			}
			if !tr.Exporting() {
				t.Fatal("not exporting with an endpoint set")
			}
			_, span := tr.Provider().Tracer("t").Start(context.Background(), "the-span-name")
			if !span.IsRecording() {
				t.Fatal("span not recorded under the default sampler")
			}
			span.End()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := tr.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			paths, bodies := col.received()
			if len(paths) == 0 {
				t.Fatal("nothing exported")
			}
			if paths[0] != tc.wantPath {
				t.Fatalf("exported to %s, want %s", paths[0], tc.wantPath)
			}
			all := bytes.Join(bodies, nil)
			wantName := "invsync-mirror"
			if n := env[EnvServiceName]; n != "" {
				wantName = n
			}
			for _, want := range []string{"the-span-name", wantName} {
				if !bytes.Contains(all, []byte(want)) {
					t.Errorf("export does not contain %q", want)
				}
			}
			if env[EnvResourceAttrs] != "" && !bytes.Contains(all, []byte("test lab")) {
				t.Error("OTEL_RESOURCE_ATTRIBUTES value not decoded into the resource")
			}
		})
	}
}

func TestSampler(t *testing.T) {
	col := &collector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	for _, tc := range []struct {
		sampler, arg string
		recording    bool
	}{
		{"always_off", "", false},
		{"traceidratio", "0", false},
		{"traceidratio", "1", true},
		{"parentbased_traceidratio", "0", false},
		{"always_on", "", true},
	} {
		tr, err := NewTracing(context.Background(), Config{Getenv: envOf(map[string]string{
			EnvEndpoint: srv.URL, EnvSampler: tc.sampler, EnvSamplerArg: tc.arg})})
		if err != nil {
			t.Fatalf("%s %s: %v", tc.sampler, tc.arg, err)
		}
		_, span := tr.Provider().Tracer("t").Start(context.Background(), "x")
		if span.IsRecording() != tc.recording {
			t.Errorf("%s(%s): recording=%v, want %v", tc.sampler, tc.arg, span.IsRecording(), tc.recording)
		}
		span.End()
		_ = tr.Shutdown(context.Background())
	}
	// Under parentbased_traceidratio a remote parent marked sampled (a
	// device's traceparent) is kept by the ratio, not by its flag; a local
	// sampled parent is followed.
	tr, err := NewTracing(context.Background(), Config{Getenv: envOf(map[string]string{
		EnvEndpoint: srv.URL, EnvSampler: "parentbased_traceidratio", EnvSamplerArg: "0"})})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	device := Propagator.Extract(context.Background(), propagation.MapCarrier{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
	_, span := tr.Provider().Tracer("t").Start(device, "upload")
	if span.IsRecording() {
		t.Error("parentbased_traceidratio=0 recorded the child of a device's sampled traceparent")
	}
	local := trace.ContextWithSpanContext(context.Background(), trace.SpanContextFromContext(device).WithRemote(false))
	_, span = tr.Provider().Tracer("t").Start(local, "child")
	if !span.IsRecording() {
		t.Error("a sampled local parent's child is not recorded under parentbased_traceidratio")
	}
}

// TestRatioOfDeviceUploads: devices mark every upload sampled; under
// parentbased_traceidratio=0.01 about 1 % of them are recorded, and a
// downstream process with the same setting, given the upload's traceparent
// (sampled or not), decides the same for every trace.
func TestRatioOfDeviceUploads(t *testing.T) {
	col := &collector{}
	srv := httptest.NewServer(col)
	defer srv.Close()
	newTracer := func() trace.Tracer {
		tr, err := NewTracing(context.Background(), Config{Getenv: envOf(map[string]string{
			EnvEndpoint: srv.URL, EnvSampler: "parentbased_traceidratio", EnvSamplerArg: "0.01"})})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
		return tr.Provider().Tracer("t")
	}
	serve, mirror := newTracer(), newTracer()
	const n = 20000
	recorded := 0
	rnd := rand.New(rand.NewPCG(1, 2))
	for range n {
		var tid trace.TraceID
		var sid trace.SpanID
		binary.BigEndian.PutUint64(tid[:8], rnd.Uint64())
		binary.BigEndian.PutUint64(tid[8:], rnd.Uint64())
		binary.BigEndian.PutUint64(sid[:], rnd.Uint64())
		device := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
		ctx, up := serve.Start(device, "upload")
		if up.IsRecording() {
			recorded++
		}
		carrier := propagation.MapCarrier{}
		Propagator.Inject(ctx, carrier)
		_, apply := mirror.Start(Propagator.Extract(context.Background(), carrier), "apply")
		if apply.IsRecording() != up.IsRecording() {
			t.Fatalf("trace %s: upload recorded %v, downstream %v", tid, up.IsRecording(), apply.IsRecording())
		}
		apply.End()
		up.End()
	}
	// 1 % of 20,000 is 200, standard deviation about 14.
	if recorded < 140 || recorded > 260 {
		t.Errorf("%d of %d device uploads recorded at a 1 %% ratio", recorded, n)
	}
}

func TestBadConfigurationNamesEveryProblem(t *testing.T) {
	_, err := NewTracing(context.Background(), Config{Getenv: envOf(map[string]string{
		EnvEndpoint: "127.0.0.1:4318", EnvProtocol: "thrift", EnvSampler: "sometimes",
		EnvResourceAttrs: "novalue"})})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{EnvEndpoint, EnvProtocol, EnvSampler, EnvResourceAttrs} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
	_, err = NewTracing(context.Background(), Config{Getenv: envOf(map[string]string{
		EnvEndpoint: "http://127.0.0.1:4318", EnvSampler: "traceidratio", EnvSamplerArg: "2"})})
	if err == nil || !strings.Contains(err.Error(), EnvSamplerArg) {
		t.Errorf("ratio 2 accepted or not named: %v", err)
	}
}

func TestLogHandlerAddsTraceIDs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewTextHandler(&buf, nil))).With("component", "x")
	log.InfoContext(context.Background(), "no span")
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x0a, 0xf7, 1}, SpanID: trace.SpanID{0xb7, 2}, TraceFlags: trace.FlagsSampled})
	log.InfoContext(trace.ContextWithSpanContext(context.Background(), sc), "in span")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("lines: %q", lines)
	}
	if strings.Contains(lines[0], "trace_id") {
		t.Errorf("line without a span has a trace_id: %s", lines[0])
	}
	for _, want := range []string{"trace_id=" + sc.TraceID().String(), "span_id=" + sc.SpanID().String(), "component=x"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("line %q lacks %s", lines[1], want)
		}
	}
}
