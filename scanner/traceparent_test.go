package scanner

import (
	"context"
	"regexp"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
)

var traceparentFormat = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`)

// TestUploadsSendTraceparent: every upload request carries a W3C
// traceparent, each its own trace, and the caller's span when it has one.
func TestUploadsSendTraceparent(t *testing.T) {
	srv, clk, d := onFake(t, func(c *Config) { c.BatchSize = 2 })
	queueN(t, d, clk, 0, 5)
	mustSync(t, d)
	reqs := srv.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 batches", len(reqs))
	}
	seen := map[string]bool{}
	for i, r := range reqs {
		if !traceparentFormat.MatchString(r.Traceparent) {
			t.Fatalf("request %d traceparent %q", i, r.Traceparent)
		}
		id := r.Traceparent[3:35]
		if seen[id] {
			t.Errorf("request %d reuses trace %s", i, id)
		}
		seen[id] = true
	}

	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{0xde, 0xad, 1}, SpanID: trace.SpanID{0xbe, 0xef}, TraceFlags: trace.FlagsSampled})
	clk.Advance(time.Second)
	queueN(t, d, clk, 5, 1)
	if _, err := d.Sync(trace.ContextWithSpanContext(context.Background(), sc)); err != nil {
		t.Fatal(err)
	}
	reqs = srv.Requests()
	want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"
	if got := reqs[len(reqs)-1].Traceparent; got != want {
		t.Errorf("with the caller's span: traceparent %q, want %q", got, want)
	}
}
