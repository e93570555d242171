package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// mirrorDB is a database a mirror writes into during a bench run: made
// for the run, open for the bench's own queries, dropped by close.
type mirrorDB struct {
	url  string  // the mirror's SQLURL
	name string  // "sqlite" or "postgres"
	db   *sql.DB // the bench's own connection
	drop func()
}

// openMirrorDB makes a database for spec: "sqlite" (a file in a temporary
// directory), "sqlite://<path>" (a file that must not hold a mirror yet),
// or "postgres://..." (a schema of its own is created in that database,
// and dropped by close).
func openMirrorDB(ctx context.Context, spec string) (*mirrorDB, error) {
	d := &mirrorDB{drop: func() {}}
	switch {
	case spec == "sqlite":
		dir, err := os.MkdirTemp("", "invsync-bench-mirror-")
		if err != nil {
			return nil, err
		}
		d.url, d.drop = "sqlite://"+filepath.Join(dir, "mirror.db"), func() { os.RemoveAll(dir) }
	case strings.HasPrefix(spec, "sqlite://"):
		d.url = spec
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		schema := "bench_mirror_" + randomID()
		admin, err := sql.Open("pgx", spec)
		if err != nil {
			return nil, err
		}
		if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
			admin.Close()
			return nil, fmt.Errorf("creating schema %s for the mirror: %w", schema, err)
		}
		sep := "?"
		if strings.Contains(spec, "?") {
			sep = "&"
		}
		d.url, d.name = spec+sep+"search_path="+schema, "postgres"
		d.drop = func() {
			_, _ = admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
			admin.Close()
		}
	default:
		return nil, errors.New(`the mirror's database must be "sqlite", sqlite://<path> or postgres://...`)
	}
	var err error
	if path, ok := strings.CutPrefix(d.url, "sqlite://"); ok {
		d.name = "sqlite"
		d.db, err = sql.Open("sqlite", path+"?"+url.Values{"_busy_timeout": {"5000"}}.Encode())
	} else {
		d.db, err = sql.Open("pgx", d.url)
	}
	if err != nil {
		d.drop()
		return nil, fmt.Errorf("opening the mirror's database: %w", err)
	}
	return d, nil
}

// close closes the bench's connection and drops what openMirrorDB made.
func (d *mirrorDB) close() {
	d.db.Close()
	d.drop()
}

// randomID returns 8 random hex digits, for names of one run's own.
func randomID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
