package mirror

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/invsync/invsync/schemas"
)

// Defaults of Config; each applies where the field is left zero.
const (
	DefaultTopicPrefix      = schemas.DefaultTopicPrefix
	DefaultDataDir          = "./data"
	DefaultReportInterval   = 15 * time.Minute
	DefaultBatchRecords     = 5000
	DefaultProgressInterval = 5 * time.Second
	DefaultRefreshInterval  = 10 * time.Second
	DefaultMaxBackoff       = 30 * time.Second
	// DefaultPostgresWorkers is the default number of apply goroutines on
	// PostgreSQL; SQLite, which has one writer at a time, defaults to 1.
	DefaultPostgresWorkers = 4
)

// Config configures a Mirror. The zero value of every field but Brokers
// means its default.
type Config struct {
	// Brokers are the Kafka seed brokers (host:port). Required.
	Brokers []string
	// KafkaOpts are appended to the Kafka clients' options: TLS
	// (kgo.DialTLSConfig), SASL (kgo.SASL), hooks, timeouts.
	KafkaOpts []kgo.Opt
	// TopicPrefix is the prefix of the topics read (default "invsync.").
	TopicPrefix string
	// Codec decodes the Avro values. Default: schemas.New with the local
	// schema ids (what invsync serve uses without a schema registry); give
	// one built with the registry's URL when the producers use a registry.
	Codec *schemas.Set
	// DiscrepancyDecoder decodes the values of <prefix>discrepancies
	// (default: the Avro Discrepancy records invsync publishes).
	DiscrepancyDecoder DiscrepancyDecoder

	// SQLURL is the database: sqlite://<path> (default
	// sqlite://<DataDir>/mirror.db) or postgres://... (see openDatabase).
	SQLURL string
	// DataDir holds the default SQLite database (default "./data").
	DataDir string
	// Workers is the number of goroutines applying partitions in
	// parallel, each with its own share of the partitions and its own SQL
	// transactions (default 1 on SQLite, DefaultPostgresWorkers on
	// PostgreSQL).
	Workers int
	// BatchRecords bounds the records applied in one SQL transaction
	// (default 5000); one fetch of one partition is never split.
	BatchRecords int

	// URL is the base URL of the invsync API that reports are posted to,
	// and Token the bearer token (role cloud). Without both, nothing is
	// reported.
	URL   string
	Token string
	// ReportInterval is how often the positions are reported once the
	// mirror has caught up (default 15m; at least 1s).
	ReportInterval time.Duration
	// HTTPClient posts the reports (default: a client with a 60 s timeout).
	HTTPClient *http.Client

	// ProgressInterval is how often a progress line is logged while
	// catching up (default 5s).
	ProgressInterval time.Duration
	// RefreshInterval is how often topics and partitions are looked up
	// again, to start on a topic or partition created later (default 10s).
	RefreshInterval time.Duration
	// MaxBackoff bounds the wait between attempts when the database or
	// Kafka fails (default 30s; the first wait is 250 ms, doubling).
	MaxBackoff time.Duration

	// Logger receives the log lines (default: discarded).
	Logger *slog.Logger
	// Meter records the metrics (default: none).
	Meter metric.Meter
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// withDefaults returns c with every zero field set to its default (Codec
// excepted: building it can fail, so New does that).
func (c Config) withDefaults() Config {
	c.TopicPrefix = cmp.Or(c.TopicPrefix, DefaultTopicPrefix)
	c.DataDir = cmp.Or(c.DataDir, DefaultDataDir)
	c.SQLURL = cmp.Or(c.SQLURL, "sqlite://"+filepath.Join(c.DataDir, "mirror.db"))
	if c.Workers == 0 {
		c.Workers = 1
		if isPostgresURL(c.SQLURL) {
			c.Workers = DefaultPostgresWorkers
		}
	}
	c.BatchRecords = cmp.Or(c.BatchRecords, DefaultBatchRecords)
	c.ReportInterval = cmp.Or(c.ReportInterval, DefaultReportInterval)
	c.ProgressInterval = cmp.Or(c.ProgressInterval, DefaultProgressInterval)
	c.RefreshInterval = cmp.Or(c.RefreshInterval, DefaultRefreshInterval)
	c.MaxBackoff = cmp.Or(c.MaxBackoff, DefaultMaxBackoff)
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Meter == nil {
		c.Meter = noop.NewMeterProvider().Meter("invsync/mirror")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports every problem of c at once (after defaults), joined in
// one error; nil means New will accept it.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if len(c.Brokers) == 0 {
		bad("Brokers: no Kafka seed brokers")
	}
	for _, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			bad("Brokers: %q is not host:port", b)
		}
	}
	if strings.ContainsFunc(c.TopicPrefix, func(r rune) bool {
		return !(r == '.' || r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) {
		bad("TopicPrefix: %q may only contain letters, digits, '.', '_' and '-'", c.TopicPrefix)
	}
	switch {
	case strings.HasPrefix(c.SQLURL, "sqlite://"):
		if strings.TrimPrefix(c.SQLURL, "sqlite://") == "" || strings.HasPrefix(c.SQLURL, "sqlite://?") {
			bad("SQLURL: %q has no file path after sqlite://", c.SQLURL)
		}
	case isPostgresURL(c.SQLURL):
		if _, err := url.Parse(c.SQLURL); err != nil {
			bad("SQLURL: %s is not a postgres://user@host:port/database URL", redactURL(c.SQLURL))
		}
	default:
		bad("SQLURL: %q must start with sqlite:// or postgres://", redactURL(c.SQLURL))
	}
	if c.Workers < 1 || c.Workers > 64 {
		bad("Workers: %d is not from 1 to 64", c.Workers)
	}
	if c.BatchRecords < 1 {
		bad("BatchRecords: %d is not positive", c.BatchRecords)
	}
	switch {
	case c.URL == "" && c.Token != "":
		bad("URL: a Token is set but no URL to report to")
	case c.URL != "" && c.Token == "":
		bad("Token: a URL is set but no token to report with (role cloud)")
	case c.URL != "":
		if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("URL: %q is not an http:// or https:// base URL", c.URL)
		}
	}
	if c.ReportInterval < time.Second {
		bad("ReportInterval: %v is shorter than 1s", c.ReportInterval)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ProgressInterval", c.ProgressInterval}, {"RefreshInterval", c.RefreshInterval}, {"MaxBackoff", c.MaxBackoff}} {
		if d.v < 0 {
			bad("%s: %v is negative", d.name, d.v)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
}

func isPostgresURL(u string) bool {
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}
