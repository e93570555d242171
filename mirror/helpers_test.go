package mirror

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/schemas"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	if os.Getenv("POSTGRES_URL") == "" {
		fmt.Fprintln(os.Stderr, "mirror tests: POSTGRES_URL is not set: every PostgreSQL case is SKIPPED.\n"+
			"  Start a throwaway cluster with `bash scripts/postgres.sh up` and export the POSTGRES_URL it prints.")
	}
	if os.Getenv("KAFKA_BROKERS") == "" {
		fmt.Fprintln(os.Stderr, "mirror tests: KAFKA_BROKERS is not set: using the in-process broker (kfake).")
	}
	os.Exit(m.Run())
}

// testDB is one database a test runs against.
type testDB struct {
	name string // "sqlite" or "postgres"
	url  string
}

// forEachDB runs f as a subtest against a fresh SQLite file and, when
// POSTGRES_URL is set, a fresh PostgreSQL schema (skipped loudly when not).
func forEachDB(t *testing.T, f func(t *testing.T, d testDB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { f(t, newSQLiteDB(t)) })
	t.Run("postgres", func(t *testing.T) { f(t, newPostgresDB(t)) })
}

func newSQLiteDB(t *testing.T) testDB {
	return testDB{name: "sqlite", url: "sqlite://" + t.TempDir() + "/mirror.db"}
}

// newPostgresDB creates a schema of its own in the POSTGRES_URL database
// and returns a URL whose connections use it (dropped at cleanup).
func newPostgresDB(t *testing.T) testDB {
	base := os.Getenv("POSTGRES_URL")
	if base == "" {
		t.Skip("SKIPPED: POSTGRES_URL is not set; run `bash scripts/postgres.sh up` and export the POSTGRES_URL it prints")
	}
	schema := "t_" + randomHex(6)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("creating schema %s in %s: %v", schema, redactURL(base), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// PostgreSQL may be restarting at the end of a test; a schema
		// left behind is only litter.
		_ = testkit.Within(5*time.Second, func() error {
			_, err := admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`)
			return err
		})
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return testDB{name: "postgres", url: base + sep + "search_path=" + schema}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// openTestDB opens d for a test's own reads and writes, migrated.
func openTestDB(t *testing.T, d testDB) *database {
	t.Helper()
	db, err := openDatabase(d.url, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.db.Close() })
	if _, err := migrate(context.Background(), db, time.Now()); err != nil {
		t.Fatal(err)
	}
	return db
}

// testKafka is a broker and a topic prefix of a test's own.
type testKafka struct {
	brokers []string
	prefix  string
	topics  schemas.Topics
	codec   *schemas.Set
	adm     *kadm.Client
}

// newTestKafka starts an in-process broker (or, with KAFKA_BROKERS set,
// uses that one under a fresh prefix) with the mirrored topics created
// with the given partitions (the discrepancies topic only if withDisc).
func newTestKafka(t *testing.T, partitions int32, withDisc bool) *testKafka {
	t.Helper()
	prefix := "mt" + randomHex(4) + "."
	var brokers []string
	if env := os.Getenv("KAFKA_BROKERS"); env != "" {
		brokers = strings.Split(env, ",")
	} else {
		c, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		brokers = c.ListenAddrs()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	codec, err := schemas.New(context.Background(), schemas.Config{TopicPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	k := &testKafka{brokers: brokers, prefix: prefix, topics: schemas.NewTopics(prefix), codec: codec, adm: kadm.NewClient(cl)}
	k.createTopic(t, k.topics.InventoryEvents, partitions)
	k.createTopic(t, k.topics.AllocationDecisions, partitions)
	if withDisc {
		k.createTopic(t, k.topics.Discrepancies, partitions)
	}
	return k
}

func (k *testKafka) createTopic(t *testing.T, topic string, partitions int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := k.adm.CreateTopic(ctx, partitions, 1, nil, topic); err != nil {
		t.Fatalf("creating topic %s: %v", topic, err)
	}
	t.Cleanup(func() {
		if os.Getenv("KAFKA_BROKERS") != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, _ = k.adm.DeleteTopics(ctx, topic)
		}
	})
}

// producer is a transactional producer, as the processors are.
func (k *testKafka) producer(t *testing.T) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.brokers...), kgo.TransactionalID("mirror-test-"+randomHex(4)),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produceTx writes recs (each with its Partition set) in one transaction,
// committed or aborted, and returns them with their offsets.
func produceTx(t *testing.T, cl *kgo.Client, recs []*kgo.Record, commit bool) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("producing: %v", err)
	}
	if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatalf("ending transaction: %v", err)
	}
	return recs
}

// checkNoGroupOffsets fails the test if any consumer group has committed
// offsets for the test's topics: the mirror consumes without a group.
func (k *testKafka) checkNoGroupOffsets(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	groups, err := k.adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups.Groups() {
		offsets, err := k.adm.FetchOffsets(ctx, g)
		if err != nil {
			continue // a group being deleted, or of another protocol
		}
		for topic := range offsets {
			if strings.HasPrefix(topic, k.prefix) {
				t.Fatalf("consumer group %s has committed offsets for %s", g, topic)
			}
		}
	}
}

// waitStable waits until every transaction written to topics has its
// marker (each partition's last stable offset is its high watermark): on
// Apache Kafka the markers are written after EndTransaction returns.
func (k *testKafka) waitStable(t *testing.T, topics ...string) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		stable, err := k.adm.ListCommittedOffsets(ctx, topics...)
		if err != nil {
			return err
		}
		ends := k.endOffsets(t, topics...)
		var open error
		stable.Each(func(o kadm.ListedOffset) {
			if tp := (topicPartition{o.Topic, o.Partition}); o.Err == nil && o.Offset != ends[tp] {
				open = testkit.Not("%s/%d: last stable offset %d, high watermark %d", o.Topic, o.Partition, o.Offset, ends[tp])
			}
		})
		return open
	})
}

// endOffsets returns every partition's high watermark.
func (k *testKafka) endOffsets(t *testing.T, topics ...string) map[topicPartition]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The high watermarks, not the last stable offsets: right after
	// EndTransaction returns, Apache Kafka may not have written the commit
	// markers yet, and the last stable offset then still stands before the
	// transaction, so a mirror that reached it has not seen it. The high
	// watermark includes the marker once written, and a read_committed
	// mirror gets there only past it.
	listed, err := k.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		t.Fatal(err)
	}
	out := map[topicPartition]int64{}
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Partition >= 0 {
			out[topicPartition{o.Topic, o.Partition}] = o.Offset
		}
	})
	return out
}

// testLogger writes the mirror's log lines to the test log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// startMirror runs a mirror in the background; the returned stop ends it
// and fails the test if Run returned an error.
func startMirror(t *testing.T, cfg Config) (*Mirror, func()) {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- m.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	t.Cleanup(stop)
	return m, stop
}

// waitCaughtUp fails the test unless m has caught up with its topics
// within d.
func waitCaughtUp(t *testing.T, m *Mirror, d time.Duration) {
	t.Helper()
	testkit.Receive(t, m.progress.caughtUp, d, "the mirror to catch up")
}
