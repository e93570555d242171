package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/invsync/invsync/mirror"
)

// mirrorFlags are the flags of `invsync mirror`, each with its environment
// variable (the flag wins) and default.
var mirrorFlags = append([]flagSpec{
	{"brokers", "INVSYNC_BROKERS", "", "comma-separated Kafka seed brokers; empty reads from the embedded broker of an `invsync serve` at --embedded-kafka-addr"},
	{"embedded-kafka-addr", "INVSYNC_EMBEDDED_KAFKA_ADDR", "127.0.0.1:9092", "where `invsync serve`'s embedded broker listens (used when --brokers is empty)"},
	{"data-dir", "INVSYNC_DATA_DIR", "./data", "directory of the default SQLite database"},
	{"sql-url", "INVSYNC_SQL_URL", "", "database: sqlite://<path> or postgres://user@host:port/db?sslmode=...; empty means sqlite://<data-dir>/mirror.db"},
	{"url", "INVSYNC_URL", "", "base URL of the invsync API to report positions to (POST /v1/reconciliation/reports); empty reports nothing"},
	{"token", "INVSYNC_TOKEN", "", "bearer token (role cloud) for the reports; prefer the environment variable"},
	{"report-interval", "INVSYNC_REPORT_INTERVAL", "15m", "how often positions are reported once caught up (at least 1s)"},
	{"topic-prefix", "INVSYNC_TOPIC_PREFIX", "invsync.", "prefix of the topics read"},
	{"schema-registry-url", "INVSYNC_SCHEMA_REGISTRY_URL", "", "Confluent-compatible schema registry the producers use; empty means invsync's local schema ids"},
	{"workers", "INVSYNC_MIRROR_WORKERS", "0", "goroutines applying partitions in parallel; 0 means 1 on SQLite, 4 on PostgreSQL"},
	{"metrics-addr", "INVSYNC_MIRROR_METRICS_ADDR", "", "host:port to serve Prometheus metrics on (/metrics); empty serves none"},
	{"log-level", "INVSYNC_LOG_LEVEL", "info", "debug, info, warn or error"},
	{"log-format", "INVSYNC_LOG_FORMAT", "text", "text or json"},
}, kafkaSecurityFlags...)

// mirrorCommand is `invsync mirror` parsed.
type mirrorCommand struct {
	cfg       mirror.Config
	serve     mirror.ServeOptions
	logLevel  string
	logFormat string
}

// runMirror runs `invsync mirror`: flags and environment, then the mirror
// until SIGINT or SIGTERM. Exit codes: 0 stopped by a signal, 1 failed, 2
// bad usage.
func runMirror(args []string, stdout, stderr io.Writer) int {
	cmd, err := parseMirror(args, os.Getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "invsync mirror:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd.cfg.Logger = newLogger(stderr, cmd.logLevel, cmd.logFormat)
	if err := mirror.Serve(ctx, cmd.cfg, cmd.serve); err != nil {
		cmd.cfg.Logger.Error("invsync mirror stopped with an error", "err", err)
		return 1
	}
	return 0
}

// parseMirror parses args (after "mirror") with environment fallbacks and
// validates the result, reporting every problem at once.
func parseMirror(args []string, getenv func(string) string, usageOut io.Writer) (mirrorCommand, error) {
	_, get, err := parseSpecs("mirror", mirrorFlags, args, getenv, usageOut, mirrorUsage)
	if err != nil {
		return mirrorCommand{}, err
	}
	v := &values{get: get}
	c := mirrorCommand{serve: mirror.ServeOptions{RegistryURL: get("schema-registry-url"), MetricsAddr: get("metrics-addr")},
		logLevel: get("log-level"), logFormat: get("log-format")}
	c.cfg = mirror.Config{TopicPrefix: get("topic-prefix"), SQLURL: get("sql-url"), DataDir: get("data-dir"),
		URL: strings.TrimRight(get("url"), "/"), Token: get("token"), Brokers: v.list("brokers")}
	if len(c.cfg.Brokers) == 0 {
		c.cfg.Brokers = []string{get("embedded-kafka-addr")}
	}
	v.duration("report-interval", "a duration such as 15m", &c.cfg.ReportInterval)
	if v.int("workers", "a number from 0 to 64", &c.cfg.Workers); c.cfg.Workers < 0 {
		v.bad("workers", "%q is not a number from 0 to 64", get("workers"))
	}
	if _, _, err := net.SplitHostPort(c.serve.MetricsAddr); c.serve.MetricsAddr != "" && err != nil {
		v.bad("metrics-addr", "%q is not host:port", c.serve.MetricsAddr)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		v.bad("log-level", "%q is not debug, info, warn or error", c.logLevel)
	}
	if c.logFormat != "text" && c.logFormat != "json" {
		v.bad("log-format", "%q is not text or json", c.logFormat)
	}
	c.cfg.KafkaOpts = v.kafka(getenv).Opts
	if err := c.cfg.Validate(); err != nil {
		for _, line := range strings.Split(strings.TrimPrefix(err.Error(), mirror.ErrInvalidConfig.Error()+": "), "\n") {
			v.errs = append(v.errs, errors.New(line))
		}
	}
	if len(v.errs) > 0 {
		return mirrorCommand{}, invalid("mirror", v.errs)
	}
	return c, nil
}

func mirrorUsage(w io.Writer) {
	fmt.Fprint(w, help("mirror"))
	printSpecs(w, mirrorFlags)
}
