package mirror

import (
	"errors"
	"log/slog"
	"net"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/internal/cliflag"
)

// Flags are the flags of `invsync mirror`, each with its environment
// variable (the flag wins) and default; the command adds the Kafka
// security flags.
var Flags = []cliflag.Spec{
	{Name: "brokers", Env: "INVSYNC_BROKERS", Default: "", Help: "comma-separated Kafka seed brokers; empty reads from the embedded broker of an `invsync serve` at --embedded-kafka-addr"},
	{Name: "embedded-kafka-addr", Env: "INVSYNC_EMBEDDED_KAFKA_ADDR", Default: "127.0.0.1:9092", Help: "where `invsync serve`'s embedded broker listens (used when --brokers is empty)"},
	{Name: "data-dir", Env: "INVSYNC_DATA_DIR", Default: "./data", Help: "directory of the default SQLite database"},
	{Name: "sql-url", Env: "INVSYNC_SQL_URL", Default: "", Help: "database: sqlite://<path> or postgres://user@host:port/db?sslmode=...; empty means sqlite://<data-dir>/mirror.db"},
	{Name: "url", Env: "INVSYNC_URL", Default: "", Help: "base URL of the invsync API to report positions to (POST /v1/reconciliation/reports); empty reports nothing"},
	{Name: "token", Env: "INVSYNC_TOKEN", Default: "", Help: "bearer token (role cloud) for the reports; prefer the environment variable"},
	{Name: "report-interval", Env: "INVSYNC_REPORT_INTERVAL", Default: "15m", Help: "how often positions are reported once caught up (at least 1s)"},
	{Name: "topic-prefix", Env: "INVSYNC_TOPIC_PREFIX", Default: "invsync.", Help: "prefix of the topics read"},
	{Name: "schema-registry-url", Env: "INVSYNC_SCHEMA_REGISTRY_URL", Default: "", Help: "Confluent-compatible schema registry the producers use; empty means invsync's local schema ids"},
	{Name: "workers", Env: "INVSYNC_MIRROR_WORKERS", Default: "0", Help: "goroutines applying partitions in parallel; 0 means 1 on SQLite, 4 on PostgreSQL"},
	{Name: "metrics-addr", Env: "INVSYNC_MIRROR_METRICS_ADDR", Default: "", Help: "host:port to serve Prometheus metrics on (/metrics); empty serves none"},
	{Name: "log-level", Env: "INVSYNC_LOG_LEVEL", Default: "info", Help: "debug, info, warn or error"},
	{Name: "log-format", Env: "INVSYNC_LOG_FORMAT", Default: "text", Help: "text or json"},
}

// Command is `invsync mirror` configured from its flags.
type Command struct {
	Config Config
	Serve  ServeOptions
	// LogLevel and LogFormat are the logger's, which the caller makes.
	LogLevel, LogFormat string
}

// ConfigureCommand converts the Flags bound in v (and parsed) and
// validates them, reporting every problem at once, each its own error in
// the joined error returned. kafkaOpts converts the Kafka security flags,
// recording their problems in v.
func ConfigureCommand(v *cliflag.Values, kafkaOpts func() []kgo.Opt) (Command, error) {
	get := v.Get
	c := Command{Serve: ServeOptions{RegistryURL: get("schema-registry-url"), MetricsAddr: get("metrics-addr")},
		LogLevel: get("log-level"), LogFormat: get("log-format")}
	c.Config = Config{TopicPrefix: get("topic-prefix"), SQLURL: get("sql-url"), DataDir: get("data-dir"),
		URL: strings.TrimRight(get("url"), "/"), Token: get("token"), Brokers: v.List("brokers")}
	if len(c.Config.Brokers) == 0 {
		c.Config.Brokers = []string{get("embedded-kafka-addr")}
	}
	v.Duration("report-interval", "a duration such as 15m", &c.Config.ReportInterval)
	if v.Int("workers", "a number from 0 to 64", &c.Config.Workers); c.Config.Workers < 0 {
		v.Bad("workers", "%q is not a number from 0 to 64", get("workers"))
	}
	if _, _, err := net.SplitHostPort(c.Serve.MetricsAddr); c.Serve.MetricsAddr != "" && err != nil {
		v.Bad("metrics-addr", "%q is not host:port", c.Serve.MetricsAddr)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		v.Bad("log-level", "%q is not debug, info, warn or error", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		v.Bad("log-format", "%q is not text or json", c.LogFormat)
	}
	c.Config.KafkaOpts = kafkaOpts()
	if err := c.Config.Validate(); err != nil {
		for _, line := range strings.Split(strings.TrimPrefix(err.Error(), ErrInvalidConfig.Error()+": "), "\n") {
			v.Add(errors.New(line))
		}
	}
	if err := v.Err(); err != nil {
		return Command{}, err
	}
	return c, nil
}
