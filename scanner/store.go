package scanner

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver (pure Go, no cgo)
)

// DBFile is the queue's file name inside the data directory.
const DBFile = "scanner.db"

// openDB opens (creating) dir/scanner.db with the durability the queue
// promises: WAL with synchronous=FULL, so a committed scan survives kill -9
// and power loss. One connection: SQLite serialises writers anyway, and one
// connection keeps a Device's cost to one file handle set and one page
// cache (capped at 256 KiB; the queue's hot rows are few).
func openDB(ctx context.Context, dir string) (*sql.DB, error) {
	path := filepath.Join(dir, DBFile)
	dsn := path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)" +
		"&_pragma=cache_size(-256)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	var mode string
	var syncLevel int
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := db.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&syncLevel); err != nil {
		db.Close()
		return nil, fmt.Errorf("reading synchronous of %s: %w", path, err)
	}
	if mode != "wal" || syncLevel != 2 {
		db.Close()
		return nil, fmt.Errorf("opening %s: journal_mode=%s synchronous=%d, want wal and 2 (FULL)", path, mode, syncLevel)
	}
	return db, nil
}

// syncDir fsyncs a directory so the files just created in it (the
// database, its WAL) are themselves durable, not only their contents.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// Kinds of the last sync attempt, as stored in sync_state.last_error_kind.
const (
	kindOK             = ""
	kindOffline        = "offline"
	kindUnanswered     = "unanswered"
	kindRefusedToken   = "refused_token"
	kindRefusedRequest = "refused_request"
)

// syncState is the stored record of sync attempts.
type syncState struct {
	LastAttemptAt, LastSuccessAt, FailingSince, RetryNotBefore time.Time
	Kind, LastError, RefusedToken                              string
}

func readSyncState(ctx context.Context, q querier) (syncState, error) {
	var s syncState
	var attempt, success, failing, retry sql.NullInt64
	var kind, msg, refused sql.NullString
	err := q.QueryRowContext(ctx, `SELECT last_attempt_at, last_success_at, failing_since, retry_not_before,
		last_error_kind, last_error, refused_token FROM sync_state WHERE one = 1`).
		Scan(&attempt, &success, &failing, &retry, &kind, &msg, &refused)
	if err != nil {
		return s, fmt.Errorf("reading sync state: %w", err)
	}
	s.LastAttemptAt, s.LastSuccessAt = msTime(attempt), msTime(success)
	s.FailingSince, s.RetryNotBefore = msTime(failing), msTime(retry)
	s.Kind, s.LastError, s.RefusedToken = kind.String, msg.String, refused.String
	return s, nil
}

// recordAttempt stores the result of one request: kind "" for an
// answered upload, else the failure kind and its message.
func recordAttempt(ctx context.Context, x execer, now time.Time, kind, msg, tokenPrint string, retryNotBefore time.Time) error {
	_, err := x.ExecContext(ctx, `UPDATE sync_state SET
		last_attempt_at = ?1,
		last_success_at = CASE WHEN ?2 = '' THEN ?1 ELSE last_success_at END,
		failing_since = CASE WHEN ?2 IN ('', 'offline') THEN NULL ELSE COALESCE(failing_since, ?1) END,
		last_error_kind = NULLIF(?2, ''),
		last_error = NULLIF(?3, ''),
		refused_token = CASE WHEN ?2 = 'refused_token' THEN ?4 WHEN ?2 = '' THEN NULL ELSE refused_token END,
		retry_not_before = ?5
		WHERE one = 1`, now.UnixMilli(), kind, msg, tokenPrint, nullMs(retryNotBefore))
	if err != nil {
		return fmt.Errorf("recording sync attempt: %w", err)
	}
	return nil
}

// querier and execer are what the store functions need of a *sql.DB or a
// *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// fingerprint identifies a token without storing it.
func fingerprint(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:8])
}

func msTime(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64).UTC()
}

func nullMs(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func nullStr(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// clearRefusal forgets a refused token once another one is in use.
func clearRefusal(ctx context.Context, x execer) error {
	_, err := x.ExecContext(ctx, `UPDATE sync_state SET last_error_kind = NULL, last_error = NULL, refused_token = NULL
		WHERE one = 1 AND last_error_kind = 'refused_token'`)
	if err != nil {
		return fmt.Errorf("clearing token refusal: %w", err)
	}
	return nil
}
