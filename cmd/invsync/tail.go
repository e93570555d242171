package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/schemas"
)

// tailConfig is what `invsync tail` was told.
type tailConfig struct {
	topic, prefix, registry string
	brokers                 []string
	follow                  bool
	fromEnd                 bool
	warehouse, item         string
	limit                   int
}

// runTail prints the records of one invsync topic as JSON, one per line,
// read_committed: the way to watch decoded events with nothing but invsync.
func runTail(args []string, stdout, stderr io.Writer) int {
	cfg, code := parseTail(args, stderr)
	if code >= 0 {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := tail(ctx, cfg, stdout); err != nil && ctx.Err() == nil {
		fmt.Fprintln(stderr, "invsync tail:", err)
		return 1
	}
	return 0
}

// parseTail returns the configuration, or an exit code >= 0 to stop with.
func parseTail(args []string, stderr io.Writer) (tailConfig, int) {
	fs := flag.NewFlagSet("tail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	brokers := fs.String("brokers", envOr("INVSYNC_BROKERS", "127.0.0.1:9092"), "Kafka seed brokers (default: the embedded broker of a local invsync serve) (INVSYNC_BROKERS)")
	prefix := fs.String("topic-prefix", envOr("INVSYNC_TOPIC_PREFIX", schemas.DefaultTopicPrefix), "prefix of invsync's topics (INVSYNC_TOPIC_PREFIX)")
	registry := fs.String("schema-registry-url", envOr("INVSYNC_SCHEMA_REGISTRY_URL", ""), "the registry invsync registered its schemas in, if any (INVSYNC_SCHEMA_REGISTRY_URL)")
	follow := fs.Bool("follow", false, "keep printing new records as they are committed (stop with Ctrl-C)")
	fromEnd := fs.Bool("from-end", false, "start at the end of the topic rather than its beginning (with --follow: only new records)")
	warehouse := fs.String("warehouse", "", "only records whose warehouseId is this")
	item := fs.String("item", "", "only records whose itemId is this")
	limit := fs.Int("limit", 0, "stop after printing this many records (0: no limit)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: invsync tail [flags] TOPIC

Prints the records of an invsync topic as JSON, one object per line
({"partition", "offset", "key", "timestamp", "value"}), decoding the Avro
values, with isolation level read_committed: what a consumer of the topic
sees. TOPIC is the name without the prefix (%s) or the full
name. Without --follow it stops at the end of the topic as it was when it
started.

Example: invsync tail inventory-events --warehouse WH-001 --item ITEM-12345

Flags:
`, strings.Join(tailTopics(), ", "))
		fs.PrintDefaults()
	}
	// The topic may come before the flags, as in the example.
	var topic string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		topic, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return tailConfig{}, 0
		}
		return tailConfig{}, 2
	}
	if topic == "" && fs.NArg() > 0 {
		topic = fs.Arg(0)
	}
	var problems []string
	if topic == "" || fs.NArg() > 1 {
		problems = append(problems, "give exactly one TOPIC, e.g. invsync tail inventory-events")
	}
	cfg := tailConfig{topic: topic, prefix: *prefix, registry: *registry, follow: *follow, fromEnd: *fromEnd,
		warehouse: *warehouse, item: *item, limit: *limit}
	for _, b := range strings.Split(*brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			cfg.brokers = append(cfg.brokers, b)
		}
	}
	if len(cfg.brokers) == 0 {
		problems = append(problems, "--brokers is empty")
	}
	if *limit < 0 {
		problems = append(problems, "--limit must not be negative")
	}
	if *fromEnd && !*follow {
		problems = append(problems, "--from-end without --follow would print nothing; add --follow")
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, "invsync tail:", p)
		}
		return tailConfig{}, 2
	}
	if !strings.HasPrefix(cfg.topic, cfg.prefix) {
		cfg.topic = cfg.prefix + cfg.topic
	}
	return cfg, -1
}

// tailTopics are the short names of the topics tail can read: every topic
// of the table (a value that is not Avro is printed as text, with the
// decoding error).
func tailTopics() []string {
	var names []string
	for _, spec := range schemas.TopicTable() {
		names = append(names, spec.Suffix)
	}
	return names
}

// tailRecord is one printed line.
type tailRecord struct {
	Partition int32          `json:"partition"`
	Offset    int64          `json:"offset"`
	Key       string         `json:"key"`
	Timestamp time.Time      `json:"timestamp"`
	Headers   map[string]any `json:"headers,omitempty"`
	Value     any            `json:"value"`
	Error     string         `json:"error,omitempty"`
}

func tail(ctx context.Context, cfg tailConfig, stdout io.Writer) error {
	codec, err := schemas.New(ctx, schemas.Config{TopicPrefix: cfg.prefix, RegistryURL: cfg.registry})
	if err != nil {
		return err
	}
	start := kgo.NewOffset().AtStart()
	if cfg.fromEnd {
		start = kgo.NewOffset().AtEnd()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.brokers...), kgo.ConsumeTopics(cfg.topic), kgo.ConsumeResetOffset(start),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return err
	}
	defer cl.Close()
	var ends map[int32]int64
	if !cfg.follow {
		if ends, err = committedEnds(ctx, cl, cfg.topic); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(stdout)
	printed, seen := 0, false
	for !caughtUp(ends, cfg.follow) {
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if !cfg.follow {
			// A partition whose log ends in a commit marker or an aborted
			// transaction never shows a record at its end offset: once
			// records flow, a second without any means the rest is
			// markers. The first fetch gets longer (metadata, offsets).
			idle := time.Second
			if !seen {
				idle = 15 * time.Second
			}
			pollCtx, cancel = context.WithTimeout(ctx, idle)
		}
		fetches := cl.PollFetches(pollCtx)
		idle := errors.Is(pollCtx.Err(), context.DeadlineExceeded)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if idle {
			return nil
		}
		if err := fetches.Err0(); err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("reading %s: %w", cfg.topic, err)
		}
		var out []tailRecord
		fetches.EachRecord(func(r *kgo.Record) {
			seen = true
			if ends != nil && r.Offset >= ends[r.Partition] {
				return
			}
			if tr, ok := tailLine(codec, r, cfg); ok {
				out = append(out, tr)
			}
		})
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if ends != nil && len(p.Records) > 0 && p.Records[len(p.Records)-1].Offset+1 >= ends[p.Partition] {
				delete(ends, p.Partition)
			}
		})
		for _, tr := range out {
			if err := enc.Encode(tr); err != nil {
				return err
			}
			if printed++; cfg.limit > 0 && printed >= cfg.limit {
				return nil
			}
		}
	}
	return nil
}

func caughtUp(ends map[int32]int64, follow bool) bool { return !follow && len(ends) == 0 }

// committedEnds returns, per partition with records, the offset a
// read_committed consumer reads up to now.
func committedEnds(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, error) {
	adm := kadm.NewClient(cl)
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("listing the end of %s: %w", topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("listing the start of %s: %w", topic, err)
	}
	if len(ends[topic]) == 0 || errors.Is(ends.Error(), kerr.UnknownTopicOrPartition) {
		return nil, fmt.Errorf("topic %s does not exist (see invsync tail --help for the names)", topic)
	}
	if err := ends.Error(); err != nil {
		return nil, fmt.Errorf("listing the end of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if s, ok := starts.Lookup(topic, o.Partition); ok && o.Offset > s.Offset {
			out[o.Partition] = o.Offset
		}
	})
	return out, nil
}

// tailLine decodes r and applies the filters.
func tailLine(codec *schemas.Set, r *kgo.Record, cfg tailConfig) (tailRecord, bool) {
	tr := tailRecord{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Timestamp: r.Timestamp.UTC()}
	for _, h := range r.Headers {
		if tr.Headers == nil {
			tr.Headers = map[string]any{}
		}
		tr.Headers[h.Key] = string(h.Value)
	}
	_, v, err := codec.DecodeAny(r.Value)
	switch {
	case err == nil:
		tr.Value = v
	case len(r.Value) == 0:
		tr.Value = nil
	default:
		tr.Error = err.Error()
		tr.Value = string(r.Value)
	}
	match := func(field, want string) bool {
		if want == "" {
			return true
		}
		if v != nil {
			return v[field] == want
		}
		return strings.HasPrefix(string(r.Key), cfg.warehouse+"/") // undecodable: by stock key
	}
	return tr, match("warehouseId", cfg.warehouse) && match("itemId", cfg.item)
}
