package mirror

import (
	"context"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invsync/invsync/internal/testkit"
)

// logCapture tees a mirror's log lines to the test log and keeps them.
type logCapture struct {
	t  *testing.T
	mu sync.Mutex
	b  strings.Builder
}

func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.b.Write(p)
	c.mu.Unlock()
	c.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (c *logCapture) contains(s string) bool { return c.count(s) > 0 }

// count is how many times s was logged.
func (c *logCapture) count(s string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Count(c.b.String(), s)
}

// probesFailed is how many times the mirror has probed the database it
// waits for and found it still unavailable.
func (c *logCapture) probesFailed() int { return c.count("mirror database still unavailable") }

// awaitProbesFailed waits until the mirror has failed n more probes than
// it had at from: it is then waiting for the database, and has been for
// n backoffs.
func (c *logCapture) awaitProbesFailed(t *testing.T, from, n int) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, func() error {
		if got := c.probesFailed() - from; got < n {
			return testkit.Not("%d failed probes of the database, want %d", got, n)
		}
		return nil
	})
}

func newLogCapture(t *testing.T) (*logCapture, *slog.Logger) {
	c := &logCapture{t: t}
	return c, slog.New(slog.NewTextHandler(c, nil))
}

// TestMirrorStopsWhileSQLiteIsLocked: while another process holds the
// SQLite write lock, nothing is applied and no offset moves; once it lets
// go, the mirror resumes and ends equal to the fold.
func TestMirrorStopsWhileSQLiteIsLocked(t *testing.T) {
	d := newSQLiteDB(t)
	k, w, prod := newTestWorld(t, 11, 2, 2, 10, 3)
	w.round(t, prod, 500, 100, 0, 1)
	db := openTestDB(t, d)
	logs, logger := newLogCapture(t)
	m, _ := startMirror(t, Config{Brokers: k.brokers, TopicPrefix: k.prefix, SQLURL: d.url + "?busy_timeout=100",
		MaxBackoff: 200 * time.Millisecond, Logger: logger})
	waitMirrored(t, k, w, db, 30*time.Second)

	// Another connection takes the write lock and keeps it.
	ctx := context.Background()
	locker, err := db.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close()
	if _, err := locker.ExecContext(ctx, `BEGIN EXCLUSIVE`); err != nil {
		t.Fatal(err)
	}
	before := readStoredOffsets(t, locker)
	applied, _, _, _ := m.progress.snapshot()
	w.round(t, prod, 300, 100, 0, 1)
	testkit.Eventually(t, 10*time.Second, func() error {
		if !logs.contains("mirror database unavailable") {
			return testkit.Not("no log line says the database is unavailable")
		}
		return nil
	})
	// Several probes fail while the lock is held: time enough for a
	// write, had anything been let through.
	logs.awaitProbesFailed(t, 0, 3)
	if after := readStoredOffsets(t, locker); !maps.Equal(before, after) {
		t.Fatalf("offsets moved while the database was locked: %v -> %v", before, after)
	}
	if now, _, _, _ := m.progress.snapshot(); now != applied {
		t.Fatalf("%d records applied while the database was locked", now-applied)
	}
	if _, err := locker.ExecContext(ctx, `COMMIT`); err != nil {
		t.Fatal(err)
	}
	waitMirrored(t, k, w, db, 30*time.Second)
	if !logs.contains("mirror database answers again") {
		t.Error("no log line says the database is back")
	}
}

// postgresScript runs scripts/postgres.sh, and skips the test (loudly)
// when POSTGRES_URL is not the cluster that script runs.
func postgresScript(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("bash", append([]string{"../scripts/postgres.sh"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/postgres.sh %v: %v\n%s", args, err, out)
	}
}

func requireScriptCluster(t *testing.T) testDB {
	t.Helper()
	d := newPostgresDB(t)
	url, err := exec.Command("bash", "../scripts/postgres.sh", "url").Output()
	if err != nil || strings.TrimSpace(string(url)) != os.Getenv("POSTGRES_URL") {
		t.Skipf("SKIPPED: POSTGRES_URL is not the cluster of scripts/postgres.sh (%s), which this test restarts", strings.TrimSpace(string(url)))
	}
	return d
}

// TestMirrorPostgresRestartMidCatchUp restarts PostgreSQL (a fast shutdown
// that ends every connection) while the mirror catches up, then stops it
// for a while: nothing is applied while it is down, and the tables end
// equal to the fold.
func TestMirrorPostgresRestartMidCatchUp(t *testing.T) {
	d := requireScriptCluster(t)
	// Whatever happens below, the cluster is up again for what follows.
	t.Cleanup(func() { postgresScript(t, "up") })
	k, w, prod := newTestWorld(t, 12, 4, 3, 40, 4)
	w.round(t, prod, 20000, 500, 10, 1)
	logs, logger := newLogCapture(t)
	m, _ := startMirror(t, Config{Brokers: k.brokers, TopicPrefix: k.prefix, SQLURL: d.url, BatchRecords: 100,
		MaxBackoff: 500 * time.Millisecond, Logger: logger})
	testkit.Eventually(t, 30*time.Second, func() error {
		if applied, _, _, _ := m.progress.snapshot(); applied < 2000 {
			return testkit.Not("the mirror has not started applying")
		}
		return nil
	})
	if _, caught, _, _ := m.progress.snapshot(); caught {
		t.Fatal("the mirror caught up before the restart: make the backlog larger")
	}
	postgresScript(t, "restart", "--immediate")
	testkit.Eventually(t, 30*time.Second, func() error {
		if !logs.contains("mirror database unavailable") {
			return testkit.Not("no log line says the database is unavailable")
		}
		return nil
	})

	// Down for a while: nothing is applied. The mirror may have finished
	// the backlog in the seconds PostgreSQL took to come back from the
	// restart; records produced now give it work that needs the database
	// either way, so it must probe.
	postgresScript(t, "down")
	w.round(t, prod, 2000, 500, 10, 1)
	// Once a probe has failed after the stop, no batch is in flight and
	// none starts; then several more fail.
	logs.awaitProbesFailed(t, logs.probesFailed(), 1)
	applied, _, _, _ := m.progress.snapshot()
	logs.awaitProbesFailed(t, logs.probesFailed(), 3)
	if now, _, _, _ := m.progress.snapshot(); now != applied {
		t.Fatalf("%d records applied while PostgreSQL was down", now-applied)
	}
	postgresScript(t, "up")

	db := openTestDB(t, d)
	waitMirrored(t, k, w, db, 60*time.Second)
	if !logs.contains("mirror database answers again") {
		t.Error("no log line says the database is back")
	}
}
