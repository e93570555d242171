package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/invsync/invsync/pipeline"
	"github.com/invsync/invsync/schemas"
)

// runTail prints the records of one invsync topic as JSON, one per line,
// read_committed: the way to watch decoded events with nothing but invsync.
func runTail(args []string, stdout, stderr io.Writer) int {
	cfg, code := parseTail(args, stderr)
	if code >= 0 {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := pipeline.Tail(ctx, cfg, stdout); err != nil && ctx.Err() == nil {
		fmt.Fprintln(stderr, "invsync tail:", err)
		return 1
	}
	return 0
}

// parseTail returns the configuration, or an exit code >= 0 to stop with.
func parseTail(args []string, stderr io.Writer) (pipeline.TailConfig, int) {
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
		fmt.Fprintf(fs.Output(), help("tail"), strings.Join(pipeline.TailTopics(), ", "))
		fs.PrintDefaults()
	}
	// The topic may come before the flags, as in the example.
	var topic string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		topic, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return pipeline.TailConfig{}, 0
		}
		return pipeline.TailConfig{}, 2
	}
	if topic == "" && fs.NArg() > 0 {
		topic = fs.Arg(0)
	}
	var problems []string
	if topic == "" || fs.NArg() > 1 {
		problems = append(problems, "give exactly one TOPIC, e.g. invsync tail inventory-events")
	}
	cfg := pipeline.TailConfig{Topic: topic, Prefix: *prefix, Registry: *registry, Follow: *follow, FromEnd: *fromEnd,
		Warehouse: *warehouse, Item: *item, Limit: *limit}
	for _, b := range strings.Split(*brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			cfg.Brokers = append(cfg.Brokers, b)
		}
	}
	if len(cfg.Brokers) == 0 {
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
		return pipeline.TailConfig{}, 2
	}
	if !strings.HasPrefix(cfg.Topic, cfg.Prefix) {
		cfg.Topic = cfg.Prefix + cfg.Topic
	}
	return cfg, -1
}
