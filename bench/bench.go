// Package bench drives a running invsync the way a scanner fleet does and
// measures it: end-to-end latency and sustained throughput under open-loop
// load, against a raw Kafka baseline taken in the same run on the same
// broker, and the time to drain the offline backlogs of a fleet coming back
// online. `invsync bench` parses flags into a Config and calls Run.
//
// What a run does, in order:
//
//  1. Waits for GET /readyz, reads the events topic's partitions and end
//     offsets, and starts one read_committed consumer there.
//  2. Preload: one RECEIPT for each of Config.Records stock records, in
//     uploads of 1000, closed loop, until every event is read.
//  3. Latency: open-loop load at Config.LatencyRate for StepDuration.
//  4. Sustained throughput: open-loop load at each of Config.Rates for
//     StepDuration, stopping at the first step that does not hold (see
//     judge); the highest that holds is the sustained rate.
//  5. Backlog (Config.Backlog): 50 scanners, each with 8 hours of queued
//     scans, upload at once; the time until every event is read.
//  6. Baseline: raw franz-go produce → consume of the same number and size
//     of records on the same broker, at full speed.
//
// Open loop: requests leave at their intended times whether or not earlier
// ones were answered; a transaction's latency runs from its request's
// intended send time to the moment its event (both events, for a MOVE) is
// read from the events topic, so a stalled service cannot hide its stall by
// slowing the load down (coordinated omission).
//
// The bench needs nothing from the service but its HTTP API and read
// access to its Kafka topics; it identifies its events by their eventId,
// "evt-<transactionId>-<leg>", and its transactionIds carry a run id, so a
// service that already holds data, or another run's events, does not
// disturb it.
package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
)

// Defaults of Config.
const (
	DefaultTopicPrefix  = schemas.DefaultTopicPrefix
	DefaultRecords      = 10000
	DefaultBatchSize    = 100
	DefaultScanners     = 32
	DefaultLatencyRate  = 10000
	DefaultStepDuration = 10 * time.Second
)

// DefaultRates are the rate steps of the sustained-throughput search, in
// transactions per second.
var DefaultRates = []int{5000, 10000, 15000, 20000, 25000, 30000, 40000, 50000, 60000, 80000}

// The offline-backlog scenario: a fleet of scanners that were offline for a
// shift come back at once, each with one scan every 10 s queued.
const (
	backlogScanners = 50
	backlogSpan     = 8 * time.Hour
	backlogEvery    = 10 * time.Second
	backlogScans    = int(backlogSpan / backlogEvery) // per scanner: 2880
)

// baselineMin is the fewest records the baseline sends.
const baselineMin = 1000000

// maxUpload is the API's limit of transactions per request.
const maxUpload = 1000

// Config configures Run. The zero value of every field but URL and Brokers
// means its default.
type Config struct {
	// Token authenticates the uploads (a scanner token of the load's
	// scanner ids, or an admin token). Empty sends none.
	Token string
	// URL is the base URL of the running invsync, e.g.
	// "http://127.0.0.1:8080". Required.
	URL string
	// Brokers are the Kafka seed brokers of that invsync, for reading the
	// events topic and for the baseline. Required.
	Brokers []string
	// TopicPrefix is the service's topic prefix (default "invsync.").
	TopicPrefix string
	// Partitions is reported and used for the baseline topic; 0 means the
	// events topic's partition count.
	Partitions int
	// BrokerKind is "embedded" or "kafka", for the report; empty means
	// detected (the embedded broker's cluster id is "invsync-embedded").
	BrokerKind string
	// Records is the number of distinct stock records the load touches
	// (default 10000), each preloaded with a RECEIPT before measuring.
	// MOVEs also create stock at the destination location when no other
	// of the records has the same item there, so the state holds up to
	// twice as many.
	Records int
	// BatchSize is the transactions per HTTP request (default 100, at most
	// 1000).
	BatchSize int
	// Scanners is the number of concurrent HTTP connections, one scanner id
	// each (default 32). All busy means requests fall behind schedule.
	Scanners int
	// LatencyRate is the rate, tx/s, of the latency measurement (default
	// 10000).
	LatencyRate int
	// StepDuration is the length of the latency phase and of each rate
	// step (default 10 s).
	StepDuration time.Duration
	// Rates are the rate steps of the sustained search, ascending (default
	// DefaultRates).
	Rates []int
	// Backlog also runs the offline-backlog drain (50 scanners × 8 h).
	Backlog bool
	// Seed seeds the workload (0 is a valid seed).
	Seed uint64
	// RSS, if set, returns the resident set size in bytes of the process
	// under test; the report gives its peak. Nil reports 0.
	RSS func() int64
	// AfterLoad, when set, runs once the load phases end, before the
	// baseline (e.g. to write a heap profile while the state is loaded).
	AfterLoad func()
	// Settings are extra configuration lines for the report's disclosure
	// (e.g. "fsync": "every produce"), shown as given.
	Settings map[string]string
	// HTTPClient, if set, sends the uploads; nil means a client with
	// keep-alive connections for every scanner.
	HTTPClient *http.Client
}

func (c Config) withDefaults() Config {
	c.TopicPrefix = cmp.Or(c.TopicPrefix, DefaultTopicPrefix)
	c.Records = cmp.Or(c.Records, DefaultRecords)
	c.BatchSize = cmp.Or(c.BatchSize, DefaultBatchSize)
	c.Scanners = cmp.Or(c.Scanners, DefaultScanners)
	c.LatencyRate = cmp.Or(c.LatencyRate, DefaultLatencyRate)
	c.StepDuration = cmp.Or(c.StepDuration, DefaultStepDuration)
	if len(c.Rates) == 0 {
		c.Rates = DefaultRates
	}
	c.URL = strings.TrimRight(c.URL, "/")
	return c
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://") {
		bad("URL %q: want the base URL of a running invsync, such as http://127.0.0.1:8080", c.URL)
	}
	if len(c.Brokers) == 0 {
		bad("Brokers: the service's Kafka seed brokers are required (to read the events topic and for the baseline)")
	}
	if c.Records < 1 {
		bad("Records %d: must be at least 1", c.Records)
	}
	if c.BatchSize < 1 || c.BatchSize > maxUpload {
		bad("BatchSize %d: must be 1 to %d (the API's limit per request)", c.BatchSize, maxUpload)
	}
	if c.Scanners < 1 {
		bad("Scanners %d: must be at least 1", c.Scanners)
	}
	if c.Partitions < 0 {
		bad("Partitions %d: must not be negative", c.Partitions)
	}
	if c.LatencyRate < 1 {
		bad("LatencyRate %d: must be at least 1 tx/s", c.LatencyRate)
	}
	if c.StepDuration < time.Second {
		bad("StepDuration %s: must be at least 1s", c.StepDuration)
	}
	for i, r := range c.Rates {
		if r < 1 {
			bad("Rates[%d] %d: must be at least 1 tx/s", i, r)
		} else if i > 0 && r <= c.Rates[i-1] {
			bad("Rates: must ascend, got %d after %d", r, c.Rates[i-1])
		}
	}
	if steps := 2 + len(c.Rates) + 1; steps > maxPhases {
		bad("Rates: at most %d steps", maxPhases-3)
	}
	switch c.BrokerKind {
	case "", "embedded", "kafka":
	default:
		bad("BrokerKind %q: want embedded or kafka", c.BrokerKind)
	}
	return errors.Join(errs...)
}

// bencher is one run.
type bencher struct {
	cfg    Config
	out    io.Writer
	epoch  time.Time
	work   *workload
	http   *http.Client
	reader *eventReader
	jobs   chan job
	next   int   // next phase id
	clock  clock // nil: the wall clock since epoch
	// mix appends one transaction of a step (nil: (*workload).mixed);
	// name leads a step's progress lines (empty: none).
	mix  func(w *workload, dst []scanTx, rng *rand.Rand, phase, seq int, at time.Time, user string) []scanTx
	name string

	rssNow, rssMax atomic.Int64
	// refusals counts uploads refused for back-pressure and resent.
	refusals atomic.Int64
}

// now is the time since the run's epoch, in nanoseconds (monotonic).
func (b *bencher) now() int64 {
	if b.clock != nil {
		return b.clock.now()
	}
	return int64(time.Since(b.epoch))
}

// wall is the wall-clock time of t nanoseconds after the epoch.
func (b *bencher) wall(t int64) time.Time { return b.epoch.Add(time.Duration(t)) }

func (b *bencher) newPhase(name string, nTx, batch, rate int, start time.Duration, measure, trackLegs bool) *phase {
	p := newPhase(b.next, name, nTx, batch, rate, int64(start), measure, trackLegs)
	b.next++
	b.reader.register(p)
	return p
}

// newWorkload returns the workload of a run started at epoch over the
// demo catalog, with a run id of its own.
func newWorkload(records int, seed uint64, epoch time.Time) *workload {
	return &workload{space: newCatalogSpace(processors.DemoCatalog()), records: records, seed: seed,
		run: strconv.FormatInt(epoch.UnixMilli(), 36) + strconv.FormatUint(uint64(rand.Uint32()), 36)}
}

// Run benchmarks the invsync at cfg.URL, printing a progress line to
// progress (nil: none) every second. On error, the report holds what was
// measured before it.
func Run(ctx context.Context, cfg Config, progress io.Writer) (Report, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return Report{}, fmt.Errorf("invalid bench configuration: %w", err)
	}
	if progress == nil {
		progress = io.Discard
	}
	b := &bencher{cfg: cfg, out: progress, epoch: time.Now(), http: cfg.HTTPClient}
	b.work = newWorkload(cfg.Records, cfg.Seed, b.epoch)
	if b.http == nil {
		b.http = &http.Client{Timeout: time.Minute, Transport: &http.Transport{
			MaxIdleConns: 0, MaxIdleConnsPerHost: cfg.Scanners + backlogScanners,
			IdleConnTimeout: time.Minute, DisableCompression: true,
		}}
	}
	rep := Report{
		Started: b.epoch.UTC(), Broker: cfg.BrokerKind, Partitions: cfg.Partitions, Records: cfg.Records,
		BatchSize: cfg.BatchSize, Scanners: cfg.Scanners, GOMAXPROCS: runtime.GOMAXPROCS(0),
		StepSeconds: cfg.StepDuration.Seconds(), LatencyRate: cfg.LatencyRate, Settings: cfg.Settings,
		RunID: b.work.run,
	}
	err := b.run(ctx, &rep)
	rep.DurationSec = time.Since(b.epoch).Seconds()
	return rep, err
}

func (b *bencher) run(ctx context.Context, rep *Report) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cfg := b.cfg
	if err := b.waitReady(ctx, 2*time.Minute); err != nil {
		return err
	}

	topic := schemas.NewTopics(cfg.TopicPrefix).InventoryEvents
	admCl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...))
	if err != nil {
		return fmt.Errorf("creating admin client: %w", err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	start, parts, cluster, err := endOffsets(ctx, adm, topic)
	if err != nil {
		return err
	}
	if rep.Partitions == 0 {
		rep.Partitions = parts
	}
	if rep.Broker == "" {
		rep.Broker = "kafka"
		if cluster == "invsync-embedded" {
			rep.Broker = "embedded"
		}
	}
	fmt.Fprintf(b.out, "invsync bench: %s, %s broker %s, %d partitions, %d stock records, batch %d, %d scanners, run %s\n",
		cfg.URL, rep.Broker, strings.Join(cfg.Brokers, ","), rep.Partitions, cfg.Records, cfg.BatchSize, cfg.Scanners, b.work.run)

	b.reader, err = newEventReader(cfg.Brokers, topic, start, "bench."+b.work.run+".", b.epoch)
	if err != nil {
		return err
	}
	defer b.reader.close()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { b.reader.run(ctx) })
	b.startWorkers(ctx, &wg, cfg.Scanners, b.uploader)
	if cfg.RSS != nil {
		wg.Go(func() { b.sampleRSS(ctx) })
	}

	pool := b.recordPool(ctx)
	rep.RecordBytes = pool.avg

	if rep.Preload, err = b.preload(ctx); err != nil {
		return err
	}

	lat, err := b.step(ctx, "latency", cfg.LatencyRate)
	rep.Latency = &lat
	if err != nil {
		return err
	}
	rep.P50Ms, rep.P99Ms, rep.P999Ms, rep.MaxMs = lat.Latency.P50, lat.Latency.P99, lat.Latency.P999, lat.Latency.Max

	for i, rate := range cfg.Rates {
		st, err := b.step(ctx, fmt.Sprintf("step %d/%d", i+1, len(cfg.Rates)), rate)
		rep.Steps = append(rep.Steps, st)
		if err != nil {
			return err
		}
		if !st.Holds {
			break
		}
		rep.SustainedTPS, rep.SustainedAppliedTPS = rate, st.AppliedTPS
		rep.AllStepsHeld = i == len(cfg.Rates)-1
	}

	if cfg.Backlog {
		bl, err := b.backlog(ctx)
		rep.Backlog = &bl
		if err != nil {
			return err
		}
	}
	rep.RSSMB = float64(b.rssMax.Load()) / (1 << 20)
	if b.cfg.AfterLoad != nil {
		b.cfg.AfterLoad()
	}
	rep.Refusals = b.refusals.Load()

	// As many records as the largest step offered, and at least a million
	// so that the baseline runs long enough to be a rate, not a start-up.
	n := baselineMin
	for _, s := range rep.Steps {
		n = max(n, int(s.Offered))
	}
	parts = rep.Partitions
	base, err := runBaseline(ctx, adm, cfg.Brokers, cfg.TopicPrefix+"bench-baseline", int32(parts), pool, n, b.out)
	rep.Baseline = base
	if err != nil {
		return err
	}
	rep.BaselineTPS = base.TPS
	if base.TPS > 0 {
		rep.Ratio = float64(rep.SustainedTPS) / base.TPS
	}
	return nil
}

// waitReady waits for GET /readyz to answer 200.
func (b *bencher) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.cfg.URL+"/readyz", nil)
		if err != nil {
			return fmt.Errorf("checking %s/readyz: %w", b.cfg.URL, err)
		}
		resp, err := b.http.Do(req)
		if err == nil {
			discard(resp.Body)
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("invsync at %s not ready after %s: %w", b.cfg.URL, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// endOffsets returns the events topic's end offsets, its partition count
// and the cluster id.
func endOffsets(ctx context.Context, adm *kadm.Client, topic string) (map[int32]int64, int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return nil, 0, "", fmt.Errorf("reading metadata of %s: %w", topic, err)
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		return nil, 0, "", fmt.Errorf("events topic %s not found (is --topic-prefix right?): %v", topic, td.Err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, 0, "", fmt.Errorf("listing end offsets of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out, len(td.Partitions), md.Cluster, nil
}

func (b *bencher) sampleRSS(ctx context.Context) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		v := b.cfg.RSS()
		b.rssNow.Store(v)
		if v > b.rssMax.Load() {
			b.rssMax.Store(v)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

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

// step runs one open-loop step at rate, judges it, and drains it. The
// transactions are b.mix's (the service's mix by default); b.name, if
// set, leads the step's progress lines.
func (b *bencher) step(ctx context.Context, label string, rate int) (Step, error) {
	d := b.cfg.StepDuration
	batch := min(b.cfg.BatchSize, rate)
	nReq := requestsFor(rate, batch, d)
	p := b.newPhase(label, nReq*batch, batch, rate, time.Duration(b.now())+50*time.Millisecond, true, true)
	users := make([]string, 16)
	for i := range users {
		users[i] = fmt.Sprintf("bench-user-%02d", i+1)
	}
	mix := b.mix
	if mix == nil {
		mix = (*workload).mixed
	}
	p.gen = func(dst []scanTx, req int, at time.Time) []scanTx {
		rng := b.work.rng(p.id, req)
		user := users[req%len(users)]
		for k := range batch {
			dst = mix(b.work, dst, rng, p.id, req*batch+k, at, user)
		}
		return dst
	}
	who := label
	if b.name != "" {
		who = b.name + " " + label
	}
	samples := b.openLoop(ctx, p, nReq, d, who)
	v := judge(rate, d, samples)
	drainFor := max(2*time.Minute, 4*d)
	drained := b.drain(ctx, p, drainFor, who)
	st := Step{
		Name: label, Rate: rate, Seconds: d.Seconds(), Offered: int64(p.expected),
		Accepted: p.acceptedTx.Load(), Rejected: p.rejectedTx.Load(), Failed: p.failedTx.Load(),
		Behind: p.behind.Load(), MaxLateMs: float64(p.maxLateNs.Load()) / 1e6,
		Seen: p.seenTx.Load(), AppliedTPS: v.Applied, EventsPerSec: v.Events, BacklogGrowth: v.Growth,
		Delivered: v.Delivery, Holds: v.Holds, Reason: v.Reason, FirstError: p.error(), Latency: p.latency(),
		DuplicateEvents: p.dupEv.Load(),
	}
	st.Missing = max(st.Accepted-st.Seen, 0)
	fmt.Fprintf(b.out, "[%6.1fs] %s at %d tx/s: applied %.0f tx/s, lag floor %+.0f tx/s, p50 %.1f ms p99 %.1f ms p99.9 %.1f ms: %s\n",
		time.Duration(b.now()).Seconds(), who, rate, v.Applied, v.Growth, st.Latency.P50, st.Latency.P99, st.Latency.P999, holdsWord(st))
	if err := ctx.Err(); err != nil {
		return st, err
	}
	if !drained {
		// What is still in the service would distort what follows.
		return st, fmt.Errorf("%s: %d accepted transactions not applied %s after the step", who, st.Missing, drainFor)
	}
	return st, nil
}

func holdsWord(s Step) string {
	if s.Holds {
		return "holds"
	}
	return "does not hold (" + s.Reason + ")"
}

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
