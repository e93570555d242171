package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
)

// backlog runs the offline-backlog drain: 50 scanners, each with 8 hours
// of scans queued (one every 10 s), upload at once in requests of 1000,
// oldest first, each resending a failed upload; the result is the time
// until every event is read.
func (b *bencher) backlog(ctx context.Context) (Backlog, error) {
	perScanner := (backlogScans + maxUpload - 1) / maxUpload
	nReq := backlogScanners * perScanner
	p := b.newPhase("backlog", nReq*maxUpload, maxUpload, 0, time.Duration(b.now()), true, true)
	p.expected = backlogScanners * backlogScans
	oldest := time.Now().Add(-backlogSpan)
	p.gen = func(dst []scanTx, req int, _ time.Time) []scanTx {
		s, r := req/perScanner, req%perScanner
		rng := b.work.rng(p.id, req)
		user := fmt.Sprintf("bench-user-%02d", s+1)
		for j := r * maxUpload; j < min(backlogScans, (r+1)*maxUpload); j++ {
			at := oldest.Add(time.Duration(j)*backlogEvery + time.Duration(s)*137*time.Millisecond)
			dst = b.work.mixed(dst, rng, p.id, req*maxUpload+(j-r*maxUpload), at, user)
		}
		return dst
	}
	var retries atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, backlogScanners)
	p.start = b.now()
	t0 := time.Now()
	for s := range backlogScanners {
		reqs := make([]int, perScanner)
		for r := range reqs {
			reqs[r] = s*perScanner + r
		}
		wg.Go(func() {
			if err := b.sendClosedLoop(ctx, p, nil, nReq, fmt.Sprintf("BENCH-OFFLINE-%02d", s+1), reqs, &retries); err != nil {
				errc <- err
			}
		})
	}
	stop := everySecond(func() {
		b.progressLine("backlog", p, int64(p.expected))
	})
	wg.Wait()
	uploaded := time.Since(t0)
	close(errc)
	err := <-errc
	if err == nil && !b.drain(ctx, p, 10*time.Minute, "backlog") {
		err = fmt.Errorf("backlog: %d of %d transactions applied after 10m", p.seenTx.Load(), p.expected)
	}
	stop()
	d := time.Duration(p.lastSeenNs.Load() - p.start)
	bl := Backlog{
		Scanners: backlogScanners, ScansPerScanner: backlogScans, Transactions: p.expected,
		Requests: nReq, Retries: retries.Load(), Rejected: p.rejectedTx.Load(), Seen: p.seenTx.Load(),
		UploadSeconds: uploaded.Seconds(), DrainSeconds: d.Seconds(), Latency: p.latency(),
	}
	if d > 0 {
		bl.TPS = float64(bl.Seen) / d.Seconds()
	}
	fmt.Fprintf(b.out, "[%6.1fs] backlog: %d transactions from %d scanners uploaded in %.1f s, all applied in %.1f s (%.0f tx/s)\n",
		time.Duration(b.now()).Seconds(), bl.Transactions, bl.Scanners, bl.UploadSeconds, bl.DrainSeconds, bl.TPS)
	return bl, err
}

// recordPool encodes a sample of the workload's transactions as the
// transactions topic holds them (Avro, with the fields ingest adds), for
// their average size and as the baseline's records.
func (b *bencher) recordPool(ctx context.Context) recordPool {
	codec, err := schemas.New(ctx, schemas.Config{TopicPrefix: b.cfg.TopicPrefix})
	var pool recordPool
	rng := b.work.rng(maxPhases, 0)
	now := time.Now().UTC()
	var txs []scanTx
	for i := range 1024 {
		txs = b.work.mixed(txs[:0], rng, 1, i, now, "bench-user-01")
		t := txs[0]
		w := schemas.Transaction{
			TransactionID: t.ID, Type: schemas.TransactionType(t.Type), WarehouseID: t.Warehouse,
			ItemID: t.Item, LocationID: t.Location, LotNumber: t.Lot, Quantity: t.Quantity,
			UserID: t.User, ScannerID: "BENCH-SCANNER-01", DeviceTimestamp: now,
			CorrectedTimestamp: now, SentAt: now, ReceivedAt: now, BodyHash: make([]byte, 32),
		}
		if t.ToLocation != "" {
			w.ToLocationID = &t.ToLocation
		}
		var v []byte
		if err == nil {
			v, err = codec.AppendTransaction(nil, &w)
		}
		if err != nil { // cannot happen with the embedded schemas; fall back to the size it has
			v = make([]byte, 200)
		}
		pool.keys = append(pool.keys, []byte(processors.StockKey(t.Warehouse, t.Item)))
		pool.values = append(pool.values, v)
		pool.avg += len(v)
	}
	pool.avg /= len(pool.values)
	return pool
}

type recordPool struct {
	keys, values [][]byte
	avg          int
}

// everySecond calls fn once a second, for progress lines, until the
// returned function is called.
func everySecond(fn func()) (stop func()) {
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				fn()
			}
		}
	}()
	return func() { close(done) }
}
