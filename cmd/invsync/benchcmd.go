package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

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
		fmt.Fprint(fs.Output(), `Usage: invsync bench [flags]

Measures the pipeline the way a scanner fleet loads it: open-loop batched
uploads at fixed rates (latency from each request's scheduled send time to
its event on the events topic), rate steps until the consumer falls behind,
an offline-backlog drain, and a raw franz-go produce->consume baseline on the
same broker in the same run. Progress goes to stderr; the table (and with
--json one JSON line) to stdout.

Flags:
`)
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
	if *peer != "" && *peer != bench.PeerKStreams {
		fmt.Fprintf(stderr, "invsync bench: --peer: %q is not a known peer (kstreams)\n", *peer)
		return 2
	}
	if *peer != "" && len(cfg.Brokers) == 0 {
		fmt.Fprintln(stderr, "invsync bench: --peer kstreams needs --brokers of an Apache Kafka (bash scripts/kafka.sh up starts one on 127.0.0.1:39092): the peer and invsync are measured on the same broker")
		return 2
	}
	if *direct && cfg.URL != "" {
		fmt.Fprintln(stderr, "invsync bench: --direct measures the in-process pipeline; it cannot be used with --url")
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

	group := "invsync-bench"
	if cfg.URL == "" && len(cfg.Brokers) > 0 && !flagSet(fs, "topic-prefix") {
		// The in-process pipeline starts from an empty data dir: on topics
		// an earlier run left on the broker it would first restore their
		// whole changelog, and measure that. Each run gets topics and a
		// group of its own, deleted at the end.
		run := strconv.FormatInt(time.Now().UnixNano(), 36)
		*prefix, group = *prefix+"bench-"+run+".", group+"-"+run
		cfg.TopicPrefix = *prefix
		fmt.Fprintf(stderr, "invsync bench: the run's topics: %s* and group %s, deleted at the end (--topic-prefix to choose)\n", *prefix, group)
		defer deleteBenchTopics(cfg.Brokers, *prefix, group, stderr)
	}
	if cfg.URL == "" {
		dir, err := os.MkdirTemp("", "invsync-bench-")
		if err != nil {
			fmt.Fprintln(stderr, "invsync bench:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		sc := serveConfig{
			DataDir: dir, HTTPAddr: "127.0.0.1:0", Brokers: cfg.Brokers, EmbeddedKafkaAddr: "127.0.0.1:0",
			EmbeddedNoFsync: *noFsync, Partitions: *partitions, TopicPrefix: *prefix, Group: group,
			SessionTimeout: 10 * time.Second, LedgerWindow: 7 * 24 * time.Hour, MaxScanAge: 30 * 24 * time.Hour,
			// Every upload is authenticated as in production; the load
			// is one token, so no per-token rate limit.
			AdminToken: randomToken(), RateLimit: 0,
		}
		cfg.Token = sc.AdminToken
		log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		srv, err := start(ctx, sc, log)
		if err != nil {
			fmt.Fprintln(stderr, "invsync bench: starting the pipeline:", err)
			return 1
		}
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- srv.run(sctx) }()
		defer func() { cancel(); <-done }()
		cfg.URL = "http://" + srv.httpLn.Addr().String()
		if err := srv.waitUp(ctx); err != nil {
			fmt.Fprintln(stderr, "invsync bench: starting the pipeline:", err)
			return 1
		}
		cfg.Brokers = srv.brokers
		cfg.RSS = selfRSS
		if sc.Brokers == nil {
			cfg.BrokerKind = "embedded"
			cfg.Settings["fsync"] = map[bool]string{true: "none", false: "every produce (embedded broker)"}[*noFsync]
		} else {
			cfg.BrokerKind = "kafka"
		}
		cfg.Settings["pipeline"] = "in-process (RSS includes the bench and, when embedded, the broker)"
	}
	if len(cfg.Brokers) == 0 {
		fmt.Fprintln(stderr, "invsync bench: --url needs --brokers (the running invsync's Kafka), to read its events")
		return 2
	}
	finishMirror, err := startBenchMirror(ctx, *mirrorDB, cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "invsync bench:", err)
		return 1
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
	rep, err := bench.Run(ctx, cfg, stderr)
	finishMirror(&rep, stdout)
	if err == nil && *direct {
		fmt.Fprintf(stderr, "[direct] invsync's processors, the load produced straight into %stransactions\n", *prefix)
		dres, derr := bench.RunPeer(ctx, bench.PeerConfig{Brokers: cfg.Brokers, Partitions: *partitions, Records: *records,
			BatchSize: *batch, Rates: cfg.Rates, HeadlineRate: *latencyRate, StepDuration: *step, Seed: *seed,
			Direct: &bench.DirectTarget{TransactionsTopic: *prefix + "transactions", EventsTopic: *prefix + "inventory-events"}}, stderr)
		rep.Direct = bench.SummaryOf(dres, derr)
		if derr != nil {
			err = fmt.Errorf("the direct run: %w", derr)
		}
	}
	if err == nil && *peer != "" {
		fmt.Fprintf(stderr, "[peer] running %s on %s with the same load\n", *peer, strings.Join(cfg.Brokers, ","))
		pres, perr := bench.RunPeer(ctx, bench.PeerConfig{Brokers: cfg.Brokers, Partitions: *partitions, Records: *records,
			BatchSize: *batch, Rates: cfg.Rates, HeadlineRate: *latencyRate, StepDuration: *step, Seed: *seed}, stderr)
		rep.Peer = bench.SummaryOf(pres, perr)
		if perr != nil {
			err = fmt.Errorf("the %s peer's run: %w", *peer, perr)
		}
	}
	rep.WriteTable(stdout)
	if *asJSON {
		rep.WriteJSON(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "invsync bench:", err)
		return 1
	}
	return 0
}

// selfRSS reads this process's resident set size from /proc.
func selfRSS() int64 {
	f, err := os.Open(filepath.Join("/proc", "self", "status"))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// randomToken is a fresh 64-character admin credential.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// flagSet reports whether the command line set flag name.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// deleteBenchTopics deletes the topics under prefix and the consumer group
// an in-process run used on an external broker. Best effort: a failure is
// printed, since the measurements stand without it.
func deleteBenchTopics(brokers []string, prefix, group string, stderr io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		fmt.Fprintln(stderr, "invsync bench: deleting the run's topics:", err)
		return
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topics, err := adm.ListTopics(ctx)
	if err == nil {
		var mine []string
		for _, t := range topics.Names() {
			if strings.HasPrefix(t, prefix) {
				mine = append(mine, t)
			}
		}
		var resps kadm.DeleteTopicResponses
		if resps, err = adm.DeleteTopics(ctx, mine...); err == nil {
			err = resps.Error()
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "invsync bench: deleting the run's topics (%s*): %v\n", prefix, err)
	}
	if gr, err := adm.DeleteGroups(ctx, group); err == nil && gr.Error() != nil {
		fmt.Fprintf(stderr, "invsync bench: deleting consumer group %s: %v\n", group, gr.Error())
	}
}
