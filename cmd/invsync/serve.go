package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/invsync/invsync/ingest"
	"github.com/invsync/invsync/pipeline"
	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
	"github.com/invsync/invsync/state"
)

// server is one running `invsync serve`: every part wired together.
type server struct {
	cfg      serveConfig
	log      *slog.Logger
	broker   *pipeline.Embedded
	store    *state.Store
	producer *pipeline.Producer
	catalog  *pipeline.CatalogTable
	locks    *pipeline.LockTable
	proc     *pipeline.Processing
	api      *ingest.Server
	admin    *kgo.Client
	http     *http.Server
	httpLn   net.Listener
	meters   *sdkmetric.MeterProvider
	brokers  []string
}

// start brings every part up; run then serves until ctx ends. On error,
// whatever was started is closed.
func start(ctx context.Context, cfg serveConfig, log *slog.Logger) (s *server, err error) {
	s = &server{cfg: cfg, log: log, brokers: cfg.Brokers}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	instance, err := instanceID(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s.httpLn, err = net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("listening on --http-addr %s: %w", cfg.HTTPAddr, err)
	}
	advertise := cfg.AdvertiseURL
	if advertise == "" {
		advertise = "http://" + s.httpLn.Addr().String()
	}

	if len(s.brokers) == 0 {
		s.broker, err = pipeline.StartEmbedded(pipeline.EmbeddedConfig{
			Addr: cfg.EmbeddedKafkaAddr, DataDir: filepath.Join(cfg.DataDir, "kafka"),
			NoSync: cfg.EmbeddedNoFsync, Partitions: int32(cfg.Partitions), Logger: log,
		})
		if err != nil {
			return nil, err
		}
		s.brokers = []string{s.broker.Addr()}
		log.Info("embedded Kafka broker listening", "addr", s.broker.Addr(), "fsync", !cfg.EmbeddedNoFsync)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("creating metrics exporter: %w", err)
	}
	s.meters = sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	meter := s.meters.Meter("github.com/invsync/invsync")
	// kprom registers its collectors once, so it hooks the busiest client
	// only: the processors' transactional session.
	kmetrics := kprom.NewMetrics("invsync_kafka", kprom.Registerer(reg))
	clientOpts := []kgo.Opt{kgo.WithLogger(kgoLogger{log})}

	topics := pipeline.TopicsWithPrefix(cfg.TopicPrefix)
	if err := ensureTopics(ctx, s.brokers, topics, int32(cfg.Partitions), log); err != nil {
		return nil, err
	}

	codec, err := schemas.New(ctx, schemas.Config{TopicPrefix: cfg.TopicPrefix, RegistryURL: cfg.SchemaRegistryURL})
	if err != nil {
		return nil, err
	}

	s.store, err = state.Open(filepath.Join(cfg.DataDir, "state"), state.Options{Logger: log, AbsentPrefix: processors.OutcomePrefix()})
	if err != nil {
		return nil, fmt.Errorf("%w (is another invsync using --data-dir %s?)", err, cfg.DataDir)
	}

	cat := processors.NewCatalog(processors.Limits{})
	s.catalog, err = pipeline.NewCatalogTable(s.brokers, topics.Catalog, codec, cat, log, clientOpts...)
	if err != nil {
		return nil, err
	}
	s.locks, err = pipeline.NewLockTable(s.brokers, topics.Locks, codec, processors.NewLockTable(), log, clientOpts...)
	if err != nil {
		return nil, err
	}
	s.producer, err = pipeline.NewProducer(s.brokers, topics, codec, 10*time.Second, clientOpts...)
	if err != nil {
		return nil, err
	}
	notifier := pipeline.NewOutcomeNotifier()
	decisions := pipeline.NewDecisionNotifier()
	s.proc, err = pipeline.NewProcessing(pipeline.ProcessingConfig{
		Brokers:         s.brokers,
		Group:           cfg.Group,
		SessionTimeout:  cfg.SessionTimeout,
		TransactionalID: "invsync-" + instance,
		Topics:          topics,
		Store:           s.store,
		Processor:       processors.New(processors.Config{LedgerWindow: cfg.LedgerWindow, Locks: s.locks.Table()}),
		Codec:           codec,
		Notifier:        notifier,
		Decisions:       decisions,
		Logger:          log,
		Meter:           meter,
		ClientOpts:      clientOpts,
		SessionOpts:     []kgo.Opt{kgo.WithHooks(kmetrics), kgo.ClientID(pipeline.ClientID(advertise))},

		SnapshotInterval: cfg.SnapshotInterval,
	})
	if err != nil {
		return nil, err
	}
	var schemaSrc ingest.SchemaSource
	if cfg.SchemaRegistryURL == "" {
		schemaSrc = codec
	}
	queries := pipeline.NewQueries(s.store, s.proc, s.producer, int32(cfg.Partitions))
	s.admin, err = kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(s.brokers...)}, clientOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("creating admin client: %w", err)
	}
	router := pipeline.NewOwners(kadm.NewClient(s.admin), cfg.Group, topics.Transactions, advertise)
	s.api = ingest.New(ingest.Config{
		Publisher:   s.producer,
		Catalog:     s.catalog,
		State:       queries,
		Outcomes:    notifier,
		Decisions:   decisions,
		Allocator:   s.producer,
		Allocations: queries,
		Locks:       s.locks,
		Router:      router,
		Ready:       s.proc,
		Schemas:     schemaSrc,
		Metrics:     promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Meter:       meter,
		Logger:      log,
		TimeBounds:  ingest.TimeBounds{MaxAge: cfg.MaxScanAge},
	})
	s.http = &http.Server{Handler: s.api, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	return s, nil
}

// ensureTopics creates the topics, waiting for a broker that is still
// starting (up to a minute).
func ensureTopics(ctx context.Context, brokers []string, topics pipeline.Topics, partitions int32, log *slog.Logger) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return fmt.Errorf("creating admin client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(time.Minute)
	for {
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = pipeline.EnsureTopics(tctx, adm, topics, partitions, -1)
		cancel()
		if err == nil || ctx.Err() != nil {
			return err
		}
		if strings.Contains(err.Error(), "partitions but --partitions") || time.Now().After(deadline) {
			return fmt.Errorf("%w (brokers %s)", err, strings.Join(brokers, ","))
		}
		log.Warn("waiting for Kafka", "brokers", brokers, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// run serves until ctx ends, then shuts down in order: stop taking HTTP
// requests, stop processing, close clients, the store and the broker.
func (s *server) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	goRun := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	goRun("catalog", s.catalog.Run)
	goRun("locks", s.locks.Run)
	goRun("processing", func(ctx context.Context) error {
		// A transaction applied before the locks are loaded could miss
		// a lock that held when it was received.
		if err := s.locks.WaitLoaded(ctx); err != nil {
			return err
		}
		return s.proc.Run(ctx)
	})
	goRun("http", func(context.Context) error {
		if err := s.http.Serve(s.httpLn); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})

	err := s.seedCatalog(ctx)
	if err == nil {
		err = s.loadLocks(ctx)
	}
	if err != nil {
		cancel()
		_ = s.http.Close()
		wg.Wait()
		s.close()
		return err
	}
	s.api.Open()
	s.log.Info("invsync serving", "http", s.httpLn.Addr().String(), "brokers", strings.Join(s.brokers, ","),
		"partitions", s.cfg.Partitions, "data_dir", s.cfg.DataDir)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	s.log.Info("shutting down")
	shutCtx, shutCancel := context.WithTimeout(context.Background(), 10*time.Second)
	_ = s.http.Shutdown(shutCtx)
	shutCancel()
	cancel()
	wg.Wait()
	s.close()
	return runErr
}

// loadLocks waits until every lock granted before this start is known, so
// the API never answers as if a held location were free.
func (s *server) loadLocks(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return s.locks.WaitLoaded(wctx)
}

// seedCatalog loads --catalog, or the demo catalog into an empty topic.
func (s *server) seedCatalog(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := s.catalog.WaitLoaded(wctx); err != nil {
		return err
	}
	if s.cfg.Catalog != "" {
		data, err := os.ReadFile(s.cfg.Catalog)
		if err != nil {
			return fmt.Errorf("reading --catalog: %w", err)
		}
		doc, err := processors.ParseCatalog(data)
		if err != nil {
			return fmt.Errorf("--catalog %s: %w", s.cfg.Catalog, err)
		}
		s.log.Info("loading catalog file", "file", s.cfg.Catalog, "warehouses", len(doc.Warehouses), "items", len(doc.Items))
		return s.catalog.Publish(wctx, doc)
	}
	if w, i := s.catalog.Catalog().Size(); w == 0 && i == 0 {
		s.log.Info("catalog topic is empty; seeding the built-in demo catalog (8 warehouses, 3000 items)")
		return s.catalog.Publish(wctx, processors.DemoCatalog())
	}
	return nil
}

func (s *server) close() {
	if s.http != nil {
		_ = s.http.Close()
	} else if s.httpLn != nil {
		_ = s.httpLn.Close()
	}
	if s.producer != nil {
		s.producer.Close()
	}
	if s.admin != nil {
		s.admin.Close()
	}
	if s.store != nil {
		if err := s.store.Close(); err != nil {
			s.log.Warn("closing state store", "err", err)
		}
	}
	if s.meters != nil {
		_ = s.meters.Shutdown(context.Background())
	}
	if s.broker != nil {
		s.broker.Close()
	}
}

// instanceID returns this data dir's stable identity, creating it once. It
// names the instance's transactional producer, so a restart of the same
// instance fences its predecessor.
func instanceID(dir string) (string, error) {
	path := filepath.Join(dir, "instance-id")
	if b, err := os.ReadFile(path); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(b[:])
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("writing instance id: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("writing instance id: %w", err)
	}
	return id, nil
}

// kgoLogger passes the Kafka client's warnings and errors to the log, and
// with --log-level debug its informational lines too (group joins,
// assignments, the offsets each transaction commits), logged at debug.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel {
	if k.l.Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelInfo
	}
	return kgo.LogLevelWarn
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, kv ...any) {
	switch level {
	case kgo.LogLevelError:
		k.l.Error(msg, append(kv, "component", "kafka-client")...)
	case kgo.LogLevelWarn:
		k.l.Warn(msg, append(kv, "component", "kafka-client")...)
	case kgo.LogLevelInfo:
		k.l.Debug(msg, append(kv, "component", "kafka-client")...)
	}
}
