package sim

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/invsync/invsync/mirror"
	_ "modernc.org/sqlite" // the mirror's database
)

// mirrorView reads the mirror's SQLite database: what the cloud sees. It
// only reads (the mirror is the one writer).
type mirrorView struct {
	db *sql.DB
}

// openMirror waits (until ctx ends) for the mirror to have created its
// database and positions table, then opens it.
func openMirror(ctx context.Context, path string) (*mirrorView, error) {
	for {
		if _, err := os.Stat(path); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the mirror's database %s: %w", path, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	db, err := sql.Open("sqlite", path+"?"+url.Values{"_busy_timeout": {"10000"}, "mode": {"ro"}}.Encode())
	if err != nil {
		return nil, fmt.Errorf("opening the mirror's database %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	m := &mirrorView{db: db}
	for {
		var n int
		err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM positions`).Scan(&n)
		if err == nil {
			return m, nil
		}
		select {
		case <-ctx.Done():
			db.Close()
			return nil, fmt.Errorf("waiting for the mirror's positions table: %w (last: %v)", ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// available is the cloud's available-to-promise of an item in a
// warehouse: the sum over its positions.
func (m *mirrorView) available(ctx context.Context, wh, item string) (int64, error) {
	var n sql.NullInt64
	err := m.db.QueryRowContext(ctx, `SELECT SUM(available) FROM positions WHERE warehouse_id = ? AND item_id = ?`, wh, item).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("reading available stock from the mirror: %w", err)
	}
	return n.Int64, nil
}

// mirrorRow is one position as the mirror holds it.
type mirrorRow struct {
	onHand, version int64
}

// positions reads every position of the given warehouses, keyed by
// recordKey.
func (m *mirrorView) positions(ctx context.Context) (map[string]mirrorRow, error) {
	rows, err := m.db.QueryContext(ctx, `SELECT warehouse_id, item_id, location_id, on_hand, version FROM positions WHERE lot_number = ''`)
	if err != nil {
		return nil, fmt.Errorf("reading the mirror's positions: %w", err)
	}
	defer rows.Close()
	out := map[string]mirrorRow{}
	for rows.Next() {
		var wh, item, loc string
		var r mirrorRow
		if err := rows.Scan(&wh, &item, &loc, &r.onHand, &r.version); err != nil {
			return nil, fmt.Errorf("reading the mirror's positions: %w", err)
		}
		out[recordKey(wh, item, loc)] = r
	}
	return out, rows.Err()
}

// consumed returns the mirror's next offset of each partition of topic.
func (m *mirrorView) consumed(ctx context.Context, topic string) (map[int32]int64, error) {
	return mirror.ConsumedOffsets(ctx, m.db, topic)
}

func (m *mirrorView) close() error {
	if m == nil {
		return errors.New("no mirror")
	}
	return m.db.Close()
}
