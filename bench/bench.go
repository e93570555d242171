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
	// AfterPreload, when set, runs once the preload's RECEIPTs are applied,
	// before the first measured phase (e.g. to start a CPU profile of the
	// measured phases apart from the preload's).
	AfterPreload func()
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
	checkLoad(bad, c.Records, c.BatchSize, "the API's limit per request")
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
	checkRates(bad, c.Rates)
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

// checkLoad reports through bad the problems of a load's size, Config's
// and PeerConfig's: at least 1 record, batches of 1 to maxUpload
// transactions (limitWhy says why that limit).
func checkLoad(bad func(format string, args ...any), records, batchSize int, limitWhy string) {
	if records < 1 {
		bad("Records %d: must be at least 1", records)
	}
	if batchSize < 1 || batchSize > maxUpload {
		bad("BatchSize %d: must be 1 to %d (%s)", batchSize, maxUpload, limitWhy)
	}
}

// checkRates reports through bad the problems of a ladder of offered
// rates, Config's and PeerConfig's: each at least 1 tx/s, ascending.
func checkRates(bad func(format string, args ...any), rates []int) {
	for i, r := range rates {
		if r < 1 {
			bad("Rates[%d] %d: must be at least 1 tx/s", i, r)
		} else if i > 0 && r <= rates[i-1] {
			bad("Rates: must ascend, got %d after %d", r, rates[i-1])
		}
	}
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

	var wg sync.WaitGroup
	if err := b.startLoad(ctx, &wg, cfg.Brokers, topic, start, cfg.Scanners, b.uploader); err != nil {
		return err
	}
	defer b.reader.close()
	defer wg.Wait()
	defer cancel()
	if cfg.RSS != nil {
		wg.Go(func() { b.sampleRSS(ctx) })
	}

	pool := b.recordPool(ctx)
	rep.RecordBytes = pool.avg

	if rep.Preload, err = b.preload(ctx); err != nil {
		return err
	}
	if cfg.AfterPreload != nil {
		cfg.AfterPreload()
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
