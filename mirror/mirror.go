package mirror

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/invsync/invsync/schemas"
)

// Mirror keeps an SQL copy of the inventory topics, exactly once: see the
// package documentation. Create it with New, run it with Run, release it
// with Close.
type Mirror struct {
	cfg      Config
	log      *slog.Logger
	db       *database
	store    *store
	decoders *decoders
	progress *progress
	metrics  *metrics

	mu      sync.Mutex
	running bool
	cancel  context.CancelFunc
	done    chan struct{}
	closed  bool
}

// New validates cfg (every problem at once, wrapping ErrInvalidConfig) and
// returns a Mirror ready to Run. It connects to nothing: the database and
// Kafka are first reached by Run.
func New(cfg Config) (*Mirror, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if cfg.Codec == nil {
		codec, err := schemas.New(context.Background(), schemas.Config{TopicPrefix: cfg.TopicPrefix})
		if err != nil {
			return nil, fmt.Errorf("loading the Avro schemas: %w", err)
		}
		cfg.Codec = codec
	}
	db, err := openDatabase(cfg.SQLURL, cfg.Workers)
	if err != nil {
		return nil, err
	}
	m := &Mirror{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "mirror"),
		db:       db,
		store:    &store{db: db, now: cfg.Now},
		progress: newProgress(),
	}
	m.decoders = newDecoders(cfg.Codec, schemas.NewTopics(cfg.TopicPrefix), cfg.DiscrepancyDecoder)
	m.metrics = newMetrics(cfg.Meter, m.progress)
	return m, nil
}

// Run consumes and applies until ctx ends, then returns nil once every
// goroutine it started has stopped. When the database or Kafka fails it
// stops consuming (nothing uncommitted is kept), logs why, waits with
// backoff, and resumes from the offsets stored in the database; it returns
// an error only for what retrying cannot cure (ErrSchemaTooNew, a Kafka
// client that cannot be created). Run may be called once at a time.
func (m *Mirror) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return errClosed
	}
	if m.running {
		m.mu.Unlock()
		return errors.New("mirror is already running")
	}
	ctx, cancel := context.WithCancel(ctx)
	m.running, m.cancel, m.done = true, cancel, make(chan struct{})
	m.mu.Unlock()
	defer func() {
		cancel()
		m.mu.Lock()
		m.running = false
		close(m.done)
		m.mu.Unlock()
	}()

	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		m.progress.logProgress(ctx, m.log, m.cfg.ProgressInterval, m.cfg.Now)
	}()
	if m.cfg.URL == "" {
		m.log.Info("mirror reports disabled: no URL and token to report positions to")
	} else {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.reportLoop(ctx)
		}()
	}

	err := m.consume(ctx)
	cancel()
	return err
}

// consume runs sessions until ctx ends or one fails permanently.
func (m *Mirror) consume(ctx context.Context) error {
	const minBackoff = 250 * time.Millisecond
	backoff := minBackoff
	for {
		start := time.Now()
		err := m.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var perm permanentError
		if errors.As(err, &perm) {
			m.log.Error("mirror stopped", "err", err)
			return err
		}
		if time.Since(start) > time.Minute {
			backoff = minBackoff
		}
		var dbErr dbError
		switch {
		case errors.Is(err, ErrOffsetsMoved):
			m.metrics.failures.Add(ctx, 1, withCause("database"))
			m.log.Warn("mirror restarting from the stored offsets", "retry_in", backoff, "err", err)
		case errors.As(err, &dbErr):
			m.metrics.failures.Add(ctx, 1, withCause("database"))
			m.log.Warn("mirror database unavailable: consumption stopped, no offsets advance; retrying from the stored offsets",
				"database", m.db.redacted, "retry_in", backoff, "err", err)
			if !m.waitForDatabase(ctx, &backoff) {
				return nil
			}
			continue
		default:
			m.metrics.failures.Add(ctx, 1, withCause("kafka"))
			m.log.Warn("mirror consumption stopped; retrying from the stored offsets", "retry_in", backoff, "err", err)
		}
		if !sleep(ctx, backoff) {
			return nil
		}
		backoff = min(2*backoff, m.cfg.MaxBackoff)
	}
}

// waitForDatabase probes the database with backoff until it answers (true)
// or ctx ends (false).
func (m *Mirror) waitForDatabase(ctx context.Context, backoff *time.Duration) bool {
	for {
		if !sleep(ctx, *backoff) {
			return false
		}
		*backoff = min(2**backoff, m.cfg.MaxBackoff)
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := m.probe(pctx)
		cancel()
		if err == nil {
			m.log.Info("mirror database answers again: resuming from the stored offsets", "database", m.db.redacted)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		m.log.Warn("mirror database still unavailable", "database", m.db.redacted, "retry_in", *backoff, "err", err)
	}
}

// probe begins and rolls back a transaction: on SQLite that takes the
// write lock (BEGIN IMMEDIATE), so a database another process holds locked
// does not count as back.
func (m *Mirror) probe(ctx context.Context) error {
	tx, err := m.db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `SELECT 1`); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Rollback()
}

// Config returns the mirror's configuration, with every default filled in
// (Codec included).
func (m *Mirror) Config() Config { return m.cfg }

// CaughtUp returns a channel that is closed once the mirror has applied
// every record that was on its topics when Run first found them (the
// moment its log says it caught up); it stays closed.
func (m *Mirror) CaughtUp() <-chan struct{} { return m.progress.caughtUp }

// Close stops a running Run and waits for it, then closes the database.
// Safe to call more than once and from any goroutine.
func (m *Mirror) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	cancel, done, running := m.cancel, m.done, m.running
	m.mu.Unlock()
	if running {
		cancel()
		<-done
	}
	if err := m.db.db.Close(); err != nil {
		return fmt.Errorf("closing the database: %w", err)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
