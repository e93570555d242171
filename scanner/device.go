package scanner

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Device is one scanner: its durable queue and its uploads. All methods
// are safe for concurrent use. A Device costs one SQLite connection (three
// file descriptors: the database, its WAL and shared-memory index; a page
// cache of at most 256 KiB) and one database/sql goroutine; Run adds one
// goroutine and one timer. Uploads go through Config.HTTPClient, shared by
// default, so a process running hundreds of Devices keeps one connection
// pool.
type Device struct {
	cfg       Config
	db        *sql.DB
	lock      *os.File
	scannerID string

	// ctx is cancelled by Close, aborting an upload in flight.
	ctx    context.Context
	cancel context.CancelFunc

	// life counts the methods in progress so Close can wait for them. A
	// method called while Close waits (from a callback, say) gets
	// ErrClosed rather than a deadlock.
	life   sync.Mutex
	idle   *sync.Cond // signalled when active drops to 0
	active int
	closed bool

	// syncMu makes syncs one at a time.
	syncMu sync.Mutex

	// mu guards the in-memory sync facts below.
	mu             sync.Mutex
	token          string
	refused        bool      // a 401/403 stopped syncing until SetToken or reopening
	lastKind       string    // kind of the last attempt, "" when it succeeded
	retryNotBefore time.Time // from Retry-After
	lastPrune      time.Time

	wake    chan struct{} // a scan was queued
	running atomic.Bool
}

// Open opens (creating) the queue in cfg.DataDir. With cfg.URL set the
// Device syncs, and holds an exclusive lock on the data directory: a second
// syncing Device on it, in this process or another, gets ErrLocked. Without
// URL it is an operator view that can be open beside the syncing one.
func Open(cfg Config) (*Device, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	d := &Device{cfg: cfg, token: cfg.Token, wake: make(chan struct{}, 1)}
	d.idle = sync.NewCond(&d.life)
	if cfg.URL != "" {
		lock, err := lockDir(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		d.lock = lock
		if plainTextRemote(cfg.URL) {
			cfg.Logger.Warn("the scanner token is sent unencrypted over http:// to a remote host; use https://", "url", cfg.URL)
		}
	}
	ctx := context.Background()
	if err := d.openStore(ctx); err != nil {
		if d.lock != nil {
			d.lock.Close()
		}
		return nil, err
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	return d, nil
}

func (d *Device) openStore(ctx context.Context) error {
	db, err := openDB(ctx, d.cfg.DataDir)
	if err != nil {
		return err
	}
	d.db = db
	now := d.cfg.Now()
	err = migrate(ctx, db, now.UnixMilli())
	if err == nil {
		err = d.bindScanner(ctx)
	}
	if err == nil {
		err = syncDir(d.cfg.DataDir)
	}
	var st syncState
	if err == nil {
		st, err = readSyncState(ctx, db)
	}
	if err == nil && d.cfg.URL != "" {
		err = d.pruneHistory(ctx, now)
	}
	if err != nil {
		db.Close()
		return err
	}
	d.lastKind, d.retryNotBefore, d.lastPrune = st.Kind, st.RetryNotBefore, now
	if d.cfg.URL != "" && st.Kind == kindRefusedToken && st.RefusedToken != fingerprint(d.cfg.Token) {
		// Reopened with another token: the refusal was of the old one.
		d.lastKind = ""
		if err := clearRefusal(ctx, db); err != nil {
			db.Close()
			return err
		}
	}
	return nil
}

// bindScanner ties the data directory to one scanner id: queued scans are
// sent under the id they were scanned with (it is part of what the server
// hashes for idempotency). An empty queue may be taken over by another id.
func (d *Device) bindScanner(ctx context.Context) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("binding scanner id: %w", err)
	}
	defer tx.Rollback()
	var stored string
	err = tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'scanner_id'`).Scan(&stored)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("reading scanner id: %w", err)
	}
	want := d.cfg.ScannerID
	switch {
	case want == "" || want == stored:
		d.scannerID = stored
		return nil
	case stored != "":
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM queue`).Scan(&n); err != nil {
			return fmt.Errorf("counting queue: %w", err)
		}
		if n > 0 {
			return fmt.Errorf("%w: %s holds %d scans of scanner %q, opened as %q (use another data directory, or the same scanner id)",
				ErrScannerMismatch, d.cfg.DataDir, n, stored, want)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('scanner_id', ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, want); err != nil {
		return fmt.Errorf("storing scanner id: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("storing scanner id: %w", err)
	}
	d.scannerID = want
	return nil
}

// ScannerID is the id the queue is bound to ("" before the first syncing
// Open).
func (d *Device) ScannerID() string { return d.scannerID }

// enter and leave bracket every method: no database use after Close.
func (d *Device) enter() error {
	d.life.Lock()
	defer d.life.Unlock()
	if d.closed {
		return ErrClosed
	}
	d.active++
	return nil
}

func (d *Device) leave() {
	d.life.Lock()
	d.active--
	if d.active == 0 {
		d.idle.Broadcast()
	}
	d.life.Unlock()
}

// Close stops Run, aborts an upload in flight (nothing of it is assumed
// accepted), waits for the methods in progress and closes the queue. It is
// idempotent; later calls of other methods return ErrClosed.
func (d *Device) Close() error {
	d.life.Lock()
	defer d.life.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	d.cancel()
	for d.active > 0 {
		d.idle.Wait()
	}
	err := d.db.Close()
	if d.lock != nil {
		d.lock.Close()
	}
	if err != nil {
		return fmt.Errorf("closing queue: %w", err)
	}
	return nil
}

// Scan queues one scan durably and returns its transactionId and device
// timestamp, both set now (the timestamp from s.At when set, else
// Config.Now). When Scan returns without error the scan is committed to
// disk (fsync), so it survives a crash or power loss; an error means it was
// not queued. A running Run is woken to upload it at once when the server
// was reachable at the last attempt.
func (d *Device) Scan(ctx context.Context, s Scan) (Queued, error) {
	q, err := d.ScanAll(ctx, []Scan{s})
	if err != nil {
		return Queued{}, err
	}
	return q[0], nil
}

// ScanAll queues several scans in one transaction: all or none, with one
// disk flush for all of them (the way to queue a burst cheaply). An invalid
// scan fails the call with an error naming its index; nothing is queued.
func (d *Device) ScanAll(ctx context.Context, scans []Scan) ([]Queued, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	out := make([]Queued, len(scans))
	bodies := make([][]byte, len(scans))
	for i, s := range scans {
		id, err := uuid.NewRandom()
		if err != nil {
			return nil, fmt.Errorf("making transactionId: %w", err)
		}
		at := s.At
		if at.IsZero() {
			at = d.cfg.Now()
		}
		at = at.UTC().Truncate(time.Millisecond)
		body, err := encodeScan(s, id.String(), at)
		if err != nil {
			if len(scans) > 1 {
				return nil, fmt.Errorf("scan %d: %w", i, err)
			}
			return nil, err
		}
		out[i], bodies[i] = Queued{TransactionID: id.String(), Timestamp: at}, body
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("queueing scans: %w", err)
	}
	defer tx.Rollback()
	for i, q := range out {
		if err := insertQueued(ctx, tx, q, bodies[i], ""); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("queueing scans: %w", err)
	}
	d.notify()
	return out, nil
}

func insertQueued(ctx context.Context, x execer, q Queued, body []byte, replaces string) error {
	_, err := x.ExecContext(ctx, `INSERT INTO queue (id, scanned_at, body, state, replaces) VALUES (?, ?, ?, 'queued', ?)`,
		q.TransactionID, q.Timestamp.UnixMilli(), body, nullStr(replaces))
	if err != nil {
		return fmt.Errorf("queueing scan %s: %w", q.TransactionID, err)
	}
	return nil
}

// notify wakes Run without blocking; wakes coalesce.
func (d *Device) notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// SetToken replaces the bearer token (after re-enrolment) and lifts the
// stop a refused token put on syncing; the next Run tick or Sync uses it.
func (d *Device) SetToken(token string) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	d.mu.Lock()
	d.token, d.refused = token, false
	if d.lastKind == kindRefusedToken {
		d.lastKind = ""
	}
	d.mu.Unlock()
	if err := clearRefusal(context.Background(), d.db); err != nil {
		return err
	}
	d.notify()
	return nil
}

// pruneHistory forgets history older than Retention.
func (d *Device) pruneHistory(ctx context.Context, now time.Time) error {
	if _, err := d.db.ExecContext(ctx, `DELETE FROM history WHERE done_at < ?`, now.Add(-d.cfg.Retention).UnixMilli()); err != nil {
		return fmt.Errorf("pruning history: %w", err)
	}
	return nil
}
