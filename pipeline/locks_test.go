package pipeline

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
)

// lockBrokers returns KAFKA_BROKERS, or starts an in-memory kfake broker.
func lockBrokers(t *testing.T) []string {
	t.Helper()
	if v := os.Getenv("KAFKA_BROKERS"); v != "" {
		return strings.Split(v, ",")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// loadingTable is what the tables kept from a compacted topic share: Run
// reads the topic until ctx ends, WaitLoaded until the backlog is in.
type loadingTable interface {
	Run(ctx context.Context) error
	WaitLoaded(ctx context.Context) error
}

// startTable runs tbl (built with err) until the test ends and waits
// until it has loaded.
func startTable[T loadingTable](t *testing.T, tbl T, err error) T {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tbl.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := tbl.WaitLoaded(wctx); err != nil {
		t.Fatal(err)
	}
	return tbl
}

// sharedTopic is a single-partition compacted topic of its own on the
// test's brokers, with a codec for its records: what the tables every
// instance keeps are tested on, one table per instance.
type sharedTopic struct {
	brokers []string
	topic   string
	codec   *schemas.Set
}

// startLockTable runs a LockTable on the topic until the test ends and
// waits until it has loaded.
func (s sharedTopic) startLockTable(t *testing.T) *LockTable {
	t.Helper()
	lt, err := NewLockTable(s.brokers, s.topic, s.codec, processors.NewLockTable(), nil)
	return startTable(t, lt, err)
}

// compactedTopic creates a new single-partition compacted topic named
// after prefix.
func compactedTopic(ctx context.Context, t *testing.T, prefix string) sharedTopic {
	t.Helper()
	brokers := lockBrokers(t)
	topic := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, topic); err != nil {
		t.Fatal(err)
	}
	codec, err := schemas.New(ctx, schemas.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return sharedTopic{brokers: brokers, topic: topic, codec: codec}
}

// TestLockAcquireFirstWriterWins: scanners race for one location through
// two instances; exactly one gets it, everyone is told who, and every
// table, including one that starts afterwards, agrees.
func TestLockAcquireFirstWriterWins(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := compactedTopic(ctx, t, "locks-test")
	a, b := st.startLockTable(t), st.startLockTable(t)

	now := time.Now().UTC().Truncate(time.Millisecond)
	lock := func(id, scanner string) processors.Lock {
		return processors.Lock{LockID: id, WarehouseID: "WH-1", LocationID: "L1", ScannerID: scanner,
			AcquiredAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	type result struct {
		id      string
		granted bool
		holder  processors.Lock
	}
	results := make([]result, 8)
	var wg sync.WaitGroup
	for i := range results {
		inst := []*LockTable{a, b}[i%2]
		wg.Go(func() {
			id := fmt.Sprintf("lock-%d", i)
			_, granted, holder, err := inst.Acquire(ctx, lock(id, fmt.Sprintf("SCANNER-%02d", i)))
			if err != nil {
				t.Error(err)
			}
			results[i] = result{id, granted, holder}
		})
	}
	wg.Wait()
	var winner string
	for _, r := range results {
		if r.granted {
			if winner != "" {
				t.Fatalf("two scanners got the location: %s and %s", winner, r.id)
			}
			winner = r.id
		}
	}
	if winner == "" {
		t.Fatal("nobody got the location")
	}
	for _, r := range results {
		if !r.granted && r.holder.LockID != winner {
			t.Errorf("%s was refused naming %q, the winner is %s", r.id, r.holder.LockID, winner)
		}
	}
	for name, lt := range map[string]*LockTable{"a": a, "b": b} {
		if h, ok := lt.Table().HolderAt("WH-1", "L1", now); !ok || h.LockID != winner {
			t.Errorf("instance %s: holder %+v, %v; want %s", name, h, ok, winner)
		}
	}

	// The winner's scanner locks again: the new lock supersedes the old.
	w, _ := a.Get(winner)
	relock := lock("lock-again", w.ScannerID)
	relock.AcquiredAt = now.Add(time.Second)
	if _, granted, _, err := b.Acquire(ctx, relock); err != nil || !granted {
		t.Fatalf("re-lock by the holder: %v %v", granted, err)
	}
	if old, _ := b.Get(winner); old.ReleasedAt == nil || !old.ReleasedAt.Equal(relock.AcquiredAt) {
		t.Errorf("the superseded lock: %+v", old)
	}

	// Released, the location goes to the next one; releasing twice is fine.
	for range 2 {
		if l, found, err := a.Release(ctx, "lock-again", now.Add(2*time.Second)); err != nil || !found || l.ReleasedAt == nil {
			t.Fatalf("Release: %+v %v %v", l, found, err)
		}
	}
	if _, found, err := a.Release(ctx, "lock-never", now); err != nil || found {
		t.Errorf("Release of an unknown lock: %v %v", found, err)
	}
	next := lock("lock-next", "SCANNER-99")
	next.AcquiredAt = now.Add(3 * time.Second)
	if _, granted, h, err := b.Acquire(ctx, next); err != nil || !granted {
		t.Fatalf("after the release: %v %+v %v", granted, h, err)
	}

	// A new instance replays the log to the same table. Instance a is the
	// reference, so it first reads lock-next, which went through b.
	if err := a.catchUp(ctx); err != nil {
		t.Fatal(err)
	}
	c := st.startLockTable(t)
	for _, at := range []time.Time{now, now.Add(time.Second), now.Add(3 * time.Second)} {
		want, _ := a.Table().HolderAt("WH-1", "L1", at)
		if got, _ := c.Table().HolderAt("WH-1", "L1", at); got.LockID != want.LockID {
			t.Errorf("replayed holder at %v: %s, want %s", at, got.LockID, want.LockID)
		}
	}
	if got, want := len(c.Active("WH-1", now)), len(a.Active("WH-1", now)); got != want || got != 3 {
		t.Errorf("replayed %d active locks, the live table %d, want 3", got, want)
	}
}
