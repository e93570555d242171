package bench

// The Kafka Streams peer: the same job as invsync's pipeline, done the way
// the best-known alternative does it, on the same broker with the same load
// generator, so the two can be reported side by side.
//
// The peer is the Java application in bench/kstreams (Kafka Streams 4.1.1,
// exactly_once_v2, persistent RocksDB stores with changelogs): it reads Avro
// Transaction records keyed by stock key, skips a transactionId it has
// applied before, applies RECEIPT, PICK, ADJUSTMENT and MOVE to per-record
// onHand and version, and writes one Avro InventoryEvent per applied change,
// eventId "evt-<transactionId>-<leg>", keyed by stock key. RunPeer builds its
// jar when missing or stale, starts it as a child process on fresh topics,
// drives it and stops it.
//
// What is the same as Run: the broker, the partition count, the stock
// records and their preload, the open-loop schedule (requests of BatchSize
// transactions at their intended times, latency from the intended time, no
// coordinated omission), the read_committed event reader, the HdrHistogram
// percentiles and the step judge.
//
// What differs, and in whose favour:
//
//   - The load is produced straight to the peer's input topic with the
//     ingest producer's settings (acks=all, idempotent, linger 1 ms): there
//     is no HTTP, no JSON decoding, no validation against the catalog and no
//     ingest duplicate check in front of the peer. invsync's figures include
//     all of that, so the comparison favours the peer.
//   - The mix has no CYCLE_COUNT (invsync rebases counts on a ledger of later
//     deltas; that is not the job the peer does): each would-be count is
//     redrawn, so the mix is PICK 45 : RECEIPT 35 : MOVE 8 : ADJUSTMENT 7.
//   - The peer keeps no allocations, locks, ledgers, clock-skew correction
//     or snapshots: it does strictly less per transaction than invsync.
//
// The peer needs a real Kafka: Kafka Streams' admin client fails on the
// embedded broker (kfake) at start-up, when it describes the topics.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/schemas"
)

// PeerKStreams is the name of the Kafka Streams peer.
const PeerKStreams = "kstreams"

// Defaults of PeerConfig.
const (
	DefaultPeerTopicPrefix    = "invsync.kstreams."
	DefaultPeerPartitions     = 12
	DefaultPeerSenders        = 4
	DefaultPeerCommitInterval = 100 * time.Millisecond // Kafka Streams' default under exactly-once
	DefaultPeerStreamThreads  = 1
	DefaultPeerRocksDBMemory  = 64 << 20
)

// DefaultPeerLatencyRates are the fixed rates, tx/s, at which the peer's
// latency is measured before the sustained search.
var DefaultPeerLatencyRates = []int{100, 1000, 10000}

// DefaultPeerJVMOptions are the JVM flags of the peer: a fixed 512 MiB heap
// (the state lives off-heap in RocksDB; the heap holds client buffers and
// records in flight) and G1 with a short pause target, as one would run a
// latency-sensitive Streams application.
var DefaultPeerJVMOptions = []string{"-Xms512m", "-Xmx512m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:+ExitOnOutOfMemoryError"}

// PeerConfig configures RunPeer. The zero value of every field but Brokers
// means its default.
type PeerConfig struct {
	// Brokers are the Kafka seed brokers: the same broker as invsync's run,
	// an Apache Kafka (not the embedded broker). Required.
	Brokers []string
	// TopicPrefix prefixes the run's topics, "<prefix><run>.transactions"
	// and "<prefix><run>.inventory-events" (default "invsync.kstreams.",
	// "invsync.floor." for the floor).
	// The Streams application id is "invsync-kstreams-<run>". All are new
	// for every run and deleted after it (see KeepTopics).
	TopicPrefix string
	// Partitions of the input and output topics (default 12, invsync's);
	// the peer's changelogs get as many.
	Partitions int
	// Records is the number of stock records, each preloaded with a RECEIPT
	// (default 10000, as Config.Records).
	Records int
	// BatchSize is the transactions per scheduled send, as Config.BatchSize
	// (default 100): the schedule is the same as invsync's.
	BatchSize int
	// Senders is the number of goroutines that encode and produce the
	// scheduled sends (default 4). A send is asynchronous, so few are
	// needed; when all are busy a send is counted behind schedule.
	Senders int
	// LatencyRates are fixed rates, tx/s, each measured for StepDuration
	// and judged, before the search (nil: 100, 1000, 10000; empty: none).
	LatencyRates []int
	// Rates are the rate steps of the sustained search, ascending (nil:
	// DefaultRates; empty: no search); the search stops at the first step
	// that does not hold.
	Rates []int
	// HeadlineRate picks the step whose p50/p99 are the result's headline:
	// the one measured closest to it, the latency steps first (default
	// 10000, as Config.LatencyRate).
	HeadlineRate int
	// StepDuration is the length of each step (default 10 s).
	StepDuration time.Duration
	// Seed seeds the workload (0 is a valid seed).
	Seed uint64

	// ProjectDir is the Maven project of the peer (default: bench/kstreams,
	// found next to this package's source or under the working directory).
	ProjectDir string
	// Java and Maven are the commands to run (default "java" and "mvn").
	Java, Maven string
	// JVMOptions are the peer's JVM flags (default DefaultPeerJVMOptions).
	JVMOptions []string
	// CommitInterval is the peer's commit.interval.ms (default 100 ms,
	// Kafka Streams' default under exactly-once).
	CommitInterval time.Duration
	// StreamThreads is the peer's num.stream.threads (default 1).
	StreamThreads int
	// RocksDBMemory bounds all the peer's RocksDB stores together, in bytes
	// (default 64 MiB).
	RocksDBMemory int64
	// StreamsConfig are further Kafka Streams or client settings passed to
	// the peer as given (the processing guarantee is not among them: the
	// peer always runs exactly_once_v2).
	StreamsConfig map[string]string
	// StateDir is the peer's state.dir; empty means a new temporary
	// directory, removed afterwards.
	StateDir string
	// LogFile receives the peer's stdout and stderr; empty means
	// "invsync-kstreams-<run>.log" in the system's temporary directory,
	// kept after the run.
	LogFile string
	// Direct, when set, measures invsync's own processors the way the peer
	// is measured: the load is produced straight into invsync's
	// transactions topic (no HTTP, JSON, authentication or validation) and
	// read from its events topic; no JVM runs. The pipeline must be running
	// on Brokers with Partitions partitions and the demo catalog.
	Direct *DirectTarget
	// Floor, when set, measures the exactly-once floor (PeerFloor, see
	// floor.go) instead of the peer: a stateless relay in this process on
	// topics of its own; no JVM runs. TopicPrefix defaults to
	// DefaultFloorTopicPrefix.
	Floor bool
	// KeepTopics leaves the run's topics, changelogs and consumer group on
	// the broker.
	KeepTopics bool
}

func (c PeerConfig) withDefaults() PeerConfig {
	if c.Floor {
		c.TopicPrefix = cmp.Or(c.TopicPrefix, DefaultFloorTopicPrefix)
	}
	c.TopicPrefix = cmp.Or(c.TopicPrefix, DefaultPeerTopicPrefix)
	c.Partitions = cmp.Or(c.Partitions, DefaultPeerPartitions)
	c.Records = cmp.Or(c.Records, DefaultRecords)
	c.BatchSize = cmp.Or(c.BatchSize, DefaultBatchSize)
	c.Senders = cmp.Or(c.Senders, DefaultPeerSenders)
	if c.LatencyRates == nil {
		c.LatencyRates = DefaultPeerLatencyRates
	}
	if c.Rates == nil {
		c.Rates = DefaultRates
	}
	c.HeadlineRate = cmp.Or(c.HeadlineRate, DefaultLatencyRate)
	c.StepDuration = cmp.Or(c.StepDuration, DefaultStepDuration)
	c.Java = cmp.Or(c.Java, "java")
	c.Maven = cmp.Or(c.Maven, "mvn")
	if c.JVMOptions == nil {
		c.JVMOptions = DefaultPeerJVMOptions
	}
	c.CommitInterval = cmp.Or(c.CommitInterval, DefaultPeerCommitInterval)
	c.StreamThreads = cmp.Or(c.StreamThreads, DefaultPeerStreamThreads)
	c.RocksDBMemory = cmp.Or(c.RocksDBMemory, DefaultPeerRocksDBMemory)
	return c
}

// DirectTarget names invsync's topics for PeerConfig.Direct.
type DirectTarget struct {
	TransactionsTopic, EventsTopic string
	// Preloaded: the pipeline's store holds the run's stock records
	// already (the whole path's run preloaded the same records, same seed,
	// into the same pipeline), so the direct run does not load them a
	// second time. A second preload doubles the store's writes just before
	// the ladder, which then measures the compactions it left behind (at
	// 10 million records, most of what it measured).
	Preloaded bool
}

// PeerDirect is the name of the direct run of invsync's processors.
const PeerDirect = "invsync-direct"

// name is what the run's progress lines call it.
func (r *peerRun) name() string {
	switch {
	case r.cfg.Direct != nil:
		return PeerDirect
	case r.cfg.Floor:
		return PeerFloor
	}
	return PeerKStreams
}

// Validate reports every problem of the configuration at once.
func (c PeerConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.Brokers) == 0 {
		bad("Brokers: the Kafka seed brokers are required (the peer runs on the same broker as invsync)")
	}
	if c.Partitions < 1 {
		bad("Partitions %d: must be at least 1", c.Partitions)
	}
	if c.Floor && c.Direct != nil {
		bad("Floor and Direct: one run measures one system")
	}
	checkLoad(bad, c.Records, c.BatchSize, "as invsync's uploads")
	if c.Senders < 1 {
		bad("Senders %d: must be at least 1", c.Senders)
	}
	for i, r := range c.LatencyRates {
		if r < 1 {
			bad("LatencyRates[%d] %d: must be at least 1 tx/s", i, r)
		}
	}
	checkRates(bad, c.Rates)
	if len(c.LatencyRates)+len(c.Rates) == 0 {
		bad("LatencyRates and Rates: at least one step is needed")
	}
	if n := 1 + len(c.LatencyRates) + len(c.Rates); n > maxPhases {
		bad("LatencyRates and Rates: at most %d steps together", maxPhases-1)
	}
	if c.HeadlineRate < 1 {
		bad("HeadlineRate %d: must be at least 1 tx/s", c.HeadlineRate)
	}
	if c.StepDuration < time.Second {
		bad("StepDuration %s: must be at least 1s", c.StepDuration)
	}
	if c.CommitInterval < time.Millisecond {
		bad("CommitInterval %s: must be at least 1ms", c.CommitInterval)
	}
	if c.StreamThreads < 1 {
		bad("StreamThreads %d: must be at least 1", c.StreamThreads)
	}
	if c.RocksDBMemory < 8<<20 {
		bad("RocksDBMemory %d: must be at least 8 MiB", c.RocksDBMemory)
	}
	for k := range c.StreamsConfig {
		if k == "" || strings.ContainsAny(k, "= \t\n") {
			bad("StreamsConfig key %q: not a Kafka setting name", k)
		}
		if k == "processing.guarantee" {
			bad("StreamsConfig: processing.guarantee is fixed at exactly_once_v2")
		}
	}
	return errors.Join(errs...)
}

// RunPeer runs the Kafka Streams peer on cfg.Brokers and measures it as Run
// measures invsync: preload, a step at each of cfg.LatencyRates, then the
// sustained search over cfg.Rates. It prints progress lines to progress
// (nil: none). The peer process is stopped and waited for before RunPeer
// returns, also on error or when ctx ends; on error the result holds what
// was measured before it.
func RunPeer(ctx context.Context, cfg PeerConfig, progress io.Writer) (PeerResult, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return PeerResult{Name: PeerKStreams}, fmt.Errorf("invalid peer configuration: %w", err)
	}
	if progress == nil {
		progress = io.Discard
	}
	epoch := time.Now()
	work := newWorkload(cfg.Records, cfg.Seed, epoch)
	run := work.run
	res := PeerResult{Name: PeerKStreams, RunID: run, Settings: cfg.settings()}
	r := &peerRun{cfg: cfg, out: progress, topics: newPeerTopics(cfg.TopicPrefix, run)}
	if cfg.Floor {
		res.Name = PeerFloor
		res.Settings = cfg.floorSettings()
		r.topics = newFloorTopics(cfg.TopicPrefix, run)
	}
	if cfg.Direct != nil {
		res.Name = PeerDirect
		res.Settings = map[string]string{"load": "produced straight into " + cfg.Direct.TransactionsTopic + " (no HTTP ingest), as the peer's"}
		r.topics.input, r.topics.output = cfg.Direct.TransactionsTopic, cfg.Direct.EventsTopic
	}
	r.b = &bencher{
		cfg: Config{Records: cfg.Records, BatchSize: cfg.BatchSize, StepDuration: cfg.StepDuration,
			Seed: cfg.Seed, RSS: r.rss},
		out: progress, epoch: epoch,
		work: work,
		mix:  peerMixed, name: r.name(),
	}
	err := r.run(ctx, &res)
	res.DurationSec = time.Since(epoch).Seconds()
	return res, err
}

// peerRun is one RunPeer.
type peerRun struct {
	cfg    PeerConfig
	out    io.Writer
	topics peerTopics
	b      *bencher // the schedule, the phases and the event reader, shared with Run
	codec  *schemas.Set
	prod   *kgo.Client
	jvm    *peerProcess
}

func (r *peerRun) run(parent context.Context, res *PeerResult) (err error) {
	ctx, cancelCause := context.WithCancelCause(parent)
	cancel := func() { cancelCause(context.Canceled) }
	defer cancel()
	// A peer that dies mid-run ends the run at once, with that as the error.
	defer func() {
		if cause := context.Cause(ctx); err != nil && (errors.Is(cause, ErrPeerExited) || errors.Is(cause, ErrFloorFailed)) {
			err = cause
		}
	}()
	cfg := r.cfg
	b := r.b

	if r.codec, err = schemas.New(ctx, schemas.Config{}); err != nil {
		return fmt.Errorf("loading the schemas: %w", err)
	}
	admCl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...))
	if err != nil {
		return fmt.Errorf("creating admin client: %w", err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	if cfg.Direct != nil {
		return r.measure(ctx, res, adm)
	}
	if cfg.Floor {
		return r.runFloor(ctx, res, adm, cancelCause)
	}
	jar, err := ensurePeerJar(ctx, cfg, r.out)
	if err != nil {
		return err
	}
	if err := createPeerTopics(ctx, adm, r.topics, int32(cfg.Partitions)); err != nil {
		return err
	}
	if !cfg.KeepTopics {
		defer deletePeerTopics(adm, r.topics, r.out)
	}

	stateDir := cfg.StateDir
	if stateDir == "" {
		if stateDir, err = os.MkdirTemp("", "invsync-kstreams-state-"); err != nil {
			return fmt.Errorf("creating the peer's state dir: %w", err)
		}
		defer os.RemoveAll(stateDir)
	}
	logPath := cfg.LogFile
	if logPath == "" {
		logPath = filepath.Join(os.TempDir(), "invsync-kstreams-"+b.work.run+".log")
	}
	res.Log = logPath

	fmt.Fprintf(r.out, "kstreams peer: %s, %d partitions, %d stock records, batch %d, run %s; input %s, output %s, log %s\n",
		strings.Join(cfg.Brokers, ","), cfg.Partitions, cfg.Records, cfg.BatchSize, b.work.run, r.topics.input, r.topics.output, logPath)
	t0 := time.Now()
	txID, evID := r.schemaIDs()
	r.jvm, err = startPeerProcess(ctx, cfg, jar, r.topics, txID, evID, stateDir, logPath)
	if err != nil {
		return err
	}
	defer func() {
		if hwm := r.jvm.peakRSS(); hwm > 0 {
			res.RSSMB = float64(hwm) / (1 << 20)
		}
		res.CPUSec = r.jvm.cpuSeconds()
		if stopErr := r.jvm.stop(30 * time.Second); stopErr != nil && err == nil && ctx.Err() == nil {
			err = stopErr
		}
	}()
	if err := r.jvm.waitRunning(ctx, 3*time.Minute); err != nil {
		return err
	}
	go func() {
		if died := r.jvm.died(ctx); died != nil {
			cancelCause(died)
		}
	}()
	fmt.Fprintf(r.out, "kstreams peer: pid %d RUNNING after %.1f s\n", r.jvm.pid(), time.Since(t0).Seconds())

	return r.measure(ctx, res, adm)
}

// measure runs the preload and the steps against r.topics and fills res.
func (r *peerRun) measure(ctx context.Context, res *PeerResult, adm *kadm.Client) (err error) {
	cfg, b := r.cfg, r.b
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := make(map[int32]int64, cfg.Partitions)
	for p := range int32(cfg.Partitions) {
		start[p] = 0 // the peer's output topic is new
	}
	if cfg.Direct != nil { // invsync's events topic: from its end now
		ends, err := adm.ListEndOffsets(ctx, r.topics.output)
		if err != nil {
			return fmt.Errorf("listing the end offsets of %s: %w", r.topics.output, err)
		}
		ends.Each(func(o kadm.ListedOffset) { start[o.Partition] = o.Offset })
	}
	if r.prod, err = newPeerProducer(cfg.Brokers, r.topics.input); err != nil {
		return err
	}
	defer r.prod.Close()

	var wg sync.WaitGroup
	if err := b.startLoad(ctx, &wg, cfg.Brokers, r.topics.output, start, cfg.Senders, func(scanner string) deliver {
		return func(ctx context.Context, p *phase, txs []scanTx) { r.send(ctx, p, txs, scanner) }
	}); err != nil {
		return err
	}
	defer b.reader.close()
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { b.sampleRSS(ctx) })

	if d := cfg.Direct; d != nil && d.Preloaded {
		fmt.Fprintf(b.out, "[%6.1fs] preload: skipped, the pipeline holds the run's %d stock records already\n",
			time.Duration(b.now()).Seconds(), cfg.Records)
	} else if res.Preload, err = r.preload(ctx); err != nil {
		return err
	}

	// step runs one step and adds it to the result.
	step := func(label string, rate int) (Step, error) {
		st, err := b.step(ctx, label, rate)
		res.Steps = append(res.Steps, peerStep(st))
		res.headline(cfg.HeadlineRate)
		return st, err
	}
	for i, rate := range cfg.LatencyRates {
		if _, err := step(fmt.Sprintf("latency %d/%d", i+1, len(cfg.LatencyRates)), rate); err != nil {
			return err
		}
	}
	for i, rate := range cfg.Rates {
		st, err := step(fmt.Sprintf("step %d/%d", i+1, len(cfg.Rates)), rate)
		if err != nil {
			return err
		}
		if !st.Holds {
			break
		}
		res.SustainedTPS = rate
		res.AllStepsHeld = i == len(cfg.Rates)-1
	}
	jvm := ""
	if r.jvm != nil {
		jvm = fmt.Sprintf("; JVM RSS now %d MB", r.rss()>>20)
	}
	fmt.Fprintf(r.out, "[%6.1fs] %s: sustained %d tx/s; at %d tx/s p50 %.1f ms, p99 %.1f ms, p99.9 %.1f ms%s\n",
		time.Duration(b.now()).Seconds(), res.Name, res.SustainedTPS, res.LatencyRate, res.P50Ms, res.P99Ms, res.P999Ms, jvm)
	return nil
}

// schemaIDs are the ids the peer must expect on its input and write on its
// output: the ones this process's schema set writes.
func (r *peerRun) schemaIDs() (transaction, event int) {
	for _, s := range r.codec.Schemas() {
		switch s.TopicSuffix {
		case schemas.TopicTransactions:
			transaction = s.ID
		case schemas.TopicInventoryEvents:
			event = s.ID
		}
	}
	return transaction, event
}

// rss is the peer JVM's resident set size in bytes (0 before it starts).
func (r *peerRun) rss() int64 {
	if r.jvm == nil {
		return 0
	}
	return r.jvm.rss()
}

func (c PeerConfig) settings() map[string]string {
	s := map[string]string{
		"peer":                 "Kafka Streams 4.1.1 (bench/kstreams), one instance, a child process of the bench",
		"processing.guarantee": "exactly_once_v2",
		"commit.interval.ms":   strconv.FormatInt(c.CommitInterval.Milliseconds(), 10),
		"num.stream.threads":   strconv.Itoa(c.StreamThreads),
		"state stores":         fmt.Sprintf("2 persistent RocksDB key-value stores (stock records, applied transactionIds), changelogged, uncached; RocksDB memory bound %d MiB", c.RocksDBMemory>>20),
		"peer producer":        "acks=all, idempotent, transactional (EOS), linger 5 ms, batch 256 KiB, snappy, retry backoff 20 ms",
		"peer consumer":        "read_committed, fetch.max.wait.ms 10, poll.ms 10",
		"jvm":                  strings.Join(c.JVMOptions, " "),
		"load":                 "produced straight to the peer's input topic (acks=all, idempotent, linger 1 ms, batch 1 MiB, snappy): no HTTP ingest, which invsync's figures include",
		"mix":                  "PICK 45 : RECEIPT 35 : MOVE 8 : ADJUSTMENT 7 (invsync's mix without its 5% CYCLE_COUNT)",
		"partitions":           strconv.Itoa(c.Partitions),
	}
	for k, v := range c.StreamsConfig {
		s["streams "+k] = v
	}
	return s
}
