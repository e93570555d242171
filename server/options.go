package server

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/ingest"
	"github.com/invsync/invsync/pipeline"
)

// Options is everything a Server can be told. The zero value of a field is
// not its default: start from DefaultOptions and change what differs.
// Validate names each problem by the `invsync serve` flag that sets the
// option, as that is how operators set them.
type Options struct {
	// DataDir holds the Pebble state (state/), the instance id, the
	// generated admin token and, with the embedded broker, its log
	// (kafka/). Default "./data".
	DataDir string
	// HTTPAddr is the host:port of the HTTP API; port 0 picks a free one
	// (see Server.Addr). Default "127.0.0.1:8080".
	HTTPAddr string
	// AdvertiseURL is the base URL other instances use to reach this one
	// (forwarded reads). Default "" (http://<the listening address>).
	AdvertiseURL string
	// Brokers are the Kafka seed brokers. Default nil: start the embedded
	// broker.
	Brokers []string
	// EmbeddedKafkaAddr is where the embedded broker listens; port 0 picks
	// a free one (see Server.BrokerAddrs). Default "127.0.0.1:9092".
	EmbeddedKafkaAddr string
	// EmbeddedNoFsync skips the embedded broker's fsync per produce.
	// Default false.
	EmbeddedNoFsync bool
	// EmbeddedInProcess runs the embedded broker inside this process
	// rather than in a supervised process of its own: a kill -9 can then
	// tear a Kafka transaction (for tests and benchmarks). Default false,
	// which needs this executable to be the invsync command (it runs
	// `<executable> broker --supervised`).
	EmbeddedInProcess bool
	// Catalog is a JSON master data file upserted at start. Default "":
	// seed the built-in demo catalog into an empty catalog topic.
	Catalog string
	// Partitions of the topics the server creates (all instances must
	// agree). Default 12; 1 to 1000.
	Partitions int
	// TopicPrefix prefixes every topic. Default "invsync.".
	TopicPrefix string
	// SchemaRegistryURL is a Confluent-compatible registry to register the
	// Avro schemas in. Default "": serve them from the HTTP API.
	SchemaRegistryURL string
	// Group is the consumer group shared by one deployment's instances.
	// Default "invsync-processors".
	Group string
	// SessionTimeout is how long the group waits for a silent instance.
	// Default 10s.
	SessionTimeout time.Duration
	// ProcessorSessions is how many consumer-group members, each with its
	// own transactional producer, the instance's processors run: each
	// commits its share of the partitions on its own, so one commit in
	// flight does not hold every partition. Keep it the same across
	// restarts. Default 1.
	ProcessorSessions int
	// LedgerWindow is how long per-record deltas are kept to rebase late
	// cycle counts. Default 168h.
	LedgerWindow time.Duration
	// MaxScanAge is the oldest scan accepted, relative to sentAt.
	// Default 720h.
	MaxScanAge time.Duration
	// SnapshotInterval is how often each partition publishes a
	// reconciliation snapshot; at least 1s, or 0 for none. Default 15m.
	SnapshotInterval time.Duration
	// ReconciliationGrace is how long a record may stay behind in the
	// cloud's reports before it is STALE. Default 2m.
	ReconciliationGrace time.Duration
	// LogLevel (debug, info, warn, error) and LogFormat (text, json) are
	// what the command's logger was built with; the server passes them to
	// the supervised broker process. Defaults "info" and "text".
	LogLevel, LogFormat string
	// Logger receives the server's log. Default nil: discard.
	Logger *slog.Logger
	// Now is the domain clock (tests inject one). Default nil: time.Now.
	Now func() time.Time

	// AdminToken, when set, is an admin credential for as long as it is;
	// at least 32 characters. Default "": the first start generates one
	// into <DataDir>/admin-token (see Server.AdminTokenPath).
	AdminToken string
	// RateLimit is requests a second per token; 0 is unlimited.
	// Default 100.
	RateLimit float64
	// MaxInFlight bounds the transactions accepted and not yet applied;
	// at least one full upload. Default 100000.
	MaxInFlight int
	// HeapLimitMiB is the Go heap's soft limit the command sets (0: none;
	// else at least 64). The server itself does not read it. Default 160.
	HeapLimitMiB int
	// TLSCert and TLSKey serve HTTPS; TLSClientCA requires client
	// certificates signed by it. Default "": plain HTTP.
	TLSCert, TLSKey, TLSClientCA string
	// Kafka is the client security (TLS, SASL) of every Kafka client.
	// Default: plaintext, no SASL.
	Kafka KafkaSecurity
}

// KafkaSecurity is the Kafka client security configuration.
type KafkaSecurity struct {
	// Opts are passed to every Kafka client (TLS dialer, SASL).
	Opts []kgo.Opt
	// Mechanism, User and Password are the SASL credentials, also
	// required of clients by the embedded broker. Mechanism "" is none.
	Mechanism string
	User      string
	Password  string
}

// describe names the credentials for error messages (never the password).
func (k KafkaSecurity) describe() string {
	if k.Mechanism == "" {
		return "no SASL"
	}
	return "SASL " + k.Mechanism + " user " + strconv.Quote(k.User)
}

// DefaultOptions returns the defaults of `invsync serve`.
func DefaultOptions() Options {
	return Options{
		DataDir:             "./data",
		HTTPAddr:            "127.0.0.1:8080",
		EmbeddedKafkaAddr:   "127.0.0.1:9092",
		Partitions:          12,
		TopicPrefix:         "invsync.",
		Group:               "invsync-processors",
		SessionTimeout:      10 * time.Second,
		ProcessorSessions:   1,
		LedgerWindow:        168 * time.Hour,
		MaxScanAge:          720 * time.Hour,
		SnapshotInterval:    15 * time.Minute,
		ReconciliationGrace: 2 * time.Minute,
		LogLevel:            "info",
		LogFormat:           "text",
		RateLimit:           100,
		MaxInFlight:         100000,
		HeapLimitMiB:        160,
	}
}

// Validate reports every problem of o at once (errors.Join), each naming
// the serve flag of the option. Files named by the options must exist.
func (o Options) Validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s: %s", name, fmt.Sprintf(format, args...)))
	}
	if o.DataDir == "" {
		bad("data-dir", "must not be empty")
	}
	for _, a := range []struct{ name, v string }{{"http-addr", o.HTTPAddr}, {"embedded-kafka-addr", o.EmbeddedKafkaAddr}} {
		if _, port, err := net.SplitHostPort(a.v); err != nil {
			bad(a.name, "%q is not host:port", a.v)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			bad(a.name, "port %q is not a number from 0 to 65535", port)
		}
	}
	for _, b := range o.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			bad("brokers", "%q is not host:port", b)
		}
	}
	if o.Partitions < 1 || o.Partitions > 1000 {
		bad("partitions", "\"%d\" is not a number from 1 to 1000", o.Partitions)
	}
	if o.TopicPrefix != "" && strings.ContainsFunc(o.TopicPrefix, func(r rune) bool {
		return !(r == '.' || r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) {
		bad("topic-prefix", "%q may only contain letters, digits, '.', '_' and '-' (Kafka topic names)", o.TopicPrefix)
	}
	if o.AdvertiseURL != "" && !strings.HasPrefix(o.AdvertiseURL, "http://") && !strings.HasPrefix(o.AdvertiseURL, "https://") {
		bad("advertise-url", "%q must start with http:// or https://", o.AdvertiseURL)
	}
	if o.Group == "" {
		bad("group", "must not be empty")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ledger-window", o.LedgerWindow}, {"max-scan-age", o.MaxScanAge}, {"session-timeout", o.SessionTimeout},
		{"reconciliation-grace", o.ReconciliationGrace}} {
		if d.v <= 0 {
			bad(d.name, "%q is not a positive duration such as 168h", d.v.String())
		}
	}
	if o.SnapshotInterval < 0 || (o.SnapshotInterval != 0 && o.SnapshotInterval < time.Second) {
		bad("snapshot-interval", "%q is not a duration of at least 1s such as 15m, or 0 to publish no snapshots", o.SnapshotInterval.String())
	}
	switch o.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log-level", "%q is not debug, info, warn or error", o.LogLevel)
	}
	if o.LogFormat != "text" && o.LogFormat != "json" {
		bad("log-format", "%q is not text or json", o.LogFormat)
	}
	if o.AdminToken != "" && (len(o.AdminToken) < 32 || strings.ContainsAny(o.AdminToken, " \t\r\n")) {
		bad("admin-token", "must be at least 32 characters without spaces (e.g. openssl rand -hex 32)")
	}
	if o.RateLimit < 0 || math.IsNaN(o.RateLimit) || math.IsInf(o.RateLimit, 0) {
		bad("rate-limit", "\"%v\" is not a number of requests a second (0 for no limit)", o.RateLimit)
	}
	if o.ProcessorSessions < 1 || o.ProcessorSessions > pipeline.MaxSessions {
		bad("processor-sessions", "\"%d\" is not a whole number from 1 to %d", o.ProcessorSessions, pipeline.MaxSessions)
	}
	if o.HeapLimitMiB < 0 || (o.HeapLimitMiB > 0 && o.HeapLimitMiB < 64) {
		bad("heap-limit", "\"%d\" is not a number of MiB of at least 64 (or 0 for no limit)", o.HeapLimitMiB)
	}
	if o.MaxInFlight < ingest.MaxTransactions {
		bad("max-in-flight", "\"%d\" is not a number of transactions of at least %d (one full upload)", o.MaxInFlight, ingest.MaxTransactions)
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		bad("tls-cert", "--tls-cert and --tls-key are given together")
	}
	if o.TLSClientCA != "" && o.TLSCert == "" {
		bad("tls-client-ca", "requires --tls-cert and --tls-key (client certificates are checked over HTTPS)")
	}
	for _, f := range []struct{ name, path string }{{"catalog", o.Catalog}, {"tls-cert", o.TLSCert}, {"tls-key", o.TLSKey}, {"tls-client-ca", o.TLSClientCA}} {
		if f.path != "" {
			if _, err := os.Stat(f.path); err != nil {
				bad(f.name, "cannot read %s: %v", f.path, err)
			}
		}
	}
	return errors.Join(errs...)
}
