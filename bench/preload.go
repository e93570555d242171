package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// preloadPhase is the preload's phase: one RECEIPT for each of the n stock
// records, in nReq requests of up to maxUpload.
func (b *bencher) preloadPhase() (p *phase, n, nReq int) {
	n = b.cfg.Records
	nReq = (n + maxUpload - 1) / maxUpload
	p = b.newPhase("preload", n, maxUpload, 0, time.Duration(b.now()), false, false)
	p.gen = func(dst []scanTx, req int, at time.Time) []scanTx {
		rng := b.work.rng(p.id, req)
		for i := req * maxUpload; i < min(n, (req+1)*maxUpload); i++ {
			dst = b.work.receipt(dst, rng, p.id, i, at)
		}
		return dst
	}
	return p, n, nReq
}

// preload sends one RECEIPT per stock record, closed loop: uploads of 1000
// from up to 8 scanners, each retrying a failed upload, then waits for
// every event.
func (b *bencher) preload(ctx context.Context) (Preload, error) {
	p, n, nReq := b.preloadPhase()
	t0 := time.Now()
	var next atomic.Int64
	var retries atomic.Int64
	var wg sync.WaitGroup
	stop := everySecond(func() {
		b.progressLine("preload", p, int64(n))
	})
	errc := make(chan error, 8)
	for s := range min(8, nReq) {
		wg.Go(func() {
			if err := b.sendClosedLoop(ctx, p, &next, nReq, fmt.Sprintf("BENCH-PRELOAD-%02d", s+1), nil, &retries); err != nil {
				errc <- err
			}
		})
	}
	wg.Wait()
	close(errc)
	err := <-errc
	if err == nil && !b.drain(ctx, p, 2*time.Minute+time.Duration(n)*time.Millisecond, "preload") {
		err = fmt.Errorf("preload: %d of %d RECEIPTs applied after the timeout", p.seenTx.Load(), n)
	}
	stop()
	d := time.Since(t0)
	pre := Preload{Records: n, Requests: nReq, Retries: retries.Load(), Seconds: d.Seconds(),
		TPS: float64(p.seenTx.Load()) / d.Seconds(), Rejected: p.rejectedTx.Load()}
	if err == nil && p.rejectedTx.Load() > 0 {
		err = fmt.Errorf("preload: %d RECEIPTs rejected (%s)", p.rejectedTx.Load(), p.error())
	}
	return pre, err
}

// sendClosedLoop sends requests of p, taking the next index from next
// (or, with reqs, from that list in order) as a device does: one at a time,
// resending a failed upload after a pause until it is answered.
func (b *bencher) sendClosedLoop(ctx context.Context, p *phase, next *atomic.Int64, nReq int, scanner string, reqs []int, retries *atomic.Int64) error {
	var txs []scanTx
	var body, resp []byte
	for k := 0; ; k++ {
		var req int
		if reqs != nil {
			if k >= len(reqs) {
				return nil
			}
			req = reqs[k]
		} else if req = int(next.Add(1) - 1); req >= nReq {
			return nil
		}
		txs = p.gen(txs[:0], req, time.Now())
		p.expect(req, txs)
		for attempt := 0; ; attempt++ {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			body = appendUpload(body[:0], scanner, time.Now(), txs)
			var err error
			if resp, err = b.upload(ctx, p, body, len(txs), resp); err == nil {
				break
			}
			// Not answered: the device keeps its queue and retries.
			p.noteErr("%v", err)
			retries.Add(1)
			if attempt == 20 {
				return fmt.Errorf("%s: upload failed 20 times: %s", p.name, p.error())
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
}
