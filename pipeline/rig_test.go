package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
	"github.com/invsync/invsync/state"
)

// rig is the processing pipeline on an in-process kfake broker whose
// requests the tests can intercept (kfake's control functions), with a
// producer writing input the way ingest does and a read_committed reader
// of the events.
type rig struct {
	t          *testing.T
	cluster    *kfake.Cluster
	brokers    []string
	topics     schemas.Topics
	codec      *schemas.Set
	producer   *Producer
	partitions int32
	group      string
	log        *slog.Logger
	logs       *logCapture
}

const rigPartitions = 4

func newRig(t *testing.T) *rig {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	r := &rig{t: t, cluster: c, brokers: c.ListenAddrs(), topics: schemas.NewTopics("rig."), partitions: rigPartitions,
		group: "rig-group", logs: &logCapture{}}
	r.log = slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	t.Cleanup(func() {
		if t.Failed() {
			r.logs.mu.Lock()
			defer r.logs.mu.Unlock()
			for i, l := range r.logs.lines {
				if i >= 80 {
					break
				}
				t.Log(strings.TrimSpace(l))
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := EnsureTopics(ctx, kadm.NewClient(cl), r.topics, r.partitions, 1); err != nil {
		t.Fatal(err)
	}
	if r.codec, err = schemas.New(ctx, schemas.Config{TopicPrefix: "rig."}); err != nil {
		t.Fatal(err)
	}
	if r.producer, err = NewProducer(r.brokers, r.topics, r.codec, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.producer.Close)
	return r
}

// logCapture keeps every log line, for tests that check what was logged.
type logCapture struct {
	mu    sync.Mutex
	lines []string
}

func (l *logCapture) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(p))
	return len(p), nil
}

// count returns how many lines contain s.
func (l *logCapture) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// member is one running Processing with its own store, like one invsync
// instance.
type member struct {
	r        *rig
	name     string
	dir      string
	store    *state.Store
	proc     *Processing
	outcomes *Notifier[processors.Outcome]
	cancel   context.CancelFunc
	done     chan struct{}
}

// start runs a member; dir keeps its store across restarts ("" for new).
func (r *rig) start(name, dir string) *member { return r.startWith(name, dir, nil, nil) }

// startWith is start with cfg changing the member's configuration and
// before seeing its Processing before it runs (either may be nil).
func (r *rig) startWith(name, dir string, cfg func(*ProcessingConfig), before func(*Processing)) *member {
	r.t.Helper()
	if dir == "" {
		dir = r.t.TempDir()
	}
	st, err := state.Open(dir, state.Options{AbsentPrefix: processors.OutcomePrefix()})
	if err != nil {
		r.t.Fatal(err)
	}
	m := &member{r: r, name: name, dir: dir, store: st, outcomes: NewOutcomeNotifier(), done: make(chan struct{})}
	pc := ProcessingConfig{
		Brokers: r.brokers, Group: r.group, TransactionalID: "rig-" + name, Topics: r.topics,
		Store: st, Processor: processors.New(processors.Config{}), Codec: r.codec, Notifier: m.outcomes,
		Logger: r.log.With("member", name), SessionTimeout: 3 * time.Second, MaxPollRecords: 50,
	}
	if cfg != nil {
		cfg(&pc)
	}
	m.proc, err = NewProcessing(pc)
	if err != nil {
		r.t.Fatal(err)
	}
	if before != nil {
		before(m.proc)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() {
		defer close(m.done)
		_ = m.proc.Run(ctx)
	}()
	r.t.Cleanup(m.stop)
	return m
}

// stop ends the member cleanly and closes its store.
func (m *member) stop() {
	if m.cancel == nil {
		return
	}
	m.cancel()
	<-m.done
	m.cancel = nil
	if err := m.store.Close(); err != nil {
		m.r.t.Errorf("closing %s store: %v", m.name, err)
	}
}

// rigTx is the i-th transaction of a workload: receipts, picks and
// adjustments over a few stock keys, each with its own time.
func rigTx(run string, i int) processors.Transaction {
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	tx := processors.Transaction{
		TransactionID: fmt.Sprintf("%s-%05d", run, i),
		WarehouseID:   "WH-R",
		ItemID:        fmt.Sprintf("IT-%d", i%7),
		LocationID:    fmt.Sprintf("L%d", i%3),
		ScannerID:     "SC-1",
		UserID:        "u",
	}
	switch i % 3 {
	case 0:
		tx.Type, tx.Quantity = processors.Receipt, int64(10+i%5)
	case 1:
		tx.Type, tx.Quantity = processors.Pick, int64(1+i%4)
	default:
		tx.Type, tx.Quantity = processors.Adjustment, int64(i%5-2)
		if tx.Quantity == 0 {
			tx.Quantity = 1
		}
	}
	tx.DeviceTimestamp = base.Add(time.Duration(i) * time.Millisecond)
	tx.CorrectedTimestamp, tx.SentAt, tx.ReceivedAt = tx.DeviceTimestamp, time.Now(), time.Now()
	tx.BodyHash = tx.Hash()
	return tx
}

// produce writes transactions from..to-1 of run the way ingest does.
func (r *rig) produce(run string, from, to int) []processors.Transaction {
	r.t.Helper()
	var txs []processors.Transaction
	for i := from; i < to; i++ {
		txs = append(txs, rigTx(run, i))
	}
	for _, err := range r.producer.Produce(context.Background(), txs) {
		if err != nil {
			r.t.Fatalf("producing input: %v", err)
		}
	}
	return txs
}

// expected folds the workload's deltas per stock record.
func expected(txs []processors.Transaction) map[string]int64 {
	out := map[string]int64{}
	for _, tx := range txs {
		q := tx.Quantity
		if tx.Type == processors.Pick {
			q = -q
		}
		out[tx.ItemID+"|"+tx.LocationID] += q
	}
	return out
}

// committedReader is a client that reads topic from its start, committed
// records only (read_committed); the caller closes it.
func (r *rig) committedReader(topic string) *kgo.Client {
	r.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		r.t.Fatal(err)
	}
	return cl
}

// pollUntil polls cl, handing each record to each, until done reports
// true or timeout has passed, and reports whether done did. No poll waits
// past the timeout, nor more than a second without done being asked.
func pollUntil(cl *kgo.Client, timeout time.Duration, each func(*kgo.Record), done func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !done() {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), min(left, time.Second))
		cl.PollFetches(ctx).EachRecord(each)
		cancel()
	}
	return true
}

// events reads the events topic (read_committed) until want events or
// the timeout, then a little longer for stragglers, and returns the count
// of each eventId.
func (r *rig) events(want int, timeout time.Duration) map[string]int {
	r.t.Helper()
	cl := r.committedReader(r.topics.InventoryEvents)
	defer cl.Close()
	ids := map[string]int{}
	n := 0
	// Fewer than want by the timeout is for the caller to judge.
	pollUntil(cl, timeout, func(rec *kgo.Record) {
		e, err := r.codec.DecodeInventoryEvent(rec.Value)
		if err != nil {
			r.t.Errorf("undecodable event at %d/%d: %v", rec.Partition, rec.Offset, err)
			return
		}
		ids[e.EventID]++
		n++
	}, func() bool { return n >= want })
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	cl.PollFetches(ctx).EachRecord(func(rec *kgo.Record) {
		if e, err := r.codec.DecodeInventoryEvent(rec.Value); err == nil {
			ids[e.EventID]++
		}
	})
	return ids
}

// assertExactlyOnce checks that every transaction of txs yielded exactly
// one event, nothing else was published, and the members' states (each
// read for the partitions it owns at the end) hold the fold of txs.
func (r *rig) assertExactlyOnce(txs []processors.Transaction, members ...*member) {
	r.t.Helper()
	ids := r.events(len(txs), 60*time.Second)
	lost, doubled := 0, 0
	for _, tx := range txs {
		switch c := ids["evt-"+tx.TransactionID+"-1"]; {
		case c == 0:
			lost++
		case c > 1:
			doubled++
		}
	}
	if lost > 0 || doubled > 0 || len(ids) != len(txs) {
		r.t.Fatalf("events: %d transactions, %d distinct events; lost %d, doubled %d", len(txs), len(ids), lost, doubled)
	}
	r.assertPositions(txs, members...)
}

// assertPositions waits until the partitions are owned and restored by
// members and compares each stock record with the fold of txs.
func (r *rig) assertPositions(txs []processors.Transaction, members ...*member) {
	r.t.Helper()
	want := expected(txs)
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	testkit.Eventually(r.t, 60*time.Second, func() error {
		for _, k := range keys {
			item, loc, _ := strings.Cut(k, "|")
			part := r.producer.Partition(processors.StockKey("WH-R", item), r.partitions)
			if got, ok := r.readOnHand(part, item, loc, members); !ok || got != want[k] {
				return testkit.Not("%s (partition %d): onHand %d (readable %v), want %d", k, part, got, ok, want[k])
			}
		}
		return nil
	})
}

func (r *rig) readOnHand(part int32, item, loc string, members []*member) (int64, bool) {
	for _, m := range members {
		if st := m.proc.Partition(part); !st.Owned || !st.Restored {
			continue
		}
		recs, err := processors.Positions(m.store.Partition(part), "WH-R", item, &loc, nil)
		if err != nil || len(recs) != 1 {
			return 0, false
		}
		return recs[0].OnHand, true
	}
	return 0, false
}

// waitApplied waits until every transaction of txs has an outcome in the
// state of the member owning its partition.
func (r *rig) waitApplied(txs []processors.Transaction, members ...*member) {
	r.t.Helper()
	testkit.Eventually(r.t, 60*time.Second, func() error {
		for _, tx := range txs {
			part := r.producer.Partition(tx.StockKey(), r.partitions)
			if !r.hasOutcome(part, tx.TransactionID, members) {
				return testkit.Not("%s (partition %d) not applied", tx.TransactionID, part)
			}
		}
		return nil
	})
}

func (r *rig) hasOutcome(part int32, txid string, members []*member) bool {
	for _, m := range members {
		if st := m.proc.Partition(part); st.Owned && st.Restored {
			_, ok, err := processors.LookupOutcome(m.store.Partition(part), txid)
			return ok && err == nil
		}
	}
	return false
}
