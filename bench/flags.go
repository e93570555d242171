package bench

import (
	"flag"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Command is `invsync bench` configured from its flags.
type Command struct {
	Config Config
	Drive  DriveOptions
	// CPUProfile and MemProfile are the files to write a CPU profile of
	// the run after the preload (the preload's goes to CPUProfile +
	// ".preload") and a heap profile after the load to (empty: none).
	CPUProfile, MemProfile string
}

// Flags declares the flags of `invsync bench` on fs; after fs.Parse, the
// function returned converts and validates them (one problem a line of
// the error).
func Flags(fs *flag.FlagSet, getenv func(string) string) func() (Command, error) {
	url := fs.String("url", "", "base URL of a running invsync; empty starts one in-process")
	brokers := fs.String("brokers", "", "Kafka seed brokers (of the running invsync with --url; for the in-process one, empty means the embedded broker)")
	prefix := fs.String("topic-prefix", "invsync.", "topic prefix of the pipeline (with --url: the running service's; in-process on --brokers, unless given: topics of the run's own, invsync.bench-<run>., deleted at the end)")
	partitions := fs.Int("partitions", 12, "partitions (in-process pipeline and baseline topic)")
	records := fs.Int("records", 10000, "distinct stock records the load touches (preloaded)")
	batch := fs.Int("batch", 100, "transactions per HTTP request")
	scanners := fs.Int("scanners", 32, "concurrent scanner connections")
	latencyRate := fs.Int("latency-rate", 10000, "transactions/s of the latency measurement")
	step := fs.Duration("step", 10*time.Second, "duration of each rate step")
	rates := fs.String("rates", "", "comma-separated rate steps (tx/s); empty means the default ladder")
	backlog := fs.Bool("backlog", true, "also measure the offline backlog drain (50 scanners × 8 h of scans)")
	seed := fs.Uint64("seed", 1, "workload seed")
	noFsync := fs.Bool("embedded-kafka-no-fsync", false, "in-process embedded broker without fsync per produce")
	sessions := fs.Int("processor-sessions", 0, "the in-process pipeline's transactional sessions (invsync serve --processor-sessions); 0 means serve's default")
	asJSON := fs.Bool("json", false, "print one JSON object as the very last line")
	token := fs.String("token", getenv("INVSYNC_TOKEN"), "with --url: an admin token, or a scanner token whose warehouses cover the load (the load uploads as that scanner); prefer INVSYNC_TOKEN")
	peer := fs.String("peer", "", "also run a peer on the same broker, with the same load, after invsync's run: kstreams (a Kafka Streams application, exactly_once_v2, RocksDB; needs --brokers of an Apache Kafka, Java 17 and Maven)")
	mirrorDB := fs.String("mirror", "", "also run `invsync mirror` in-process into sqlite (a temporary file), sqlite://<path> or postgres://... (a schema of its own), and report its lag")
	floor := fs.Bool("floor", false, "after invsync's run, measure the exactly-once floor with the same load on the same broker: a stateless relay in this process with invsync's transaction cycle (begin, decode, one event per leg, commit with the offsets), which bounds what any exactly-once processor can do there")
	direct := fs.Bool("direct", false, "after invsync's run, measure its processors alone as the peer is measured: the same load produced straight into the transactions topic (no HTTP ingest); needs the in-process pipeline")
	memProfile := fs.String("memprofile", "", "write a heap profile (in-process pipeline included) to this file at the end of the load, before the baseline")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (in-process pipeline included) of the run after the preload to this file, and of the preload to this file + \".preload\" (at many records the preload is most of the run and has a profile of its own: every record it reads is new)")
	return func() (Command, error) {
		cfg := Config{
			URL: strings.TrimRight(*url, "/"), TopicPrefix: *prefix, Partitions: *partitions, Records: *records,
			BatchSize: *batch, Scanners: *scanners, LatencyRate: *latencyRate, StepDuration: *step,
			Backlog: *backlog, Seed: *seed, Token: *token,
			Settings: map[string]string{"GOMAXPROCS": strconv.Itoa(runtime.GOMAXPROCS(0))},
		}
		if *rates != "" {
			for _, r := range strings.Split(*rates, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(r))
				if err != nil || n <= 0 {
					return Command{}, fmt.Errorf("--rates: %q is not a positive number", r)
				}
				cfg.Rates = append(cfg.Rates, n)
			}
		}
		for _, b := range strings.Split(*brokers, ",") {
			if b = strings.TrimSpace(b); b != "" {
				cfg.Brokers = append(cfg.Brokers, b)
			}
		}
		prefixSet := false
		fs.Visit(func(f *flag.Flag) { prefixSet = prefixSet || f.Name == "topic-prefix" })
		opts := DriveOptions{NoFsync: *noFsync, Sessions: *sessions, Peer: *peer, Mirror: *mirrorDB, Direct: *direct, Floor: *floor,
			OwnTopics: cfg.URL == "" && len(cfg.Brokers) > 0 && !prefixSet, JSON: *asJSON}
		if err := opts.Validate(cfg); err != nil {
			return Command{}, err
		}
		return Command{Config: cfg, Drive: opts, CPUProfile: *cpuProfile, MemProfile: *memProfile}, nil
	}
}
