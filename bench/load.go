package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/invsync/invsync/api"
)

// job is one request of a phase for a worker to send.
type job struct {
	p   *phase
	req int
}

// requestsFor is the number of requests of batch transactions that carry
// rate transactions a second for d (at least one).
func requestsFor(rate, batch int, d time.Duration) int {
	n := int(math.Round(float64(rate) * d.Seconds() / float64(batch)))
	return max(n, 1)
}

// schedule hands the phase's requests 0..nReq-1 to the workers at their
// intended times. It never waits for an answer: when every worker is busy
// the request is counted behind schedule and handed out as soon as one is
// free, and since latency is measured from the intended time, the wait
// still counts against the service (no coordinated omission).
func (b *bencher) schedule(ctx context.Context, p *phase, nReq int) {
	for i := range nReq {
		if !b.sleepUntil(ctx, p.intended(i)) {
			return
		}
		j := job{p: p, req: i}
		select {
		case b.jobs <- j:
			continue
		default:
		}
		p.behind.Add(1)
		select {
		case b.jobs <- j:
		case <-ctx.Done():
			return
		}
	}
}

// deliver sends the transactions of one scheduled request of p, generated
// for its intended time, and counts what became of them on p. It may
// return before they are answered, as long as p counts them in flight.
type deliver func(ctx context.Context, p *phase, txs []scanTx)

// startLoad opens b.reader on topic from the offsets start, in consumer
// groups named after the run, and starts in wg the reader and n workers,
// scanners BENCH-SCANNER-01 and on, each delivering with what newDeliver
// returns for its scanner; they stop when ctx ends. The caller closes
// b.reader once wg is done.
func (b *bencher) startLoad(ctx context.Context, wg *sync.WaitGroup, brokers []string, topic string, start map[int32]int64,
	n int, newDeliver func(scanner string) deliver) error {
	reader, err := newEventReader(brokers, topic, start, "bench."+b.work.run+".", b.epoch)
	if err != nil {
		return err
	}
	b.reader = reader
	wg.Go(func() { reader.run(ctx) })
	b.jobs = make(chan job)
	for i := range n {
		send := newDeliver(fmt.Sprintf("BENCH-SCANNER-%02d", i+1))
		wg.Go(func() { b.worker(ctx, send) })
	}
	return nil
}

// worker is one scanner connection: it takes the jobs the schedule hands
// out, generates each request's transactions at its intended time and
// delivers them.
func (b *bencher) worker(ctx context.Context, send deliver) {
	var txs []scanTx
	for {
		var j job
		select {
		case j = <-b.jobs:
		case <-ctx.Done():
			return
		}
		p := j.p
		at := p.intended(j.req)
		late := b.now() - at
		for cur := p.maxLateNs.Load(); late > cur && !p.maxLateNs.CompareAndSwap(cur, late); cur = p.maxLateNs.Load() {
		}
		txs = p.gen(txs[:0], j.req, b.wall(at))
		p.expect(j.req, txs)
		send(ctx, p, txs)
	}
}

// uploader is the delivery of a scanner over HTTP: one upload per request,
// not retried (open loop: a failed upload's transactions are lost to the
// step).
func (b *bencher) uploader(scanner string) deliver {
	var body, resp []byte
	return func(ctx context.Context, p *phase, txs []scanTx) {
		body = appendUpload(body[:0], scanner, time.Now(), txs)
		var err error
		if resp, err = b.upload(ctx, p, body, len(txs), resp); err != nil {
			p.sentTx.Add(int64(len(txs)))
			p.failedTx.Add(int64(len(txs)))
			p.failedReq.Add(1)
			p.noteErr("%v", err)
		}
	}
}

// expect notes how many events each transaction of request req will
// yield. It must run once per request (a resend must not reset what was
// already counted down) and before the request leaves: its events can be
// read as soon as it is answered.
func (p *phase) expect(req int, txs []scanTx) {
	if p.legs == nil {
		return
	}
	for k := range txs {
		p.legs[req*p.batch+k].Store(txs[k].legs())
	}
}

// upload sends one request of n transactions and, when it is answered 200,
// counts the sent, accepted and rejected ones. An error means nothing of
// the request may be assumed accepted; the caller decides whether that is
// a loss or a retry. buf is reused for the response and returned.
func (b *bencher) upload(ctx context.Context, p *phase, body []byte, n int, buf []byte) ([]byte, error) {
	p.inflight.Add(1)
	defer p.inflight.Add(-1)
	buf, err := b.post(ctx, body, buf)
	if err != nil {
		return buf, err
	}
	acc, rej, why, err := countResults(buf, n)
	if err != nil {
		return buf, err
	}
	p.sentTx.Add(int64(n))
	p.acceptedTx.Add(int64(acc))
	if rej > 0 {
		p.rejectedTx.Add(int64(rej))
		p.noteErr("rejected: %s", why)
	}
	return buf, nil
}

// post sends an upload and returns the body of a 200 answer. A refusal
// for back-pressure (503 or 429 with Retry-After: nothing of the request
// was accepted) is resent after the delay it names, as a device would; the
// wait counts in the request's latency.
func (b *bencher) post(ctx context.Context, body, buf []byte) ([]byte, error) {
	for {
		out, retry, err := b.postOnce(ctx, body, buf)
		if retry <= 0 {
			return out, err
		}
		b.refusals.Add(1)
		buf = out
		select {
		case <-ctx.Done():
			return buf, ctx.Err()
		case <-time.After(retry):
		}
	}
}

// postOnce sends an upload once; retry > 0 is a back-pressure refusal's
// Retry-After.
func (b *bencher) postOnce(ctx context.Context, body, buf []byte) ([]byte, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.cfg.URL+"/v1/transactions", bytes.NewReader(body))
	if err != nil {
		return buf, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if b.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+b.cfg.Token)
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return buf, 0, fmt.Errorf("POST /v1/transactions: %w", err)
	}
	defer resp.Body.Close()
	w := bytes.NewBuffer(buf[:0])
	_, err = w.ReadFrom(resp.Body)
	buf = w.Bytes()
	if err != nil {
		return buf, 0, fmt.Errorf("reading the answer to POST /v1/transactions: %w", err)
	}
	if resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests {
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			return buf, time.Duration(secs) * time.Second, nil
		}
	}
	if resp.StatusCode != http.StatusOK {
		return buf, 0, fmt.Errorf("POST /v1/transactions: %s: %s", resp.Status, truncate(buf, 200))
	}
	return buf, 0, nil
}

// countResults counts the accepted (or duplicate) and rejected results of
// an upload answer of n transactions, with the first rejection's reason.
// The common answer, all accepted, is recognised without decoding it.
func countResults(body []byte, n int) (accepted, rejected int, why string, err error) {
	if !bytes.Contains(body, []byte(`"rejected"`)) && !bytes.Contains(body, []byte(`"duplicate"`)) &&
		bytes.Count(body, []byte(`"status":"accepted"`)) == n {
		return n, 0, "", nil
	}
	var out api.UploadResponse
	if err := json.Unmarshal(body, &out); err != nil {
		return 0, 0, "", fmt.Errorf("decoding the answer to POST /v1/transactions: %w: %s", err, truncate(body, 200))
	}
	if len(out.Results) != n {
		return 0, 0, "", fmt.Errorf("POST /v1/transactions answered %d results for %d transactions", len(out.Results), n)
	}
	for _, r := range out.Results {
		switch r.Status {
		case api.StatusAccepted, api.StatusDuplicate:
			accepted++
		default:
			rejected++
			if why == "" {
				why = r.TransactionID + " " + string(r.Status)
				if r.Code != nil {
					why += " " + string(*r.Code)
				}
				if r.Message != nil {
					why += ": " + *r.Message
				}
			}
		}
	}
	return accepted, rejected, why, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// sample is the state of an open-loop phase at one moment.
type sample struct {
	At      time.Duration // since the phase's first intended send
	Offered int64         // transactions whose intended send time has passed
	Seen    int64         // transactions whose every event was read
	Events  int64
	Lost    int64 // rejected or in failed requests: no event will come
}

func (s sample) backlog() int64 { return s.Offered - s.Seen - s.Lost }

// offeredAt is the number of transactions of a phase of nReq requests whose
// intended send time is at or before t.
func offeredAt(t time.Duration, rate, batch, nReq int) int64 {
	if t < 0 {
		return 0
	}
	reqs := int64(t.Seconds()*float64(rate)/float64(batch)) + 1
	return min(reqs, int64(nReq)) * int64(batch)
}

// Criteria of a step that holds.
const (
	// holdDelivered: by the end of the step (and its grace) this share of
	// the offered transactions has been applied, i.e. its event read.
	holdDelivered = 0.95
	// holdGrowth: the floor of the backlog (sent, not yet read) grows by
	// less than this share of the offered rate from the second to the
	// last quarter of the step.
	holdGrowth = 0.05
	// holdErrors: at most this share of transactions failed or rejected.
	holdErrors = 0.01
)

// verdict is the judgment of one rate step.
type verdict struct {
	Holds    bool
	Reason   string  // why it does not hold
	Applied  float64 // transactions applied per second, mid-step to the last sample
	Events   float64 // events read per second, likewise
	Growth   float64 // growth of the backlog's floor, transactions per second
	Delivery float64 // share of offered seen (or lost) at the last sample
}

// judge decides whether a step at rate for d held: the service kept up
// with the offered load, from samples taken during the step and its grace
// period, in time order. It holds when
//
//   - at most 1% of the transactions failed or were rejected,
//   - 95% were applied by the end of the grace period, and
//   - the consumer lag is flat: the backlog's floor (its minimum over a
//     quarter of the step) grows, from the second quarter to the last, by
//     less than 5% of the offered rate.
//
// The floor rather than a fit of every sample: a service that keeps up
// returns to its floor between hiccups (a GC pause, a compaction, a slow
// fsync), and a hiccup from which it recovers is latency, which the
// percentiles report, not a lack of throughput; a service that does not
// keep up has a floor that rises with the step.
func judge(rate int, d time.Duration, samples []sample) verdict {
	var v verdict
	if len(samples) == 0 {
		v.Reason = "no samples"
		return v
	}
	last := samples[len(samples)-1]
	// From mid-step to the last sample: the sampling stops once everything
	// is applied, so a backlog caught up in the grace period counts and
	// idle time after it does not.
	s0, s1 := at(samples, d/2), last
	if dt := (s1.At - s0.At).Seconds(); dt > 0 {
		v.Applied = float64(s1.Seen-s0.Seen) / dt
		v.Events = float64(s1.Events-s0.Events) / dt
	}
	early, ok1 := floor(samples, d/4, d/2)
	late, ok2 := floor(samples, 3*d/4, d)
	if ok1 && ok2 {
		v.Growth = float64(late-early) / (d / 2).Seconds()
	}
	if last.Offered > 0 {
		v.Delivery = float64(last.Seen+last.Lost) / float64(last.Offered)
	}
	switch {
	case last.Offered > 0 && float64(last.Lost) > holdErrors*float64(last.Offered):
		v.Reason = fmt.Sprintf("%d of %d transactions failed or were rejected", last.Lost, last.Offered)
	case v.Delivery < holdDelivered:
		v.Reason = fmt.Sprintf("only %.1f%% applied by the end of the step", 100*v.Delivery)
	case v.Growth > holdGrowth*float64(rate):
		v.Reason = fmt.Sprintf("backlog floor growing by %.0f tx/s", v.Growth)
	default:
		v.Holds = true
	}
	return v
}

// floor returns the smallest backlog among the samples taken in [from, to].
func floor(samples []sample, from, to time.Duration) (int64, bool) {
	m, ok := int64(math.MaxInt64), false
	for _, s := range samples {
		if s.At >= from && s.At <= to {
			m, ok = min(m, s.backlog()), true
		}
	}
	return m, ok
}

// at returns the last sample taken at or before t (the first if none).
func at(samples []sample, t time.Duration) sample {
	s := samples[0]
	for _, x := range samples {
		if x.At > t {
			break
		}
		s = x
	}
	return s
}

// openLoop runs phase p at p.rate for d: requests leave on schedule while it
// samples progress every 100 ms. It returns once the step and its grace
// period are over (or everything was applied), without waiting for the
// rest; the caller drains.
func (b *bencher) openLoop(ctx context.Context, p *phase, nReq int, d time.Duration, label string) []sample {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	schedDone := make(chan struct{})
	go func() {
		defer close(schedDone)
		b.schedule(ctx, p, nReq)
	}()
	grace := max(d/10, time.Second)
	var samples []sample
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	nextPrint := time.Duration(0)
	for {
		select {
		case <-tick.C:
		case <-ctx.Done():
			<-schedDone
			return samples
		}
		t := time.Duration(b.now() - p.start)
		s := sample{At: t, Offered: offeredAt(t, p.rate, p.batch, nReq), Seen: p.seenTx.Load(),
			Events: p.seenEv.Load(), Lost: p.lost()}
		samples = append(samples, s)
		if t >= nextPrint {
			b.progressLine(label, p, s.Offered)
			nextPrint += time.Second
		}
		if t >= d+grace || (t >= d && p.done()) {
			break
		}
	}
	<-schedDone
	return samples
}

// drain waits until every transaction of p is applied or lost, up to
// timeout, printing progress.
func (b *bencher) drain(ctx context.Context, p *phase, timeout time.Duration, label string) bool {
	deadline := time.Now().Add(timeout)
	last := time.Now()
	for !p.done() {
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
		if time.Since(last) >= time.Second {
			b.progressLine(label+" (draining)", p, p.sentTx.Load())
			last = time.Now()
		}
	}
	return true
}

func (b *bencher) progressLine(label string, p *phase, offered int64) {
	seen := p.seenTx.Load()
	rss := ""
	if b.cfg.RSS != nil {
		rss = fmt.Sprintf("  rss %d MB", b.rssNow.Load()>>20)
	}
	rate := "closed loop"
	if p.rate > 0 {
		rate = fmt.Sprintf("%d tx/s", p.rate)
	}
	fmt.Fprintf(b.out, "[%6.1fs] %-22s %-11s sent %-9d seen %-9d backlog %-8d behind %-5d errors %d%s\n",
		time.Duration(b.now()).Seconds(), label, rate, p.sentTx.Load(), seen,
		max(offered-seen-p.lost(), 0), p.behind.Load(), p.failedTx.Load()+p.rejectedTx.Load(), rss)
}

// discard drains and closes an HTTP body so its connection is reused.
func discard(r io.ReadCloser) {
	_, _ = io.Copy(io.Discard, r)
	_ = r.Close()
}
