package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/invsync/invsync/mirror"
	"github.com/invsync/invsync/schemas"
	"github.com/invsync/invsync/server"
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
	cfg         mirror.Config
	registryURL string
	metricsAddr string
	logLevel    slog.Level
	logFormat   string
}

// runMirror runs `invsync mirror`: flags and environment, then
// mirror.New(cfg).Run(ctx) until SIGINT or SIGTERM. Exit codes: 0 stopped
// by a signal, 1 failed, 2 bad usage.
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

	opts := &slog.HandlerOptions{Level: cmd.logLevel}
	var log *slog.Logger
	if cmd.logFormat == "json" {
		log = slog.New(slog.NewJSONHandler(stderr, opts))
	} else {
		log = slog.New(slog.NewTextHandler(stderr, opts))
	}
	cmd.cfg.Logger = log

	if cmd.registryURL != "" {
		cmd.cfg.Codec, err = schemas.New(ctx, schemas.Config{TopicPrefix: cmd.cfg.TopicPrefix, RegistryURL: cmd.registryURL})
		if err != nil {
			log.Error("invsync mirror could not load the schemas", "err", err)
			return 1
		}
	}
	if cmd.metricsAddr != "" {
		meter, shutdown, err := serveMirrorMetrics(cmd.metricsAddr, log)
		if err != nil {
			log.Error("invsync mirror could not serve metrics", "err", err)
			return 1
		}
		defer shutdown()
		cmd.cfg.Meter = meter.Meter("invsync/mirror")
	}

	m, err := mirror.New(cmd.cfg)
	if err != nil {
		log.Error("invsync mirror could not start", "err", err)
		return 1
	}
	log.Info("invsync mirror starting", "brokers", strings.Join(cmd.cfg.Brokers, ","), "topic_prefix", cmd.cfg.TopicPrefix,
		"reporting_to", cmd.cfg.URL)
	runErr := m.Run(ctx)
	if err := m.Close(); err != nil {
		log.Warn("invsync mirror: closing", "err", err)
	}
	if runErr != nil {
		log.Error("invsync mirror stopped with an error", "err", runErr)
		return 1
	}
	return 0
}

// parseMirror parses args (after "mirror") with environment fallbacks and
// validates the result, reporting every problem at once.
func parseMirror(args []string, getenv func(string) string, usageOut io.Writer) (mirrorCommand, error) {
	fs := flag.NewFlagSet("mirror", flag.ContinueOnError)
	fs.SetOutput(usageOut)
	vals := map[string]*string{}
	for _, f := range mirrorFlags {
		v := f.def
		if e := getenv(f.env); e != "" {
			v = e
		}
		vals[f.name] = &v
		fs.StringVar(vals[f.name], f.name, v, f.help)
	}
	fs.Usage = func() { mirrorUsage(fs.Output()) }
	// A bare --kafka-tls means true.
	for i, a := range args {
		if a == "--kafka-tls" || a == "-kafka-tls" {
			args = append(append(append([]string(nil), args[:i]...), "--kafka-tls=true"), args[i+1:]...)
			break
		}
	}
	if err := fs.Parse(args); err != nil {
		return mirrorCommand{}, err
	}
	if fs.NArg() > 0 {
		return mirrorCommand{}, fmt.Errorf("unexpected argument %q (flags take the form --name=value)", fs.Arg(0))
	}
	v := func(name string) string { return strings.TrimSpace(*vals[name]) }
	var errs []string
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("--%s: %s", name, fmt.Sprintf(format, args...)))
	}

	c := mirrorCommand{registryURL: v("schema-registry-url"), metricsAddr: v("metrics-addr"), logFormat: v("log-format")}
	c.cfg = mirror.Config{TopicPrefix: v("topic-prefix"), SQLURL: v("sql-url"), DataDir: v("data-dir"),
		URL: strings.TrimRight(v("url"), "/"), Token: v("token")}
	for _, b := range strings.Split(v("brokers"), ",") {
		if b = strings.TrimSpace(b); b != "" {
			c.cfg.Brokers = append(c.cfg.Brokers, b)
		}
	}
	if len(c.cfg.Brokers) == 0 {
		c.cfg.Brokers = []string{v("embedded-kafka-addr")}
	}
	var err error
	if c.cfg.ReportInterval, err = time.ParseDuration(v("report-interval")); err != nil {
		bad("report-interval", "%q is not a duration such as 15m", v("report-interval"))
	}
	if c.cfg.Workers, err = strconv.Atoi(v("workers")); err != nil || c.cfg.Workers < 0 {
		bad("workers", "%q is not a number from 0 to 64", v("workers"))
	}
	if c.metricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.metricsAddr); err != nil {
			bad("metrics-addr", "%q is not host:port", c.metricsAddr)
		}
	}
	if err := c.logLevel.UnmarshalText([]byte(v("log-level"))); err != nil {
		bad("log-level", "%q is not debug, info, warn or error", v("log-level"))
	}
	if c.logFormat != "text" && c.logFormat != "json" {
		bad("log-format", "%q is not text or json", c.logFormat)
	}
	kafkaOpts, kafkaErrs := server.KafkaSecurityOpts(v("kafka-tls"), v("kafka-tls-ca"), v("kafka-sasl-mechanism"), v("kafka-sasl-user"), getenv("INVSYNC_KAFKA_SASL_PASSWORD"))
	errs = append(errs, kafkaErrs...)
	c.cfg.KafkaOpts = kafkaOpts
	if err := c.cfg.Validate(); err != nil {
		errs = append(errs, strings.Split(strings.TrimPrefix(err.Error(), mirror.ErrInvalidConfig.Error()+": "), "\n")...)
	}
	if len(errs) > 0 {
		return mirrorCommand{}, fmt.Errorf("invalid configuration (see invsync mirror --help):\n  %s", strings.Join(errs, "\n  "))
	}
	return c, nil
}

// serveMirrorMetrics serves the mirror's metrics for Prometheus on addr.
func serveMirrorMetrics(addr string, log *slog.Logger) (*sdkmetric.MeterProvider, func(), error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, nil, fmt.Errorf("creating the metrics exporter: %w", err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listening on --metrics-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Warn("invsync mirror: metrics server stopped", "err", err)
		}
	}()
	return provider, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = provider.Shutdown(ctx)
	}, nil
}

func mirrorUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: invsync mirror [flags]

Keeps an SQL copy (SQLite by default, or PostgreSQL) of every position,
allocation and discrepancy, exactly once: it reads the inventory-events,
allocation-decisions and (when it exists) discrepancies topics with
read_committed, without a consumer group, and commits each batch of rows
together with the Kafka offsets it reflects. With --url and --token it
reports its positions for reconciliation once caught up and every
--report-interval. Tables and example queries: go doc ./mirror.

Flags (each can also be set by the environment variable shown):
`)
	for _, f := range mirrorFlags {
		def := f.def
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  --%s  (%s, default %s)\n      %s\n", f.name, f.env, def, f.help)
	}
}
