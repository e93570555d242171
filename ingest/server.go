// Package ingest is invsync's HTTP API (gin): it decodes and validates what
// scanners and the cloud send, checks it against the catalog, writes
// accepted transactions to Kafka and answers. It reads state only through
// the small interfaces below; it knows nothing of Pebble.
package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
)

// Publisher writes accepted transactions durably (acks=all), returning one
// error per transaction.
type Publisher interface {
	Produce(ctx context.Context, txs []processors.Transaction) []error
}

// CatalogStore is where master data is read and upserted.
type CatalogStore interface {
	Catalog() *processors.Catalog
	Publish(ctx context.Context, doc processors.CatalogDoc) error
	Loaded() bool
}

// StateReader answers reads from the processors' state.
type StateReader interface {
	Positions(ctx context.Context, wh, item string, loc, lot *string) ([]processors.Record, error)
	Outcome(ctx context.Context, stockKey, txid string) (processors.Outcome, bool, error)
	FindOutcome(ctx context.Context, txid string) (processors.Outcome, bool, error)
}

// Subscriber delivers transaction outcomes as they are committed.
type Subscriber interface {
	Subscribe(txid string) (<-chan processors.Outcome, func())
	OnOutcome(fn func(processors.Outcome))
}

// Readiness reports whether the pipeline can serve.
type Readiness interface {
	Ready() (bool, string)
}

// SchemaSource is the read-only schema registry the Kafka consumers use.
type SchemaSource interface {
	SchemaByID(id int) (string, bool)
	Subjects() []string
	SubjectVersion(subject, version string) (schemas.SubjectVersionInfo, bool)
}

// PartitionUnavailable is how the State, Allocations and Locks readers
// report a read this instance cannot answer right now: the stock key's
// partition is owned by another instance (OwnedElsewhere: the read is
// forwarded there when a Router is set), or its state is still being
// restored here, or a lookup missed in it before it caught up with its
// input (both 503 PARTITION_RESTORING).
type PartitionUnavailable interface {
	error
	PartitionID() int32
	OwnedElsewhere() bool
}

// partitionUnavailable unwraps err to a PartitionUnavailable.
func partitionUnavailable(err error) (PartitionUnavailable, bool) {
	var pu PartitionUnavailable
	ok := errors.As(err, &pu)
	return pu, ok
}

// ownedElsewhere reports whether err says another instance owns the
// partition.
func ownedElsewhere(err error) bool {
	pu, ok := partitionUnavailable(err)
	return ok && pu.OwnedElsewhere()
}

// Config wires the server. Publisher, Catalog, State, Outcomes and Ready
// are required; the allocation trio is set together or not at all; the
// rest is optional (nil leaves the endpoints out).
type Config struct {
	Publisher Publisher
	Catalog   CatalogStore
	State     StateReader
	Outcomes  Subscriber
	// Allocations: all three set, or none (no allocation endpoints).
	Allocator   Allocator
	Allocations AllocationReader
	Decisions   DecisionSubscriber
	// Locks: the lock endpoints (/v1/locks); nil leaves them out.
	Locks Locker
	// Router finds peers for reads of partitions owned elsewhere; nil in
	// a single instance.
	Router     Router
	Ready      Readiness
	Schemas    SchemaSource
	Metrics    http.Handler
	Meter      metric.Meter
	Logger     *slog.Logger
	TimeBounds TimeBounds
	// MaxWait bounds ?wait=applied (default and maximum 10 s).
	MaxWait time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// StreamTicker makes the console stream's heartbeat and overview
	// tickers; nil means time.NewTicker.
	StreamTicker Ticker
	// Auth authenticates every /v1 request. Required.
	Auth Authenticator
	// Tokens serves the token endpoints; nil leaves them out.
	Tokens TokenStore
	// RateLimit is the requests a second each token may make (bursts of
	// twice that); 0 means no limit.
	RateLimit float64
	// Cluster, when set, is what GET /v1/cluster tells an admin: the Kafka
	// this instance uses, so tools (invsync simulate --url) need only the
	// URL and a token.
	Cluster *ClusterInfo
	// MaxInFlight bounds the transactions accepted here and not yet
	// applied (default DefaultMaxInFlight). An upload that would pass it
	// is refused whole, 503 BACKLOG_FULL with Retry-After, before
	// anything of it is written: when the processors fall behind, the
	// devices keep their queues instead of this process growing without
	// bound.
	MaxInFlight int
	// PeerTLS configures HTTPS to the other instances (forwarded reads);
	// nil for plain HTTP or the system's roots.
	PeerTLS *tls.Config
	// Reconciliation: Commands, Recon and CommandResults set together
	// (reports, discrepancies, held counts), or none; CountTasks with
	// them for the count-task endpoints.
	Commands       CommandWriter
	Recon          ReconReader
	CommandResults CommandSubscriber
	CountTasks     CountTaskStore
	// Partitions is the partition count (reconciliation reads by
	// partition).
	Partitions int32

	// TracerProvider traces each request (a SERVER span continuing an
	// incoming traceparent) and an upload's validation; the produce is
	// traced by the Publisher's own client (pipeline.ProducerTracing),
	// in the request's trace. Nil traces nothing.
	TracerProvider trace.TracerProvider
	// Fleet keeps the devices' reports (heartbeats, GET /v1/scanners);
	// needs Tokens. Nil leaves the endpoints out.
	Fleet Fleet
}

// Server is the HTTP API. Create it with New; it is an http.Handler.
type Server struct {
	cfg    Config
	engine *gin.Engine
	log    *slog.Logger

	// pending holds transactions accepted by this instance and not yet
	// applied: a resend in that window is a duplicate too.
	pendingMu   sync.Mutex
	pending     map[string]pendingTx
	pendingSwep time.Time

	results     metric.Int64Counter
	resultSets  sync.Map // resultKey -> metric.AddOption of results
	requests    metric.Int64Counter
	duration    metric.Float64Histogram
	backlogFull metric.Int64Counter

	// open is set once master data is loaded: before it, writes are
	// answered 503 so a valid scan is never rejected for an item the
	// catalog simply has not loaded yet.
	open atomic.Bool

	tracer trace.Tracer
	allocs *allocPending
	limits *limiters // nil: no rate limit
	peers  *http.Client

	// overview holds the console's samples of /metrics.
	overview overview
	// stream fans changes out to the console's streams.
	stream *streamHub
}

// Open starts accepting uploads and catalog changes. Until then they are
// answered 503 with code STARTING (reads are served as soon as possible).
func (s *Server) Open() { s.open.Store(true) }

// New builds the server and its routes.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Meter == nil {
		cfg.Meter = noop.NewMeterProvider().Meter("invsync")
	}
	if cfg.TracerProvider == nil {
		cfg.TracerProvider = tracenoop.NewTracerProvider()
	}
	if cfg.MaxWait <= 0 || cfg.MaxWait > 10*time.Second {
		cfg.MaxWait = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.StreamTicker == nil {
		cfg.StreamTicker = realTicker
	}
	gin.SetMode(gin.ReleaseMode)
	s := &Server{cfg: cfg, engine: gin.New(), log: cfg.Logger.With("component", "http"), pending: map[string]pendingTx{}}
	s.tracer = cfg.TracerProvider.Tracer(tracerName)
	s.results, _ = cfg.Meter.Int64Counter("invsync.transactions.received",
		metric.WithDescription("Uploaded transactions by ingest result (accepted, duplicate, rejected) and rejection code."))
	s.requests, _ = cfg.Meter.Int64Counter("invsync.http.requests",
		metric.WithDescription("HTTP requests by route, method and response status (every response, errors included)."))
	s.duration, _ = cfg.Meter.Float64Histogram("invsync.http.duration", metric.WithUnit("s"),
		metric.WithDescription("HTTP request handling time by route and method."),
		metric.WithExplicitBucketBoundaries(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
	_, _ = cfg.Meter.Int64ObservableGauge("invsync.ingest.in_flight",
		metric.WithDescription("Transactions accepted here and not yet applied (bounded by --max-in-flight)."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(int64(s.inFlight()))
			return nil
		}))
	s.backlogFull, _ = cfg.Meter.Int64Counter("invsync.ingest.backlog_full",
		metric.WithDescription("Uploads refused 503 BACKLOG_FULL because --max-in-flight transactions were accepted and not yet applied."))
	cfg.Outcomes.OnOutcome(func(o processors.Outcome) {
		s.pendingMu.Lock()
		delete(s.pending, o.TransactionID)
		s.pendingMu.Unlock()
	})
	if cfg.RateLimit > 0 {
		s.limits = newLimiters(cfg.RateLimit)
	}
	s.peers = newPeerClient(cfg.PeerTLS)
	s.stream = newStreamHub()
	s.watchChanges()
	if cfg.Fleet != nil {
		s.registerFleetMetrics()
	}
	s.routes()
	return s, nil
}

// validate reports every missing dependency at once.
func (cfg *Config) validate() error {
	var missing []string
	for name, ok := range map[string]bool{"Publisher": cfg.Publisher != nil, "Catalog": cfg.Catalog != nil,
		"State": cfg.State != nil, "Outcomes": cfg.Outcomes != nil, "Ready": cfg.Ready != nil, "Auth": cfg.Auth != nil} {
		if !ok {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	var errs []error
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("missing %s", strings.Join(missing, ", ")))
	}
	if n := countSet(cfg.Allocator != nil, cfg.Allocations != nil, cfg.Decisions != nil); n != 0 && n != 3 {
		errs = append(errs, errors.New("Allocator, Allocations and Decisions are set together or not at all"))
	}
	if n := countSet(cfg.Commands != nil, cfg.Recon != nil, cfg.CommandResults != nil); n != 0 && n != 3 {
		errs = append(errs, errors.New("Commands, Recon and CommandResults are set together or not at all"))
	}
	if cfg.Fleet != nil && cfg.Tokens == nil {
		errs = append(errs, errors.New("Fleet needs Tokens (the scanners are the scanner tokens)"))
	}
	if cfg.Commands != nil && cfg.Partitions <= 0 {
		errs = append(errs, errors.New("Partitions is required with reconciliation"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("configuring the HTTP API: %w", errors.Join(errs...))
	}
	return nil
}

func countSet(vs ...bool) int {
	n := 0
	for _, v := range vs {
		if v {
			n++
		}
	}
	return n
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

// ClusterInfo is the answer of GET /v1/cluster (admin only).
type ClusterInfo = api.Cluster
