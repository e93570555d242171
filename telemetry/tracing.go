package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Propagator is the one way invsync carries a trace between processes: the
// W3C traceparent/tracestate headers, on HTTP requests and on Kafka records.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// The environment variables read by NewTracing (the OpenTelemetry SDK's
// standard names).
const (
	EnvEndpoint        = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint  = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvProtocol        = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvTracesProtocol  = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvServiceName     = "OTEL_SERVICE_NAME"
	EnvSampler         = "OTEL_TRACES_SAMPLER"
	EnvSamplerArg      = "OTEL_TRACES_SAMPLER_ARG"
	EnvResourceAttrs   = "OTEL_RESOURCE_ATTRIBUTES"
	EnvTracesExporter  = "OTEL_TRACES_EXPORTER"
	protocolHTTP       = "http/protobuf"
	protocolGRPC       = "grpc"
	defaultServiceName = "invsync"
)

// Config says which process is tracing.
type Config struct {
	// ServiceName is service.name when OTEL_SERVICE_NAME is unset
	// (default "invsync"; the mirror uses "invsync-mirror").
	ServiceName string
	// Version is service.version (optional).
	Version string
	// Getenv reads the environment (default os.Getenv); tests pass a map.
	Getenv func(string) string
	// Logger receives one line saying where traces go (default:
	// discarded). Export failures are the SDK's: it retries, then drops.
	Logger *slog.Logger
}

// Tracing is a process's tracer provider and how to stop it. The zero
// value is not usable: use NewTracing.
type Tracing struct {
	provider trace.TracerProvider
	sdk      *sdktrace.TracerProvider // nil when nothing is exported
	endpoint string
	protocol string
}

// NewTracing builds the tracer provider the OTEL_* environment describes.
// With neither OTEL_EXPORTER_OTLP_TRACES_ENDPOINT nor
// OTEL_EXPORTER_OTLP_ENDPOINT set (or OTEL_TRACES_EXPORTER=none) it is a
// no-op provider: no span is recorded or exported, and an incoming
// traceparent is still passed on unchanged. Errors name every variable
// that is wrong.
func NewTracing(ctx context.Context, cfg Config) (*Tracing, error) {
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	if cfg.ServiceName == "" {
		cfg.ServiceName = defaultServiceName
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Tracing{provider: noop.NewTracerProvider()}
	if env(EnvTracesExporter) == "none" {
		return t, nil
	}
	endpoint, perTraces := env(EnvTracesEndpoint), true
	if endpoint == "" {
		endpoint, perTraces = env(EnvEndpoint), false
	}
	if endpoint == "" {
		return t, nil
	}
	protocol := env(EnvTracesProtocol)
	if protocol == "" {
		protocol = env(EnvProtocol)
	}
	if protocol == "" {
		protocol = protocolHTTP
	}

	var problems []error
	if _, err := url.Parse(endpoint); err != nil || !strings.Contains(endpoint, "://") {
		problems = append(problems, fmt.Errorf("%s=%q is not a URL (e.g. http://127.0.0.1:4318)", endpointVar(perTraces), endpoint))
	}
	if protocol != protocolHTTP && protocol != protocolGRPC {
		problems = append(problems, fmt.Errorf("%s=%q: want %s or %s", EnvProtocol, protocol, protocolHTTP, protocolGRPC))
	}
	sampler, err := samplerFromEnv(env(EnvSampler), env(EnvSamplerArg))
	if err != nil {
		problems = append(problems, err)
	}
	attrs, err := resourceAttrs(env(EnvResourceAttrs))
	if err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("configuring tracing: %w", errors.Join(problems...))
	}

	name := env(EnvServiceName)
	if name == "" {
		name = cfg.ServiceName
	}
	attrs = append(attrs, attribute.String("service.name", name))
	if cfg.Version != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.Version))
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attrs...))
	if err != nil {
		return nil, fmt.Errorf("configuring tracing: resource: %w", err)
	}

	exp, err := newExporter(ctx, protocol, endpoint, perTraces)
	if err != nil {
		return nil, fmt.Errorf("configuring tracing: creating the OTLP exporter: %w", err)
	}
	t.sdk = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res), sdktrace.WithSampler(sampler))
	t.provider = t.sdk
	t.endpoint, t.protocol = endpoint, protocol
	cfg.Logger.Info("exporting traces", "endpoint", endpoint, "protocol", protocol, "service", name)
	return t, nil
}

func endpointVar(perTraces bool) string {
	if perTraces {
		return EnvTracesEndpoint
	}
	return EnvEndpoint
}

// newExporter makes the OTLP exporter. Endpoints are given explicitly (not
// read again from the process environment by the exporter) so what the
// Config's Getenv says is what is used: OTEL_EXPORTER_OTLP_ENDPOINT is a
// base URL to which the HTTP exporter adds /v1/traces, the per-signal
// variable is the full URL.
func newExporter(ctx context.Context, protocol, endpoint string, perTraces bool) (sdktrace.SpanExporter, error) {
	if protocol == protocolGRPC {
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpointURL(endpoint)}
		return otlptracegrpc.New(ctx, opts...)
	}
	if !perTraces {
		endpoint = strings.TrimRight(endpoint, "/") + "/v1/traces"
	}
	return otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
}

// Provider is the tracer provider to pass to components: a no-op one when
// nothing is exported.
func (t *Tracing) Provider() trace.TracerProvider { return t.provider }

// Exporting reports whether spans are sent anywhere.
func (t *Tracing) Exporting() bool { return t.sdk != nil }

// Shutdown flushes the spans not yet exported and stops the exporter,
// waiting at most until ctx ends. Safe to call more than once.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.sdk == nil {
		return nil
	}
	if err := t.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("flushing traces to %s: %w", t.endpoint, err)
	}
	return nil
}

// samplerFromEnv reads OTEL_TRACES_SAMPLER and its argument. The default
// is parentbased_always_on, as the SDK's: everything is recorded.
//
// parentbased_traceidratio applies the ratio to a root and also to a
// remote parent marked sampled; a local parent's decision is followed and a
// remote parent marked not sampled is not sampled. The remote parents
// invsync sees are the devices, which record nothing yet mark every upload
// sampled (honouring that would make a 1 % ratio keep every upload), and
// invsync's own processes, whose decision came from the same ratio over the
// same trace id, so applying it again gives the same answer: the ratio is
// the share of uploads traced, end to end.
func samplerFromEnv(name, arg string) (sdktrace.Sampler, error) {
	ratio := func() (float64, error) {
		if arg == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return 0, fmt.Errorf("%s=%q: want a ratio from 0 to 1", EnvSamplerArg, arg)
		}
		return r, nil
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, err
		}
		return sdktrace.TraceIDRatioBased(r), nil
	case "parentbased_traceidratio":
		r, err := ratio()
		if err != nil {
			return nil, err
		}
		byID := sdktrace.TraceIDRatioBased(r)
		return sdktrace.ParentBased(byID, sdktrace.WithRemoteParentSampled(byID)), nil
	}
	return nil, fmt.Errorf("%s=%q: want always_on, always_off, traceidratio or their parentbased_ forms", EnvSampler, name)
}

// resourceAttrs parses OTEL_RESOURCE_ATTRIBUTES: key=value pairs separated
// by commas, values percent-encoded.
func resourceAttrs(s string) ([]attribute.KeyValue, error) {
	var kvs []attribute.KeyValue
	if s == "" {
		return kvs, nil
	}
	for _, pair := range strings.Split(s, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%s: %q is not key=value", EnvResourceAttrs, pair)
		}
		dec, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("%s: value of %s: %w", EnvResourceAttrs, k, err)
		}
		kvs = append(kvs, attribute.String(k, dec))
	}
	return kvs, nil
}
