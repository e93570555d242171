package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/invsync/invsync/schemas"
)

// ServeOptions are what `invsync mirror` adds to a Config.
type ServeOptions struct {
	// RegistryURL is the schema registry the producers use; empty means
	// invsync's local schema ids (Config.Codec's default).
	RegistryURL string
	// MetricsAddr, when set, is the host:port Prometheus metrics are
	// served on (/metrics).
	MetricsAddr string
}

// Serve is `invsync mirror`: it runs a mirror of cfg until ctx ends, with
// the schemas of o.RegistryURL and metrics on o.MetricsAddr, and closes
// it. cfg.Logger must be set.
func Serve(ctx context.Context, cfg Config, o ServeOptions) error {
	log := cfg.Logger
	if o.RegistryURL != "" {
		codec, err := schemas.New(ctx, schemas.Config{TopicPrefix: cfg.TopicPrefix, RegistryURL: o.RegistryURL})
		if err != nil {
			return fmt.Errorf("loading the schemas: %w", err)
		}
		cfg.Codec = codec
	}
	if o.MetricsAddr != "" {
		meter, shutdown, err := serveMetrics(o.MetricsAddr, log)
		if err != nil {
			return fmt.Errorf("serving metrics: %w", err)
		}
		defer shutdown()
		cfg.Meter = meter.Meter("invsync/mirror")
	}
	m, err := New(cfg)
	if err != nil {
		return fmt.Errorf("starting: %w", err)
	}
	log.Info("invsync mirror starting", "brokers", strings.Join(cfg.Brokers, ","), "topic_prefix", cfg.TopicPrefix,
		"reporting_to", cfg.URL)
	runErr := m.Run(ctx)
	if err := m.Close(); err != nil {
		log.Warn("invsync mirror: closing", "err", err)
	}
	return runErr
}

// serveMetrics serves the mirror's metrics for Prometheus on addr.
func serveMetrics(addr string, log *slog.Logger) (*sdkmetric.MeterProvider, func(), error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, nil, fmt.Errorf("creating the metrics exporter: %w", err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listening on --metrics-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Warn("invsync mirror: metrics server stopped", "err", err)
		}
	}()
	return provider, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = provider.Shutdown(ctx)
	}, nil
}
