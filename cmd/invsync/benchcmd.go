package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/invsync/invsync/bench"
)

// runBench drives a pipeline with an open-loop scanner-fleet load: a running
// one (--url and --brokers), or one it starts in-process in a temporary
// data dir (on the embedded broker, or on --brokers).
func runBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
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
	asJSON := fs.Bool("json", false, "print one JSON object as the very last line")
	token := fs.String("token", envOr("INVSYNC_TOKEN", ""), "with --url: an admin token, or a scanner token whose warehouses cover the load (the load uploads as that scanner); prefer INVSYNC_TOKEN")
	peer := fs.String("peer", "", "also run a peer on the same broker, with the same load, after invsync's run: kstreams (a Kafka Streams application, exactly_once_v2, RocksDB; needs --brokers of an Apache Kafka, Java 17 and Maven)")
	mirrorDB := fs.String("mirror", "", "also run `invsync mirror` in-process into sqlite (a temporary file), sqlite://<path> or postgres://... (a schema of its own), and report its lag")
	direct := fs.Bool("direct", false, "after invsync's run, measure its processors alone as the peer is measured: the same load produced straight into the transactions topic (no HTTP ingest); needs the in-process pipeline")
	memProfile := fs.String("memprofile", "", "write a heap profile (in-process pipeline included) to this file at the end of the load, before the baseline")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run (in-process pipeline included) to this file")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), help("bench"))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg := bench.Config{
		URL: strings.TrimRight(*url, "/"), TopicPrefix: *prefix, Partitions: *partitions, Records: *records,
		BatchSize: *batch, Scanners: *scanners, LatencyRate: *latencyRate, StepDuration: *step,
		Backlog: *backlog, Seed: *seed, Token: *token,
		Settings: map[string]string{"GOMAXPROCS": strconv.Itoa(runtime.GOMAXPROCS(0))},
	}
	if *rates != "" {
		for _, r := range strings.Split(*rates, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(r))
			if err != nil || n <= 0 {
				fmt.Fprintf(stderr, "invsync bench: --rates: %q is not a positive number\n", r)
				return 2
			}
			cfg.Rates = append(cfg.Rates, n)
		}
	}
	for _, b := range strings.Split(*brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			cfg.Brokers = append(cfg.Brokers, b)
		}
	}
	opts := bench.DriveOptions{NoFsync: *noFsync, Peer: *peer, Mirror: *mirrorDB, Direct: *direct,
		OwnTopics: cfg.URL == "" && len(cfg.Brokers) > 0 && !flagSet(fs, "topic-prefix"), JSON: *asJSON}
	if err := opts.Validate(cfg); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, "invsync bench:", line)
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "invsync bench: --cpuprofile:", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "invsync bench: --cpuprofile:", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	if *memProfile != "" {
		cfg.AfterLoad = func() {
			f, err := os.Create(*memProfile)
			if err != nil {
				fmt.Fprintln(stderr, "invsync bench: --memprofile:", err)
				return
			}
			defer f.Close()
			if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
				fmt.Fprintln(stderr, "invsync bench: --memprofile:", err)
			}
		}
	}
	if err := bench.Drive(ctx, cfg, opts, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "invsync bench:", err)
		return 1
	}
	return 0
}

// flagSet reports whether the command line set flag name.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
