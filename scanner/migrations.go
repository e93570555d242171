package scanner

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the queue's schema versions, applied in order, each in
// the transaction that records it in schema_migrations. Never edit one that
// has shipped: append a new one.
var migrations = []string{
	// 1: the queue, the history, the sync state.
	`
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
-- Scans waiting to be sent (state 'queued') or waiting for the operator
-- (state 'rejected'). seq is the order of scanning: uploads go oldest first.
CREATE TABLE queue (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	id          TEXT NOT NULL UNIQUE,
	scanned_at  INTEGER NOT NULL,          -- device time, unix ms
	body        BLOB NOT NULL,             -- the transaction as uploaded, byte for byte
	state       TEXT NOT NULL CHECK (state IN ('queued', 'rejected')),
	result      TEXT,                      -- the server's per-transaction status
	code        TEXT,
	message     TEXT,
	outcome     TEXT,                      -- outcome status when the rejection came from applying
	rejected_at INTEGER,
	replaces    TEXT                       -- the rejected scan this one retries or corrects
);
CREATE INDEX queue_state ON queue (state, seq);
-- Scans done with: synced (accepted or duplicate), dismissed, or replaced
-- by a retry or correction.
CREATE TABLE history (
	seq               INTEGER PRIMARY KEY,
	id                TEXT NOT NULL UNIQUE,
	scanned_at        INTEGER NOT NULL,
	body              BLOB NOT NULL,
	resolution        TEXT NOT NULL CHECK (resolution IN ('synced', 'dismissed', 'retried', 'corrected')),
	result            TEXT,
	code              TEXT,
	message           TEXT,
	outcome           TEXT,                -- applied, pending, held, rejected or NULL
	resulting_on_hand INTEGER,
	version           INTEGER,
	replaces          TEXT,
	replaced_by       TEXT,
	done_at           INTEGER NOT NULL,
	polled_at         INTEGER
);
CREATE INDEX history_done ON history (done_at);
CREATE INDEX history_unsettled ON history (outcome, done_at) WHERE outcome IN ('pending', 'held');
CREATE TABLE sync_state (
	one              INTEGER PRIMARY KEY CHECK (one = 1),
	last_attempt_at  INTEGER,
	last_success_at  INTEGER,
	failing_since    INTEGER,              -- first answered failure since the last success
	last_error_kind  TEXT,                 -- NULL, offline, unanswered, refused_token, refused_request
	last_error       TEXT,
	refused_token    TEXT,                 -- fingerprint of the refused token
	retry_not_before INTEGER
);
INSERT INTO sync_state (one) VALUES (1);
`,
}

// migrate brings the schema to the newest version, or returns
// ErrNewerSchema when the file is newer than this code.
func migrate(ctx context.Context, db *sql.DB, now int64) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning migration: %w", err)
	}
	defer tx.Rollback()
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("%w: schema version %d, this scanner knows %d", ErrNewerSchema, have, len(migrations))
	}
	for v := have + 1; v <= len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
			return fmt.Errorf("applying schema version %d: %w", v, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, v, now); err != nil {
			return fmt.Errorf("recording schema version %d: %w", v, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing migration: %w", err)
	}
	return nil
}
