package kfake

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTxnLatencyOnDisk measures transactions on a real disk with SyncWrites:
// 16 transactional producers, each transaction one record on the
// producer's own partition, committed; first open loop at KFAKE_TXN_RATE
// transactions/s (default 1000) for 5 s (latency from the scheduled start
// to EndTxn's answer, p50 and p99), then closed loop as fast as they go.
// Set KFAKE_TXN_LATENCY=1 to run it; it reports, it does not assert.
func TestTxnLatencyOnDisk(t *testing.T) {
	if os.Getenv("KFAKE_TXN_LATENCY") == "" {
		t.Skip("set KFAKE_TXN_LATENCY=1 to measure")
	}
	rate := 1000
	if r, err := strconv.Atoi(os.Getenv("KFAKE_TXN_RATE")); err == nil && r > 0 {
		rate = r
	}
	const producers = 16
	c := newCluster(t, DataDir(t.TempDir()), SyncWrites(), NumBrokers(1), SeedTopics(producers, "lat"))
	var cls []*kgo.Client
	for p := range producers {
		cls = append(cls, newPlainClient(t, c,
			kgo.TransactionalID(fmt.Sprintf("lat-%d", p)),
			kgo.DefaultProduceTopic("lat"),
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.ProducerLinger(0),
		))
	}
	ctx := context.Background()
	txn := func(cl *kgo.Client, p int) {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Partition: int32(p), Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
	for p, cl := range cls { // warm up: producer ids
		txn(cl, p)
	}

	// Open loop: transaction i is due at start + i/rate, on producer
	// i % producers (which may be late if its previous one is).
	var mu sync.Mutex
	var lat []time.Duration
	n := rate * 5
	start := time.Now()
	var wg sync.WaitGroup
	for p, cl := range cls {
		wg.Go(func() {
			for i := p; i < n; i += producers {
				due := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
				time.Sleep(time.Until(due))
				txn(cl, p)
				d := time.Since(due)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	t.Logf("open loop %d tx/s: %d transactions in %v (%.0f tx/s achieved), p50 %v, p99 %v",
		rate, len(lat), elapsed.Round(time.Millisecond), float64(len(lat))/elapsed.Seconds(),
		lat[len(lat)/2].Round(10*time.Microsecond), lat[len(lat)*99/100].Round(10*time.Microsecond))

	// Closed loop for 5 s.
	var done int
	stop := time.Now().Add(5 * time.Second)
	start = time.Now()
	for p, cl := range cls {
		wg.Go(func() {
			k := 0
			for time.Now().Before(stop) {
				txn(cl, p)
				k++
			}
			mu.Lock()
			done += k
			mu.Unlock()
		})
	}
	wg.Wait()
	t.Logf("closed loop, %d producers: %d transactions in %v: %.0f tx/s", producers, done, time.Since(start).Round(time.Millisecond), float64(done)/time.Since(start).Seconds())
}
