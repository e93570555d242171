// Package ingest is invsync's HTTP API (gin): it decodes and validates what
// scanners and the cloud send, checks it against the catalog, writes
// accepted transactions to Kafka and answers. It reads state only through
// the small interfaces below; it knows nothing of Pebble.
package ingest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/auth"
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
// restored here (503 PARTITION_RESTORING).
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
	requests    metric.Int64Counter
	duration    metric.Float64Histogram
	backlogFull metric.Int64Counter

	// open is set once master data is loaded: before it, writes are
	// answered 503 so a valid scan is never rejected for an item the
	// catalog simply has not loaded yet.
	open atomic.Bool

	allocs *allocPending
	limits *limiters // nil: no rate limit
	peers  *http.Client

	// overview holds the console's samples of /metrics.
	overview overview
}

// Open starts accepting uploads and catalog changes. Until then they are
// answered 503 with code STARTING (reads are served as soon as possible).
func (s *Server) Open() { s.open.Store(true) }

type pendingTx struct {
	hash bodyHash
	at   int64 // when it was reserved, Unix seconds
	// acked: Kafka acknowledged the write. Until then the transaction is
	// in flight in another request, which may still fail: a resend then
	// is produced again rather than called a duplicate (the processor
	// applies whichever copy comes first, once).
	acked bool
}

// bodyHash is an idempotency hash held by value: an in-flight entry then
// holds no pointer, which keeps a large in-flight set (a long offline
// backlog being written) cheap for the garbage collector.
type bodyHash struct {
	b [32]byte
	n uint8
}

func hashOf(b []byte) bodyHash {
	var h bodyHash
	h.n = uint8(copy(h.b[:], b))
	if len(b) > len(h.b) { // not a SHA-256: keep it comparable all the same
		sum := sha256.Sum256(b)
		h.b, h.n = sum, 33
	}
	return h
}

func (h bodyHash) equal(b []byte) bool { return h == hashOf(b) }

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
	if cfg.MaxWait <= 0 || cfg.MaxWait > 10*time.Second {
		cfg.MaxWait = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	gin.SetMode(gin.ReleaseMode)
	s := &Server{cfg: cfg, engine: gin.New(), log: cfg.Logger.With("component", "http"), pending: map[string]pendingTx{}}
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

func (s *Server) routes() {
	e := s.engine
	e.HandleMethodNotAllowed = true
	e.Use(s.recovery(), s.countResponses(), securityHeaders)
	e.NoRoute(func(c *gin.Context) {
		writeError(c, http.StatusNotFound, api.CodeNotFound, "no such endpoint: "+c.Request.Method+" "+c.Request.URL.Path)
	})
	e.NoMethod(func(c *gin.Context) {
		writeError(c, http.StatusMethodNotAllowed, api.CodeMethodNotAllowed, c.Request.Method+" is not supported on "+c.Request.URL.Path)
	})
	e.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, api.Status{Status: "ok"}) })
	e.GET("/readyz", s.readyz)
	if s.cfg.Metrics != nil {
		e.GET("/metrics", gin.WrapH(s.cfg.Metrics))
	}
	// Every /v1 request is authenticated, then rate limited per token,
	// then checked against the role table; warehouse scope is checked
	// by each handler, which knows the warehouse.
	v1 := e.Group("/v1", s.authenticate, s.rateLimit)
	v1.GET("/me", s.getMe)
	if s.cfg.Cluster != nil {
		v1.GET("/cluster", allow(auth.ManageTokens), func(c *gin.Context) { c.JSON(http.StatusOK, s.cfg.Cluster) })
	}
	v1.GET("/catalog", allow(auth.ReadCatalog), s.getCatalog)
	v1.PUT("/catalog", allow(auth.WriteCatalog), s.requireOpen, s.putCatalog)
	v1.POST("/transactions", allow(auth.Upload), s.requireOpen, s.postTransactions)
	v1.GET("/transactions/:id", allow(auth.ReadTransactions), s.getTransaction)
	v1.GET("/positions", allow(auth.ReadPositions), s.getPositions)
	if s.cfg.Tokens != nil {
		v1.POST("/tokens", allow(auth.ManageTokens), s.requireOpen, s.postToken)
		v1.GET("/tokens", allow(auth.ManageTokens), s.listTokens)
		v1.DELETE("/tokens/:id", allow(auth.ManageTokens), s.requireOpen, s.deleteToken)
	}
	s.allocationRoutes(v1)
	s.lockRoutes(v1)
	s.reconciliationRoutes(v1)
	s.fleetRoutes(v1)
	s.overviewRoutes(v1)
	if s.cfg.Schemas != nil {
		e.GET("/schemas/ids/:id", s.schemaByID)
		e.GET("/subjects", s.subjects)
		e.GET("/subjects/:subject/versions/:version", s.subjectVersion)
	}
}

// writeError writes the API's error body.
func writeError(c *gin.Context, status int, code api.ErrorCode, msg string) {
	c.AbortWithStatusJSON(status, api.NewError(code, msg))
}

func (s *Server) recovery() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				ref := newRef()
				s.log.Error("handler panicked", "path", c.Request.URL.Path, "panic", r, "ref", ref)
				writeError(c, http.StatusInternalServerError, api.CodeInternal, "internal error (reference "+ref+" in the server log); the request may be retried")
			}
		}()
		c.Next()
	}
}

func (s *Server) readyz(c *gin.Context) {
	if !s.cfg.Catalog.Loaded() || !s.open.Load() {
		c.Header("Retry-After", "1")
		writeError(c, http.StatusServiceUnavailable, api.CodeNotReady, "loading the catalog from Kafka")
		return
	}
	if ok, why := s.cfg.Ready.Ready(); !ok {
		c.Header("Retry-After", "1")
		writeError(c, http.StatusServiceUnavailable, api.CodeNotReady, why)
		return
	}
	c.JSON(http.StatusOK, api.Status{Status: "ready"})
}

// readBody reads at most limit bytes; more is a 413.
func readBody(c *gin.Context, limit int64) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(c, http.StatusRequestEntityTooLarge, api.CodeBodyTooLarge,
				"request body exceeds "+strconv.FormatInt(limit, 10)+" bytes: split it into smaller requests")
			return nil, false
		}
		writeError(c, http.StatusBadRequest, api.CodeInvalidRequest, "reading request body: "+err.Error())
		return nil, false
	}
	return body, true
}

// getCatalog answers the master data the caller may see: every item, and
// the warehouses of its scope (or only ?warehouseId=). The answer carries
// an ETag; a request whose If-None-Match holds it gets 304, so a device
// refreshing its cached copy every sync costs almost nothing.
func (s *Server) getCatalog(c *gin.Context) {
	wh, one := c.GetQuery("warehouseId")
	if one && !inScope(c, wh) {
		return
	}
	doc := s.cfg.Catalog.Catalog().Doc()
	kept := doc.Warehouses[:0]
	for _, w := range doc.Warehouses {
		if (one && w.WarehouseID == wh) || (!one && mayAccess(c, w.WarehouseID)) {
			kept = append(kept, w)
		}
	}
	doc.Warehouses = kept
	if one && len(kept) == 0 {
		writeError(c, http.StatusNotFound, api.CodeUnknownWarehouse, "warehouse "+wh+" is not in the catalog")
		return
	}
	body, err := json.Marshal(doc)
	if err != nil {
		s.internalError(c, "encoding the catalog", err)
		return
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	c.Header("ETag", etag)
	c.Header("Cache-Control", "no-cache")
	for _, tag := range strings.Split(c.GetHeader("If-None-Match"), ",") {
		if t := strings.TrimSpace(tag); t == etag || t == "W/"+etag || t == "*" {
			c.Status(http.StatusNotModified)
			return
		}
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
}

func (s *Server) putCatalog(c *gin.Context) {
	body, ok := readBody(c, 64<<20)
	if !ok {
		return
	}
	doc, err := processors.ParseCatalog(body)
	if err != nil {
		writeError(c, http.StatusBadRequest, api.CodeInvalidCatalog, err.Error())
		return
	}
	if err := s.cfg.Catalog.Publish(c.Request.Context(), doc); err != nil {
		s.unavailable(c, err)
		return
	}
	w, i := s.cfg.Catalog.Catalog().Size()
	c.JSON(http.StatusOK, api.CatalogAnswer{Upserted: api.CatalogSize{Warehouses: len(doc.Warehouses), Items: len(doc.Items)},
		Catalog: api.CatalogSize{Warehouses: w, Items: i}})
}

func (s *Server) unavailable(c *gin.Context, err error) {
	s.log.Warn("kafka unavailable", "err", err)
	c.Header("Retry-After", "5")
	writeError(c, http.StatusServiceUnavailable, api.CodeKafkaUnavailable,
		"could not write to Kafka: nothing in this request was accepted; keep it queued and retry")
}

// stateError answers a read the instance cannot serve right now.
func (s *Server) stateError(c *gin.Context, err error) {
	if pu, ok := partitionUnavailable(err); ok {
		c.Header("Retry-After", "1")
		code := api.CodePartitionRestoring
		if pu.OwnedElsewhere() {
			code = api.CodePartitionNotOwned
		}
		writeError(c, http.StatusServiceUnavailable, code, err.Error()+"; retry shortly")
		return
	}
	s.internalError(c, "reading state", err)
}

// internalError logs err with a reference and answers 500 with the
// reference only: internals (paths, broker addresses) stay in the log.
func (s *Server) internalError(c *gin.Context, what string, err error) {
	ref := newRef()
	s.log.Error(what, "err", err, "ref", ref, "path", c.Request.URL.Path)
	writeError(c, http.StatusInternalServerError, api.CodeInternal, "internal error while "+what+" (reference "+ref+" in the server log); the request may be retried")
}

// newRef is a short random reference tying an error answer to its log line.
func newRef() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// securityHeaders are set on every response: API answers are not to be
// sniffed, framed or cached, and nothing is shared across origins (no
// CORS headers: browsers refuse cross-origin calls).
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
}

func (s *Server) getPositions(c *gin.Context) {
	wh, item := c.Query("warehouseId"), c.Query("itemId")
	if wh == "" || item == "" {
		writeError(c, http.StatusBadRequest, api.CodeInvalidRequest, "warehouseId and itemId query parameters are required")
		return
	}
	if !inScope(c, wh) {
		return
	}
	var loc, lot *string
	if v, ok := c.GetQuery("locationId"); ok {
		loc = &v
	}
	if v, ok := c.GetQuery("lotNumber"); ok {
		lot = &v
	}
	recs, err := s.cfg.State.Positions(c.Request.Context(), wh, item, loc, lot)
	if err != nil {
		if s.forwardToOwner(c, err, nil) {
			return
		}
		s.stateError(c, err)
		return
	}
	out := api.Positions{Positions: []api.Position{}}
	for _, r := range recs {
		out.Positions = append(out.Positions, api.Position{
			WarehouseID: r.WarehouseID, ItemID: r.ItemID, LocationID: r.LocationID, LotNumber: r.LotNumber,
			OnHand: r.OnHand, Allocated: r.Allocated, Available: r.Available(), Version: r.Version,
			UpdatedAt: time.UnixMilli(r.UpdatedAt).UTC(),
		})
		out.Totals.OnHand += r.OnHand
		out.Totals.Allocated += r.Allocated
		out.Totals.Available += r.Available()
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) schemaByID(c *gin.Context) {
	id, err := strconv.Atoi(c.Param("id"))
	text, ok := s.cfg.Schemas.SchemaByID(id)
	if err != nil || !ok {
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error_code": 40403, "message": "Schema " + c.Param("id") + " not found",
			"error": gin.H{"code": api.CodeSchemaNotFound, "message": "no schema with id " + c.Param("id")}})
		return
	}
	c.JSON(http.StatusOK, gin.H{"schema": text})
}

func (s *Server) subjects(c *gin.Context) { c.JSON(http.StatusOK, s.cfg.Schemas.Subjects()) }

func (s *Server) subjectVersion(c *gin.Context) {
	sv, ok := s.cfg.Schemas.SubjectVersion(c.Param("subject"), c.Param("version"))
	if !ok {
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error_code": 40401, "message": "Subject or version not found",
			"error": gin.H{"code": api.CodeSubjectNotFound, "message": "no version " + c.Param("version") + " of subject " + c.Param("subject")}})
		return
	}
	c.JSON(http.StatusOK, sv)
}

// bodyHashEqual compares idempotency hashes.
func bodyHashEqual(a, b []byte) bool { return bytes.Equal(a, b) }

// ClusterInfo is the answer of GET /v1/cluster (admin only).
type ClusterInfo = api.Cluster
