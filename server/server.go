// Package server is one invsync instance as a value: the HTTP API, ingest,
// the partitioned processors, the shared tables and (unless Options.Brokers
// is set) the embedded Kafka broker, brought up and shut down in order.
//
//	s, err := server.New(opts) // validates, listens on the HTTP port
//	go s.Run(ctx)              // brings up the rest, serves until ctx ends
//	<-s.Ready()                // HTTP listening, every owned partition restored
//	s.Shutdown(ctx)
//
// `invsync serve` is a thin main around it; the benchmark, the simulator
// and the end-to-end tests start servers the same way.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/invsync/invsync/pipeline"
	"github.com/invsync/invsync/pipeline/embedded"
	"github.com/invsync/invsync/telemetry"
)

// Server is one running invsync instance. New listens on the HTTP port and
// answers /healthz and /readyz from the first moment; Run brings up the
// rest (the embedded broker, Kafka, the state, the processors), serves the
// API once everything is up, and shuts down in order when its context ends
// or Shutdown is called. Its methods are safe for concurrent use.
type Server struct {
	cfg  Options
	log  *slog.Logger
	boot *bootStatus

	httpLn net.Listener
	http   *http.Server
	// tls is the HTTPS configuration (nil without --tls-cert), kept apart
	// from http.TLSConfig, which net/http amends while it serves.
	tls     *tls.Config
	httpErr chan error
	handler swappableHandler

	metrics *prometheus.Registry
	meters  *sdkmetric.MeterProvider
	tracing *telemetry.Tracing

	// Set by Run as the parts come up; closed by close in reverse.
	brokerProc *embedded.Process // the supervised broker process
	brokerIn   *embedded.Broker  // the in-process broker (tests, bench)
	brokers    []string
	parts      *parts
	// up is closed once every part is up (brokers and parts are set);
	// ready once, after up, every owned partition was restored; ended
	// once Run has returned.
	up, ready, ended chan struct{}

	runOnce  sync.Once
	mu       sync.Mutex
	cancel   context.CancelFunc // ends Run; set when Run starts
	shutdown bool
	closed   sync.Once
}

// New validates opts and listens on the HTTP port. Every error is one line
// saying what to do.
func New(opts Options) (*Server, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("invalid options: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := os.MkdirAll(opts.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating --data-dir %s: %w", opts.DataDir, err)
	}
	s := &Server{cfg: opts, log: opts.Logger, boot: newBootStatus(), httpErr: make(chan error, 1),
		up: make(chan struct{}), ready: make(chan struct{}), ended: make(chan struct{})}
	ln, err := net.Listen("tcp", opts.HTTPAddr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("--http-addr %s is in use by another process; choose another with --http-addr", opts.HTTPAddr)
		}
		return nil, fmt.Errorf("listening on --http-addr %s: %w", opts.HTTPAddr, err)
	}
	s.httpLn = ln
	if err := s.newMetrics(); err != nil {
		_ = ln.Close()
		return nil, err
	}
	if s.tracing, err = telemetry.NewTracing(context.Background(), telemetry.Config{ServiceName: "invsync", Logger: s.log}); err != nil {
		_ = ln.Close()
		return nil, err
	}
	s.handler.set(bootHandler(s.boot, promhttp.HandlerFor(s.metrics, promhttp.HandlerOpts{})))
	// Timeouts bound what a slow or idle client can hold: the headers in
	// 10 s, a whole request (body included, 1 MiB at most) in a minute.
	s.http = &http.Server{Handler: &s.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	if opts.TLSCert != "" {
		tlsCfg, err := serverTLS(opts)
		if err != nil {
			_ = ln.Close()
			return nil, err
		}
		s.tls = tlsCfg
		s.http.TLSConfig = tlsCfg
		ln = tls.NewListener(ln, tlsCfg)
	}
	go func() {
		if err := s.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.httpErr <- err
		}
		close(s.httpErr)
	}()
	return s, nil
}

func (s *Server) newMetrics() error {
	s.metrics = prometheus.NewRegistry()
	s.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := otelprom.New(otelprom.WithRegisterer(s.metrics), otelprom.WithoutScopeInfo())
	if err != nil {
		return fmt.Errorf("creating metrics exporter: %w", err)
	}
	s.meters = sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	return nil
}

// Run brings the service up and serves until ctx ends or Shutdown is
// called, then shuts down in order. A shutdown during start-up is clean
// (nil error). Run may be called once.
func (s *Server) Run(ctx context.Context) error {
	ran := false
	s.runOnce.Do(func() { ran = true })
	if !ran {
		return errors.New("server: Run called twice")
	}
	defer close(s.ended)
	defer s.close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	s.cancel = cancel
	if s.shutdown {
		cancel()
	}
	s.mu.Unlock()
	err := s.bringUp(ctx)
	if ctx.Err() != nil {
		s.log.Info("stopped during start-up")
		return nil
	}
	if err != nil {
		return err
	}
	close(s.up)
	s.log.Info("invsync serving", "http", s.httpLn.Addr().String(), "brokers", strings.Join(s.brokers, ","),
		"partitions", s.cfg.Partitions, "data_dir", s.cfg.DataDir)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.watchReady(ctx) }()
	err = s.parts.wait(ctx, s.httpErr, s.brokerExited())
	stopped := ctx.Err() != nil
	cancel()
	wg.Wait()
	if stopped {
		return nil
	}
	return err
}

// watchReady closes ready the first time every owned partition is
// restored, as /readyz reports it.
func (s *Server) watchReady(ctx context.Context) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if ok, _ := s.Readiness(); ok {
			close(s.ready)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// bringUp starts every part in order, telling /readyz what it waits for.
func (s *Server) bringUp(ctx context.Context) error {
	instance, err := instanceID(s.cfg.DataDir)
	if err != nil {
		return err
	}
	if err := s.startBroker(ctx); err != nil {
		return err
	}
	s.boot.set("creating topics on Kafka at " + strings.Join(s.brokers, ","))
	if err := waitForKafka(ctx, s.brokers, s.clientOpts(), s.cfg, s.boot, s.log); err != nil {
		return err
	}
	if s.cfg.Brokers != nil {
		adviseBrokers(ctx, s.brokers, s.clientOpts(), s.log)
	}
	s.boot.set("opening the state store")
	s.parts, err = newParts(ctx, s, instance)
	if err != nil {
		return err
	}
	s.handler.set(s.parts.handler)
	return s.parts.start(ctx, s.boot)
}

// Ready is closed the first time the server is ready, as /readyz would
// answer 200: the HTTP port listens, the API is open and every partition
// this instance owns is restored. Readiness can be lost later (a
// rebalance); Readiness tells the present.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Done is closed once Run has returned.
func (s *Server) Done() <-chan struct{} { return s.ended }

// WaitReady waits for Ready, returning an error if Run ends first or ctx
// ends.
func (s *Server) WaitReady(ctx context.Context) error { return s.waitFor(ctx, s.ready, "ready") }

// Readiness reports whether the server is ready now, and if not what it
// waits for (the text of /readyz).
func (s *Server) Readiness() (bool, string) {
	select {
	case <-s.up:
	default:
		return false, s.boot.get()
	}
	return s.parts.proc.Ready()
}

// waitUp waits until every part is up, for callers in other goroutines
// that need its brokers or parts.
func (s *Server) waitUp(ctx context.Context) error { return s.waitFor(ctx, s.up, "up") }

// waitFor waits until ch is closed, returning an error naming state (what
// ch stands for) if Run ends first or ctx ends.
func (s *Server) waitFor(ctx context.Context, ch <-chan struct{}, state string) error {
	select {
	case <-ch:
		return nil
	case <-s.ended:
		return errors.New("invsync stopped before it was " + state)
	case <-ctx.Done():
		return fmt.Errorf("waiting for invsync to be %s (%s): %w", state, s.boot.get(), ctx.Err())
	}
}

// Shutdown ends Run and waits for it to return, or for ctx to end. It is
// idempotent; on a server whose Run was never called it closes the HTTP
// listener.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	cancel := s.cancel
	s.mu.Unlock()
	if cancel == nil {
		ran := false
		s.runOnce.Do(func() { ran = true })
		if ran {
			// Run was never called and now never will be.
			s.close()
			close(s.ended)
			return nil
		}
		// Run is starting: it sees shutdown set.
	} else {
		cancel()
	}
	select {
	case <-s.ended:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for invsync to stop: %w", ctx.Err())
	}
}

// Addr is the HTTP API's listening address (host:port).
func (s *Server) Addr() string { return s.httpLn.Addr().String() }

// URL is the HTTP API's base URL (https with Options.TLSCert).
func (s *Server) URL() string {
	if s.cfg.TLSCert != "" {
		return "https://" + s.Addr()
	}
	return "http://" + s.Addr()
}

// Brokers are the Kafka seed brokers in use: Options.Brokers or the
// embedded broker's address. It waits until the server is up, or ctx ends.
func (s *Server) Brokers(ctx context.Context) ([]string, error) {
	if err := s.waitUp(ctx); err != nil {
		return nil, err
	}
	return s.brokers, nil
}

// AdminTokenPath is the file the first start writes the admin token it
// generated to (when Options.AdminToken is empty and none is stored).
func (s *Server) AdminTokenPath() string { return filepath.Join(s.cfg.DataDir, adminTokenFile) }

// Options returns the options the server was created with.
func (s *Server) Options() Options { return s.cfg }

// Partition reports an input partition as this instance sees it (owned,
// restored); the zero status before the server is up.
func (s *Server) Partition(p int32) pipeline.PartitionStatus {
	select {
	case <-s.up:
		return s.parts.proc.Partition(p)
	default:
		return pipeline.PartitionStatus{}
	}
}

// PartitionOf is the input partition of a stock key ("warehouse/item").
// It must be called once the server is up.
func (s *Server) PartitionOf(stockKey string) int32 {
	return s.parts.producer.Partition(stockKey, int32(s.cfg.Partitions))
}

// close shuts down in reverse order: the HTTP server, the parts, the
// metrics, the broker. Safe at any point of start-up, and once only.
func (s *Server) close() {
	s.closed.Do(func() {
		shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = s.http.Shutdown(shutCtx)
		cancel()
		if s.parts != nil {
			s.parts.close()
		}
		if s.meters != nil {
			_ = s.meters.Shutdown(context.Background())
		}
		traceCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.tracing.Shutdown(traceCtx); err != nil {
			s.log.Warn("flushing traces", "err", err)
		}
		cancel()
		if s.brokerIn != nil {
			s.brokerIn.Close()
		}
		if s.brokerProc != nil {
			if err := s.brokerProc.Stop(30 * time.Second); err != nil {
				s.log.Warn("stopping the embedded broker", "err", err)
			}
		}
	})
}
