package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/pipeline"
	"github.com/invsync/invsync/server"
)

// Drive is `invsync bench`: it runs the load against cfg.URL, or against a
// server it starts in-process in a temporary data dir (on the embedded
// broker, or on cfg.Brokers) when cfg.URL is empty, then the runs o asks
// for beside it, and writes the report to stdout; progress goes to stderr.
func Drive(ctx context.Context, cfg Config, o DriveOptions, stdout, stderr io.Writer) error {
	prefix := cfg.TopicPrefix
	group := "invsync-bench"
	if o.OwnTopics {
		// The in-process pipeline starts from an empty data dir: on topics
		// an earlier run left on the broker it would first restore their
		// whole changelog, and measure that. Each run gets topics and a
		// group of its own, deleted at the end.
		run := strconv.FormatInt(time.Now().UnixNano(), 36)
		prefix, group = prefix+"bench-"+run+".", group+"-"+run
		cfg.TopicPrefix = prefix
		fmt.Fprintf(stderr, "invsync bench: the run's topics: %s* and group %s, deleted at the end (--topic-prefix to choose)\n", prefix, group)
		defer deleteBenchTopics(cfg.Brokers, prefix, group, stderr)
	}
	if cfg.URL == "" {
		dir, err := os.MkdirTemp("", "invsync-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		sc := server.DefaultOptions()
		sc.DataDir, sc.HTTPAddr, sc.Brokers, sc.EmbeddedKafkaAddr = dir, "127.0.0.1:0", cfg.Brokers, "127.0.0.1:0"
		sc.EmbeddedNoFsync, sc.Partitions, sc.TopicPrefix, sc.Group = o.NoFsync, cfg.Partitions, prefix, group
		if cfg.Settings == nil {
			cfg.Settings = map[string]string{}
		}
		if o.Sessions > 0 {
			sc.ProcessorSessions = o.Sessions
		}
		cfg.Settings["processor sessions"] = strconv.Itoa(sc.ProcessorSessions)
		sc.SessionTimeout, sc.LedgerWindow, sc.MaxScanAge, sc.SnapshotInterval = 10*time.Second, 7*24*time.Hour, 30*24*time.Hour, 0
		// Every upload is authenticated as in production; the load is one
		// token, so no per-token rate limit.
		sc.AdminToken, sc.RateLimit = randomToken(), 0
		sc.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		cfg.Token = sc.AdminToken
		srv, err := server.New(sc)
		if err != nil {
			return fmt.Errorf("starting the pipeline: %w", err)
		}
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		defer func() { _ = srv.Shutdown(context.Background()); <-done }()
		cfg.URL = srv.URL()
		if cfg.Brokers, err = srv.Brokers(ctx); err != nil {
			return fmt.Errorf("starting the pipeline: %w", err)
		}
		cfg.RSS = selfRSS
		if sc.Brokers == nil {
			cfg.BrokerKind = "embedded"
			cfg.Settings["fsync"] = map[bool]string{true: "none", false: "every produce (embedded broker)"}[o.NoFsync]
		} else {
			cfg.BrokerKind = "kafka"
		}
		cfg.Settings["pipeline"] = "in-process (RSS includes the bench and, when embedded, the broker)"
	}
	if cfg.BrokerKind != "embedded" && len(cfg.Brokers) > 0 {
		discloseBrokerTxn(ctx, &cfg, stderr)
	}
	finishMirror, err := startRunMirror(ctx, o.Mirror, cfg, stderr)
	if err != nil {
		return err
	}
	rep, err := Run(ctx, cfg, stderr)
	finishMirror(&rep, stdout)
	if err == nil && o.Direct {
		fmt.Fprintf(stderr, "[direct] invsync's processors, the load produced straight into %stransactions\n", prefix)
		dres, derr := RunPeer(ctx, PeerConfig{Brokers: cfg.Brokers, Partitions: cfg.Partitions, Records: cfg.Records,
			BatchSize: cfg.BatchSize, Rates: cfg.Rates, HeadlineRate: cfg.LatencyRate, StepDuration: cfg.StepDuration, Seed: cfg.Seed,
			Direct: &DirectTarget{TransactionsTopic: prefix + "transactions", EventsTopic: prefix + "inventory-events",
				Preloaded: rep.Preload.Records == cfg.Records}}, stderr)
		rep.Direct = SummaryOf(dres, derr)
		if derr != nil {
			err = fmt.Errorf("the direct run: %w", derr)
		}
	}
	if err == nil && o.Floor {
		fmt.Fprintf(stderr, "[floor] the exactly-once floor: a stateless relay with invsync's transaction cycle, same load\n")
		fres, ferr := RunPeer(ctx, PeerConfig{Brokers: cfg.Brokers, Partitions: cfg.Partitions, Records: cfg.Records,
			BatchSize: cfg.BatchSize, Rates: cfg.Rates, HeadlineRate: cfg.LatencyRate, StepDuration: cfg.StepDuration, Seed: cfg.Seed,
			Floor: true}, stderr)
		rep.Floor = SummaryOf(fres, ferr)
		if ferr != nil {
			err = fmt.Errorf("the floor's run: %w", ferr)
		}
	}
	if err == nil && o.Peer != "" {
		fmt.Fprintf(stderr, "[peer] running %s on %s with the same load\n", o.Peer, strings.Join(cfg.Brokers, ","))
		pres, perr := RunPeer(ctx, PeerConfig{Brokers: cfg.Brokers, Partitions: cfg.Partitions, Records: cfg.Records,
			BatchSize: cfg.BatchSize, Rates: cfg.Rates, HeadlineRate: cfg.LatencyRate, StepDuration: cfg.StepDuration, Seed: cfg.Seed}, stderr)
		rep.Peer = SummaryOf(pres, perr)
		if perr != nil {
			err = fmt.Errorf("the %s peer's run: %w", o.Peer, perr)
		}
	}
	rep.WriteTable(stdout)
	if o.JSON {
		rep.WriteJSON(stdout)
	}
	return err
}

// Validate reports every problem of o with cfg at once, each naming the
// `invsync bench` flag at fault.
func (o DriveOptions) Validate(cfg Config) error {
	var errs []error
	if o.Peer != "" && o.Peer != PeerKStreams {
		errs = append(errs, fmt.Errorf("--peer: %q is not a known peer (kstreams)", o.Peer))
	}
	if o.Peer != "" && len(cfg.Brokers) == 0 {
		errs = append(errs, errors.New("--peer kstreams needs --brokers of an Apache Kafka (bash scripts/kafka.sh up starts one on 127.0.0.1:39092): the peer and invsync are measured on the same broker"))
	}
	if o.Direct && cfg.URL != "" {
		errs = append(errs, errors.New("--direct measures the in-process pipeline; it cannot be used with --url"))
	}
	if o.Sessions != 0 && cfg.URL != "" {
		errs = append(errs, errors.New("--processor-sessions sets the in-process pipeline's; with --url, set it on the running invsync serve"))
	}
	if o.Sessions < 0 || o.Sessions > pipeline.MaxSessions {
		errs = append(errs, fmt.Errorf("--processor-sessions: %d is not a whole number from 1 to %d", o.Sessions, pipeline.MaxSessions))
	}
	if cfg.URL != "" && len(cfg.Brokers) == 0 {
		errs = append(errs, errors.New("--url needs --brokers (the running invsync's Kafka), to read its events"))
	}
	return errors.Join(errs...)
}

// DriveOptions are the runs of `invsync bench` beyond the load.
type DriveOptions struct {
	// NoFsync runs the in-process embedded broker without fsync.
	NoFsync bool
	// Sessions is the in-process pipeline's --processor-sessions (0: the
	// serve default).
	Sessions int
	// Peer, when set (PeerKStreams), also runs that peer on the same
	// broker with the same load; it needs cfg.Brokers.
	Peer string
	// Mirror, when set, mirrors the topics into that database alongside
	// the load and reports its lag (see StartMirror).
	Mirror string
	// Direct also measures the processors alone, the load produced
	// straight into the transactions topic; in-process only.
	Direct bool
	// Floor also measures the exactly-once floor (PeerFloor) on the same
	// broker with the same load.
	Floor bool
	// OwnTopics gives an in-process run on cfg.Brokers topics and a
	// group of its own, deleted at the end.
	OwnTopics bool
	// JSON also prints one JSON object as the last line.
	JSON bool
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

// discloseBrokerTxn adds the brokers' transaction settings to the run's
// disclosed configuration: on Apache Kafka they move the figures (see
// pipeline.TxnRetryBackoffKey). A broker that will not say is noted.
func discloseBrokerTxn(ctx context.Context, cfg *Config, stderr io.Writer) {
	if cfg.Settings == nil {
		cfg.Settings = map[string]string{}
	}
	t, err := pipeline.ReadBrokerTxnTuning(ctx, cfg.Brokers)
	if err != nil {
		cfg.Settings["broker transactions"] = "unknown: " + err.Error()
		return
	}
	cfg.Settings["broker transactions"] = t.Describe()
	for _, a := range t.Advice() {
		fmt.Fprintln(stderr, "invsync bench: the broker's settings slow the runs:", a)
	}
}
