package ingest

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/invsync/invsync/telemetry"
)

// tracerName is the instrumentation scope of the API's spans.
const tracerName = "github.com/invsync/invsync/ingest"

var serverKind = trace.WithSpanKind(trace.SpanKindServer)

// traceRequests makes every request a SERVER span named by its route,
// continuing the caller's W3C traceparent when it sent one (a scanner's
// upload), with the HTTP semantic conventions' attributes. The span is in
// the request's context, so what the handler produces to Kafka is in the
// same trace.
func (s *Server) traceRequests() gin.HandlerFunc {
	return func(c *gin.Context) {
		r := c.Request
		route := c.FullPath()
		name := r.Method
		if route != "" {
			name += " " + route
		}
		parent := telemetry.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := s.tracer.Start(parent, name, serverKind)
		defer span.End()
		// Attributes only for a recorded span: an untraced request
		// builds none.
		recording := span.IsRecording()
		if recording {
			span.SetAttributes(
				semconv.HTTPRequestMethodKey.String(r.Method),
				semconv.URLPath(r.URL.Path),
				semconv.URLScheme(scheme(r)),
				semconv.ServerAddress(hostOnly(r.Host)),
				semconv.ClientAddress(c.ClientIP()),
			)
			if route != "" {
				span.SetAttributes(semconv.HTTPRoute(route))
			}
			if ua := r.UserAgent(); ua != "" {
				span.SetAttributes(semconv.UserAgentOriginal(ua))
			}
		}
		if trace.SpanContextFromContext(ctx).IsValid() {
			c.Request = r.WithContext(ctx)
		}
		c.Next()
		if !recording {
			return
		}
		status := c.Writer.Status()
		span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		// A server span is an error for 5xx only: a 4xx is the
		// caller's mistake, answered as designed.
		if status >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	}
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

func hostOnly(host string) string {
	if i := strings.LastIndexByte(host, ':'); i > 0 && !strings.HasSuffix(host, "]") {
		return host[:i]
	}
	return host
}
