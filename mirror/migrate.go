package mirror

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// migration is one numbered, append-only change of the schema. Pending
// migrations are applied in one transaction together with their rows in
// schema_migrations (both databases have transactional DDL), so they are
// applied whole or not at all. Never edit a released migration: add the
// next one.
type migration struct {
	version int64
	name    string
	stmts   func(d dialect) []string
}

// migrations, in order; versions are 1, 2, 3, ... with no gaps.
var migrations = []migration{
	{1, "positions, allocations, discrepancies, dead letters, consumed offsets", func(d dialect) []string {
		ts, blob := d.timestampType, d.blobType
		return []string{
			`CREATE TABLE positions (
				warehouse_id TEXT NOT NULL,
				item_id      TEXT NOT NULL,
				location_id  TEXT NOT NULL,
				lot_number   TEXT NOT NULL DEFAULT '',
				on_hand      BIGINT NOT NULL,
				allocated    BIGINT NOT NULL,
				available    BIGINT NOT NULL,
				version      BIGINT NOT NULL,
				updated_at   ` + ts + ` NOT NULL,
				PRIMARY KEY (warehouse_id, item_id, location_id, lot_number))`,
			`CREATE INDEX positions_updated_at ON positions (updated_at)`,
			`CREATE TABLE allocations (
				allocation_id      TEXT PRIMARY KEY,
				order_id           TEXT NOT NULL,
				order_line         INTEGER NOT NULL,
				warehouse_id       TEXT NOT NULL,
				item_id            TEXT NOT NULL,
				status             TEXT NOT NULL,
				requested_quantity BIGINT NOT NULL,
				confirmed_quantity BIGINT NOT NULL,
				backorder_quantity BIGINT NOT NULL,
				picked_quantity    BIGINT NOT NULL,
				lines              TEXT NOT NULL,
				reason             TEXT,
				decision_id        TEXT NOT NULL,
				decision_sequence  BIGINT NOT NULL,
				updated_at         ` + ts + ` NOT NULL)`,
			`CREATE INDEX allocations_stock ON allocations (warehouse_id, item_id)`,
			`CREATE INDEX allocations_order ON allocations (order_id, order_line)`,
			`CREATE TABLE discrepancies (
				discrepancy_id    TEXT PRIMARY KEY,
				warehouse_id      TEXT NOT NULL,
				item_id           TEXT NOT NULL,
				location_id       TEXT NOT NULL,
				lot_number        TEXT NOT NULL DEFAULT '',
				kind              TEXT NOT NULL,
				warehouse_on_hand BIGINT,
				warehouse_version BIGINT,
				cloud_on_hand     BIGINT,
				cloud_version     BIGINT,
				status            TEXT NOT NULL,
				assignee          TEXT,
				resolution        TEXT,
				opened_at         ` + ts + ` NOT NULL,
				updated_at        ` + ts + ` NOT NULL)`,
			`CREATE INDEX discrepancies_status ON discrepancies (warehouse_id, status)`,
			`CREATE TABLE dead_letters (
				topic       TEXT NOT NULL,
				"partition" INTEGER NOT NULL,
				"offset"    BIGINT NOT NULL,
				error       TEXT NOT NULL,
				key         ` + blob + `,
				value       ` + blob + `,
				at          ` + ts + ` NOT NULL,
				PRIMARY KEY (topic, "partition", "offset"))`,
			`CREATE TABLE consumed_offsets (
				topic       TEXT NOT NULL,
				"partition" INTEGER NOT NULL,
				next_offset BIGINT NOT NULL,
				PRIMARY KEY (topic, "partition"))`,
		}
	}},
}

// migrate brings the schema up to date: it creates schema_migrations when
// missing and applies every migration not recorded there, in order, all in
// one transaction that holds the migration lock (PostgreSQL: an advisory
// lock; SQLite: the write lock BEGIN IMMEDIATE takes), so processes
// starting together apply each migration once. A database holding a
// migration this build does not know is ErrSchemaTooNew.
func migrate(ctx context.Context, db *database, now time.Time) (applied int, err error) {
	tx, err := beginMigration(ctx, db)
	if err != nil {
		return 0, fmt.Errorf("beginning the migration: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if db.dialect.migrationLock != "" {
		if _, err := tx.ExecContext(ctx, db.dialect.migrationLock); err != nil {
			return 0, fmt.Errorf("taking the migration lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at `+db.dialect.timestampType+` NOT NULL)`); err != nil {
		return 0, fmt.Errorf("creating schema_migrations: %w", err)
	}
	var latest sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&latest); err != nil {
		return 0, fmt.Errorf("reading schema_migrations: %w", err)
	}
	known := migrations[len(migrations)-1].version
	if latest.Int64 > known {
		return 0, permanentError{fmt.Errorf("%w: it is at migration %d, this build knows up to %d", ErrSchemaTooNew, latest.Int64, known)}
	}
	for _, m := range migrations {
		if m.version <= latest.Int64 {
			continue
		}
		for _, s := range m.stmts(db.dialect) {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return 0, fmt.Errorf("applying migration %d (%s): %s: %w", m.version, m.name, firstLine(s), err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
			m.version, m.name, db.dialect.timestamp(now)); err != nil {
			return 0, fmt.Errorf("recording migration %d: %w", m.version, err)
		}
		applied++
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("committing the migrations: %w", err)
	}
	return applied, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

// beginMigration begins the migration's transaction. SQLite can refuse
// BEGIN IMMEDIATE with SQLITE_BUSY at once, without waiting out the busy
// timeout, while another connection is switching the file to WAL or
// recovering it (a second process opening the same database at the same
// moment); that is retried for a few seconds rather than failing the start.
func beginMigration(ctx context.Context, db *database) (*sql.Tx, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		tx, err := db.db.BeginTx(ctx, nil)
		if err == nil || db.dialect.name != "sqlite" || !strings.Contains(err.Error(), "SQLITE_BUSY") || time.Now().After(deadline) {
			return tx, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(50 * time.Millisecond):
		}
	}
}
