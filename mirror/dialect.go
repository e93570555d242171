package mirror

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver
)

// dialect is everything that differs between SQLite and PostgreSQL. Every
// statement is otherwise written once: both accept $1-style placeholders,
// INSERT ... ON CONFLICT ... DO UPDATE with excluded.*, and quoted
// identifiers.
type dialect struct {
	name string // "sqlite" or "postgres"
	// timestampType and blobType are the column types of times and raw bytes.
	timestampType, blobType string
	// timestamp converts a time to what the driver stores in a
	// timestampType column. SQLite has no time type: it gets fixed-width
	// ISO 8601 text in UTC (so text order is time order, and SQLite's date
	// functions read it); PostgreSQL gets a timestamptz.
	timestamp func(time.Time) any
	// now is the SQL expression for the current time, in the same form.
	now string
	// bytewise follows a text column in ORDER BY and comparisons to order
	// it byte by byte, as Go compares strings (and so the reconciliation
	// server compares item ranges). SQLite's default collation already
	// does; PostgreSQL's depends on the database's locale.
	bytewise string
	// numbered: the placeholders of multi-row statements are $1, $2, ...
	// (PostgreSQL knows no other); without it they are anonymous ?s:
	// SQLite takes $N and ?N for names and looks each one up in a list,
	// which is quadratic in a statement of thousands of them, while ?s
	// bind by position. (Statements with a few parameters use $N in both.)
	numbered bool
	// migrationLock, when not empty, is run first in the migration
	// transaction to serialize migrations between processes.
	migrationLock string
}

var (
	sqliteDialect = dialect{
		name:          "sqlite",
		timestampType: "TEXT",
		blobType:      "BLOB",
		timestamp:     func(t time.Time) any { return t.UTC().Format(sqliteTimeLayout) },
		now:           "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
	}
	postgresDialect = dialect{
		name:          "postgres",
		timestampType: "TIMESTAMPTZ",
		blobType:      "BYTEA",
		timestamp:     func(t time.Time) any { return t.UTC() },
		now:           "now()",
		bytewise:      ` COLLATE "C"`,
		numbered:      true,
		// Held until the transaction ends; the key is arbitrary and fixed
		// ("invsync mirror" in ASCII, truncated to 63 bits).
		migrationLock: `SELECT pg_advisory_xact_lock(7596286906183295346)`,
	}
)

// sqliteTimeLayout is how times are stored in SQLite: UTC, millisecond
// precision (what the Avro timestamps carry), fixed width.
const sqliteTimeLayout = "2006-01-02T15:04:05.000Z"

// defaultSQLiteBusyTimeout is how long a SQLite statement waits for another
// connection's lock before failing with SQLITE_BUSY.
const defaultSQLiteBusyTimeout = 5 * time.Second

// database is an opened SQL URL.
type database struct {
	db      *sql.DB
	dialect dialect
	// redacted is the URL without its password, for log lines.
	redacted string
}

// openDatabase opens (lazily: no connection is made) the database an SQL URL
// names:
//
//	sqlite://<path>[?busy_timeout=<ms>]   a SQLite file (created when missing),
//	                                      journal in WAL mode
//	postgres://user@host:port/db?...      PostgreSQL (postgresql:// too); the
//	                                      query takes pgx's parameters
//	                                      (sslmode, search_path, ...)
//
// workers is the number of writers that will use it at once.
func openDatabase(rawURL string, workers int) (*database, error) {
	switch {
	case strings.HasPrefix(rawURL, "sqlite://"):
		return openSQLite(rawURL, workers)
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		return openPostgres(rawURL, workers)
	default:
		return nil, fmt.Errorf("SQL URL %q: want sqlite://<path> or postgres://...", redactURL(rawURL))
	}
}

func openSQLite(rawURL string, workers int) (*database, error) {
	path, query, _ := strings.Cut(strings.TrimPrefix(rawURL, "sqlite://"), "?")
	if path == "" {
		return nil, fmt.Errorf("SQL URL %q: no file path after sqlite://", rawURL)
	}
	busy := defaultSQLiteBusyTimeout
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("SQL URL %q: parsing the query: %w", rawURL, err)
	}
	for k, v := range q {
		switch k {
		case "busy_timeout":
			ms, err := strconv.Atoi(v[0])
			if err != nil || ms < 0 {
				return nil, fmt.Errorf("SQL URL %q: busy_timeout=%q is not a number of milliseconds", rawURL, v[0])
			}
			busy = time.Duration(ms) * time.Millisecond
		default:
			return nil, fmt.Errorf("SQL URL %q: unknown parameter %q (only busy_timeout)", rawURL, k)
		}
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating the directory of %s: %w", path, err)
		}
	}
	// WAL: readers (reports) never block the writer. synchronous=NORMAL
	// in WAL mode keeps every commit atomic through a crash, power loss
	// included; a power loss may forget the last commits, which is safe
	// here because the consumed offsets are forgotten with them and the
	// records are fetched again. _txlock=immediate takes the write lock at
	// BEGIN, so concurrent writers queue on busy_timeout instead of
	// failing when a read transaction would have to be upgraded.
	dsn := path + "?" + url.Values{
		"_busy_timeout": {strconv.FormatInt(busy.Milliseconds(), 10)},
		"_journal_mode": {"WAL"},
		"_synchronous":  {"NORMAL"},
		"_txlock":       {"immediate"},
	}.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening SQLite %s: %w", path, err)
	}
	// One writer at a time is all SQLite allows; the rest are readers.
	db.SetMaxOpenConns(workers + 2)
	db.SetMaxIdleConns(workers + 2)
	return &database{db: db, dialect: sqliteDialect, redacted: rawURL}, nil
}

func openPostgres(rawURL string, workers int) (*database, error) {
	if _, err := url.Parse(rawURL); err != nil {
		return nil, fmt.Errorf("SQL URL %s: not a URL", redactURL(rawURL))
	}
	db, err := sql.Open("pgx", rawURL)
	if err != nil {
		return nil, fmt.Errorf("opening PostgreSQL %s: %w", redactURL(rawURL), err)
	}
	db.SetMaxOpenConns(workers + 2)
	db.SetMaxIdleConns(workers + 2)
	// A connection that outlived a server restart fails once and is
	// replaced; recycling bounds how long a broken one can linger idle.
	db.SetConnMaxIdleTime(time.Minute)
	return &database{db: db, dialect: postgresDialect, redacted: redactURL(rawURL)}, nil
}

// redactURL hides the password of a URL (in its user part or, as pgx
// allows, its query) for logs and errors.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unparsable URL)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
