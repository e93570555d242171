package scanner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// setTraceparent gives a request the W3C traceparent header the server
// continues (README, "Observability"): the caller's span when ctx holds
// one, else a new trace of the request's own, marked sampled so the
// server records it unless its sampler says otherwise. Its trace id is
// what an operator looks up to follow an upload to its events and rows.
func setTraceparent(ctx context.Context, h http.Header) {
	if trace.SpanContextFromContext(ctx).IsValid() {
		propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(h))
		return
	}
	var ids [24]byte // 16 bytes of trace id, 8 of span id
	if _, err := rand.Read(ids[:]); err != nil {
		return // no randomness: send none rather than a predictable id
	}
	h.Set("traceparent", "00-"+hex.EncodeToString(ids[:16])+"-"+hex.EncodeToString(ids[16:])+"-01")
}
