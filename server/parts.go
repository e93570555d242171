package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/invsync/invsync/auth"
	"github.com/invsync/invsync/ingest"
	"github.com/invsync/invsync/pipeline"
	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
	"github.com/invsync/invsync/state"
	"github.com/invsync/invsync/web"
)

// parts are the service's components once Kafka answers: the state store,
// the shared tables, the producer, the processors and the HTTP API.
type parts struct {
	s        *Server
	store    *state.Store
	producer *pipeline.Producer
	catalog  *pipeline.CatalogTable
	locks    *pipeline.LockTable
	tokens   *pipeline.TokenTable
	tasks    *pipeline.CountTaskTable
	fleet    *pipeline.FleetTable
	reports  *pipeline.ReportSplitter
	proc     *pipeline.Processing
	api      *ingest.Server
	// handler serves the API and the scanner web app's static files.
	handler http.Handler
	admin   *kgo.Client

	cancel context.CancelFunc
	wg     sync.WaitGroup
	errc   chan error
}

// newParts constructs every component; nothing runs yet.
func newParts(ctx context.Context, s *Server, instance string) (p *parts, err error) {
	cfg := s.cfg
	p = &parts{s: s, errc: make(chan error, 8)}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	meter := s.meters.Meter("github.com/invsync/invsync")
	// kprom registers its collectors once, so it hooks the busiest client
	// only: the processors' transactional session.
	kmetrics := kprom.NewMetrics("invsync_kafka", kprom.Registerer(s.metrics))
	clientOpts := s.clientOpts()
	topics := schemas.NewTopics(cfg.TopicPrefix)

	codec, err := schemas.New(ctx, schemas.Config{TopicPrefix: cfg.TopicPrefix, RegistryURL: cfg.SchemaRegistryURL})
	if err != nil {
		return nil, err
	}
	p.store, err = state.Open(filepath.Join(cfg.DataDir, "state"), state.Options{Logger: s.log, AbsentPrefix: processors.OutcomePrefix(), HotPrefix: processors.RecordPrefix()})
	if err != nil {
		return nil, fmt.Errorf("%w (is another invsync using --data-dir %s?)", err, cfg.DataDir)
	}
	cat := processors.NewCatalog(processors.Limits{})
	p.catalog, err = pipeline.NewCatalogTable(s.brokers, topics.Catalog, codec, cat, s.log, clientOpts...)
	if err != nil {
		return nil, err
	}
	p.tasks, err = pipeline.NewCountTaskTable(s.brokers, topics.CountTasks, codec, s.log, clientOpts...)
	if err != nil {
		return nil, err
	}
	p.locks, err = pipeline.NewLockTable(s.brokers, topics.Locks, codec, processors.NewLockTable(), s.log, clientOpts...)
	if err != nil {
		return nil, err
	}
	reg := auth.NewRegistry()
	if cfg.AdminToken != "" {
		reg.SetAdmin(cfg.AdminToken)
	}
	p.tokens, err = pipeline.NewTokenTable(s.brokers, topics.Tokens, codec, reg, s.log, clientOpts...)
	if err != nil {
		return nil, err
	}
	p.fleet, err = pipeline.NewFleetTable(s.brokers, topics.ScannerStatus, codec, s.log, clientOpts...)
	if err != nil {
		return nil, err
	}
	tracer := s.tracing.Provider()
	p.producer, err = pipeline.NewProducer(s.brokers, topics, codec, 10*time.Second, append(slices.Clip(clientOpts), pipeline.ProducerTracing(tracer))...)
	if err != nil {
		return nil, err
	}
	advertise := cfg.AdvertiseURL
	if advertise == "" {
		advertise = "http://" + s.httpLn.Addr().String()
	}
	notifier := pipeline.NewOutcomeNotifier()
	decisions := pipeline.NewDecisionNotifier()
	commands := pipeline.NewCommandNotifier()
	p.proc, err = pipeline.NewProcessing(pipeline.ProcessingConfig{
		Brokers:         s.brokers,
		Group:           cfg.Group,
		SessionTimeout:  cfg.SessionTimeout,
		Sessions:        cfg.ProcessorSessions,
		TransactionalID: "invsync-" + instance,
		Topics:          topics,
		Store:           p.store,
		Processor: processors.New(processors.Config{LedgerWindow: cfg.LedgerWindow, Locks: p.locks.Table(),
			Tolerances: cat, CountTasks: p.tasks, ReconciliationGrace: cfg.ReconciliationGrace}),
		Codec:          codec,
		Notifier:       notifier,
		Decisions:      decisions,
		Commands:       commands,
		Logger:         s.log,
		Meter:          meter,
		TracerProvider: tracer,
		Partitions:     int32(cfg.Partitions),
		// Every session's group member names this instance's URL (Owners).
		ClientOpts:       slices.Concat(clientOpts, []kgo.Opt{kgo.ClientID(pipeline.ClientID(advertise))}),
		SessionOpts:      []kgo.Opt{kgo.WithHooks(kmetrics)},
		SnapshotInterval: cfg.SnapshotInterval,
		Now:              cfg.Now,
	})
	if err != nil {
		return nil, err
	}
	var schemaSrc ingest.SchemaSource
	if cfg.SchemaRegistryURL == "" {
		schemaSrc = codec
	}
	queries := pipeline.NewQueries(p.store, p.proc, p.producer, int32(cfg.Partitions))
	recon := &pipeline.Reconciliation{Producer: p.producer, Queries: queries, Partitions: int32(cfg.Partitions)}
	checkReport := func(r *processors.CloudReport) error {
		if rej := cat.CheckReport(r); rej != nil {
			return rej
		}
		return nil
	}
	p.reports, err = pipeline.NewReportSplitter(s.brokers, cfg.Group+"-cloud-reports", topics, int32(cfg.Partitions), codec,
		p.producer, checkReport, s.log, clientOpts...)
	if err != nil {
		return nil, err
	}
	p.admin, err = kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(s.brokers...)}, clientOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("creating admin client: %w", err)
	}
	p.api, err = ingest.New(ingest.Config{
		Publisher:   p.producer,
		Catalog:     p.catalog,
		State:       queries,
		Outcomes:    notifier,
		Decisions:   decisions,
		Allocator:   p.producer,
		Allocations: queries,
		Locks:       p.locks,
		Router:      pipeline.NewOwners(kadm.NewClient(p.admin), cfg.Group, topics.Transactions, advertise),
		Ready:       p.proc,
		Schemas:     schemaSrc,
		Metrics:     promhttp.HandlerFor(s.metrics, promhttp.HandlerOpts{EnableOpenMetrics: true}), // OpenMetrics carries the exemplars
		Meter:       meter,
		Logger:      s.log,
		TimeBounds:  ingest.TimeBounds{MaxAge: cfg.MaxScanAge},
		Now:         cfg.Now,
		Auth:        reg,
		Tokens:      p.tokens,
		RateLimit:   cfg.RateLimit,
		MaxInFlight: cfg.MaxInFlight,
		PeerTLS:     s.peerTLS(),
		Cluster:     &ingest.ClusterInfo{Brokers: s.brokers, TopicPrefix: cfg.TopicPrefix, Partitions: int32(cfg.Partitions)},

		Commands:       recon,
		Recon:          recon,
		CommandResults: commands,
		CountTasks:     p.tasks,
		Partitions:     int32(cfg.Partitions),
		TracerProvider: tracer,
		Fleet:          p.fleet,
	})
	if err != nil {
		return nil, err
	}
	s.http.RegisterOnShutdown(p.api.CloseStreams)
	mux := http.NewServeMux()
	app := web.Scanner()
	mux.Handle("/scanner/", app)
	mux.Handle("/scanner", app)
	console := web.Console()
	mux.Handle("/console/", console)
	mux.Handle("/console", console)
	mux.Handle("/", p.api)
	p.handler = mux
	return p, nil
}

// start runs the components and opens the API once the catalog and the
// locks are loaded.
func (p *parts) start(ctx context.Context, boot *bootStatus) error {
	ctx, p.cancel = context.WithCancel(ctx)
	goRun := func(name string, fn func(context.Context) error) {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				p.errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	goRun("catalog", p.catalog.Run)
	goRun("locks", p.locks.Run)
	goRun("tokens", p.tokens.Run)
	goRun("count tasks", p.tasks.Run)
	goRun("scanner status", p.fleet.Run)
	goRun("console sampler", p.api.RunSampler)
	goRun("cloud reports", p.reports.Run)
	goRun("processing", func(ctx context.Context) error {
		// A transaction applied before the locks are loaded could miss
		// a lock that held when it was received.
		if err := p.locks.WaitLoaded(ctx); err != nil {
			return err
		}
		return p.proc.Run(ctx)
	})
	boot.set("loading the catalog from Kafka")
	if err := p.seedCatalog(ctx); err != nil {
		return err
	}
	boot.set("loading the count tasks from Kafka")
	if err := p.tasks.WaitLoaded(ctx); err != nil {
		return err
	}
	boot.set("loading the location locks from Kafka")
	if err := p.locks.WaitLoaded(ctx); err != nil {
		return err
	}
	boot.set("loading the API tokens from Kafka")
	if err := p.tokens.WaitLoaded(ctx); err != nil {
		return err
	}
	if err := p.bootstrapAdmin(ctx); err != nil {
		return err
	}
	p.api.Open()
	return nil
}

// wait returns when ctx ends or a component, the HTTP server or the
// broker process fails.
func (p *parts) wait(ctx context.Context, httpErr <-chan error, brokerExited <-chan struct{}) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-p.errc:
		return err
	case err, ok := <-httpErr:
		if !ok {
			return nil
		}
		return fmt.Errorf("http: %w", err)
	case <-brokerExited:
		if b := p.s.brokerIn; b != nil {
			return fmt.Errorf("the embedded Kafka broker stopped (%v); restart invsync serve", b.Err())
		}
		return fmt.Errorf("the embedded Kafka broker process exited (see %s); restart invsync serve",
			filepath.Join(p.s.cfg.DataDir, "kafka", "broker.log"))
	}
}

// close stops the components and closes clients and the store. Safe on a
// partly constructed value.
func (p *parts) close() {
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
	if p.producer != nil {
		p.producer.Close()
	}
	if p.admin != nil {
		p.admin.Close()
	}
	if p.store != nil {
		if err := p.store.Close(); err != nil && !errors.Is(err, state.ErrClosed) {
			p.s.log.Warn("closing state store", "err", err)
		}
	}
}
