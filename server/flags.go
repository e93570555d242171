package server

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/invsync/invsync/ingest"
	"github.com/invsync/invsync/internal/cliflag"
	"github.com/invsync/invsync/pipeline/embedded"
)

// KafkaSecurityFlags are the flags of every command that talks to Kafka;
// the SASL password comes only from INVSYNC_KAFKA_SASL_PASSWORD.
var KafkaSecurityFlags = []cliflag.Spec{
	{Name: "kafka-tls", Env: "INVSYNC_KAFKA_TLS", Default: "false", Help: "connect to Kafka over TLS"},
	{Name: "kafka-tls-ca", Env: "INVSYNC_KAFKA_TLS_CA", Default: "", Help: "PEM file of the CA that signed the brokers' certificates (default: the system's; implies --kafka-tls)"},
	{Name: "kafka-sasl-mechanism", Env: "INVSYNC_KAFKA_SASL_MECHANISM", Default: "", Help: "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; the password comes from INVSYNC_KAFKA_SASL_PASSWORD only (never a flag). Without --brokers the embedded broker then requires this user"},
	{Name: "kafka-sasl-user", Env: "INVSYNC_KAFKA_SASL_USER", Default: "", Help: "SASL user name"},
}

// KafkaSecurityFromFlags converts the KafkaSecurityFlags bound in v,
// recording their problems in v.
func KafkaSecurityFromFlags(v *cliflag.Values, getenv func(string) string) KafkaSecurity {
	k := KafkaSecurity{Mechanism: strings.ToUpper(v.Get("kafka-sasl-mechanism")), User: v.Get("kafka-sasl-user"),
		Password: getenv("INVSYNC_KAFKA_SASL_PASSWORD")}
	var errs []string
	k.Opts, errs = KafkaSecurityOpts(v.Get("kafka-tls"), v.Get("kafka-tls-ca"), k.Mechanism, k.User, k.Password)
	for _, e := range errs {
		v.Add(errors.New(e))
	}
	return k
}

// Flags are the flags of `invsync serve`, each with its environment
// variable (the flag wins); their defaults are DefaultOptions' (a test
// checks they agree).
var Flags = append([]cliflag.Spec{
	{Name: "data-dir", Env: "INVSYNC_DATA_DIR", Default: "./data", Help: "directory for the Pebble state (state/) and, with the embedded broker, its log (kafka/)"},
	{Name: "http-addr", Env: "INVSYNC_HTTP_ADDR", Default: "127.0.0.1:8080", Help: "host:port of the HTTP API"},
	{Name: "advertise-url", Env: "INVSYNC_ADVERTISE_URL", Default: "", Help: "base URL other instances use to reach this one's HTTP API (forwarded reads); empty means http://<http-addr>"},
	{Name: "brokers", Env: "INVSYNC_BROKERS", Default: "", Help: "comma-separated Kafka seed brokers; empty starts the embedded broker"},
	{Name: "embedded-kafka-addr", Env: "INVSYNC_EMBEDDED_KAFKA_ADDR", Default: "127.0.0.1:9092", Help: "where the embedded broker listens, so kcat and other consumers can read the topics"},
	{Name: "embedded-kafka-no-fsync", Env: "INVSYNC_EMBEDDED_KAFKA_NO_FSYNC", Default: "false", Help: "skip the embedded broker's fsync per produce (faster; an OS crash or power cut may then lose acknowledged writes)"},
	{Name: "embedded-kafka-in-process", Env: "INVSYNC_EMBEDDED_KAFKA_IN_PROCESS", Default: "false", Help: "run the embedded broker inside this process instead of a supervised process of its own (a kill -9 of this process can then tear a Kafka transaction: for tests and benchmarks)"},
	{Name: "catalog", Env: "INVSYNC_CATALOG", Default: "", Help: "JSON master data file upserted at start; empty seeds the built-in demo catalog when the catalog topic is empty"},
	{Name: "partitions", Env: "INVSYNC_PARTITIONS", Default: "12", Help: "partitions of the topics invsync creates (all instances must agree)"},
	{Name: "topic-prefix", Env: "INVSYNC_TOPIC_PREFIX", Default: "invsync.", Help: "prefix of every topic"},
	{Name: "schema-registry-url", Env: "INVSYNC_SCHEMA_REGISTRY_URL", Default: "", Help: "Confluent-compatible schema registry to register the Avro schemas in; empty serves them from the HTTP API"},
	{Name: "group", Env: "INVSYNC_GROUP", Default: "invsync-processors", Help: "Kafka consumer group shared by the instances of one deployment"},
	{Name: "session-timeout", Env: "INVSYNC_SESSION_TIMEOUT", Default: "10s", Help: "how long the consumer group waits for a silent instance (crashed, paused) before moving its partitions to the others"},
	{Name: "ledger-window", Env: "INVSYNC_LEDGER_WINDOW", Default: "168h", Help: "how long per-record deltas are kept to rebase late cycle counts; older counts are flagged, not applied"},
	{Name: "max-scan-age", Env: "INVSYNC_MAX_SCAN_AGE", Default: "720h", Help: "oldest scan timestamp accepted, relative to the upload's sentAt"},
	{Name: "processor-sessions", Env: "INVSYNC_PROCESSOR_SESSIONS", Default: "1", Help: "consumer-group members, each with its own transactional producer, this instance's processors run (1 to 16): each commits its share of the partitions on its own, so while one waits for the broker another applies; keep it the same across restarts (a session that no longer starts leaves its open transaction to the 60 s transaction timeout)"},
	{Name: "snapshot-interval", Env: "INVSYNC_SNAPSHOT_INTERVAL", Default: "15m", Help: "how often each partition publishes a reconciliation snapshot of its stock records to the position-snapshots topic, at wall-clock multiples of the interval; at least 1s, or 0 to publish none"},
	{Name: "reconciliation-grace", Env: "INVSYNC_RECONCILIATION_GRACE", Default: "2m", Help: "how long a record may stay behind in the cloud's reconciliation reports (an event in flight) before it is a STALE discrepancy (an event the cloud lost)"},
	{Name: "log-level", Env: "INVSYNC_LOG_LEVEL", Default: "info", Help: "debug, info, warn or error"},
	{Name: "log-format", Env: "INVSYNC_LOG_FORMAT", Default: "text", Help: "text or json"},
	{Name: "admin-token", Env: "INVSYNC_ADMIN_TOKEN", Default: "", Help: "an admin credential of at least 32 characters, accepted while set (prefer the environment variable: a flag shows in ps); without it, the first start generates one and writes it to <data-dir>/admin-token"},
	{Name: "rate-limit", Env: "INVSYNC_RATE_LIMIT", Default: "100", Help: "requests a second each API token may make (bursts of twice that); beyond it 429 RATE_LIMITED with Retry-After; 0 for no limit"},
	{Name: "heap-limit", Env: "INVSYNC_HEAP_LIMIT", Default: "160", Help: "soft limit of the Go heap in MiB (it includes the 16 MiB cache of hot stock records; Pebble's block cache and memtables, 112 MiB, come on top): the collector works harder near it instead of letting garbage double the heap; 0 for none; GOMEMLIMIT, when set, wins; under the limit garbage may grow to 400 % of the live heap before a collection unless GOGC is set"},
	{Name: "max-in-flight", Env: "INVSYNC_MAX_IN_FLIGHT", Default: "100000", Help: "transactions accepted by this instance and not yet applied; an upload beyond it is refused whole, 503 BACKLOG_FULL with Retry-After, so devices keep their queues while the processors are behind"},
	{Name: "tls-cert", Env: "INVSYNC_TLS_CERT", Default: "", Help: "PEM certificate (chain) to serve HTTPS with; needs --tls-key"},
	{Name: "tls-key", Env: "INVSYNC_TLS_KEY", Default: "", Help: "PEM private key of --tls-cert"},
	{Name: "tls-client-ca", Env: "INVSYNC_TLS_CLIENT_CA", Default: "", Help: "PEM CA bundle: require every HTTPS client (devices, peers) to present a certificate it signed; needs --tls-cert"},
}, KafkaSecurityFlags...)

// ConfigureOptions converts the Flags bound in v (and parsed) into
// Options and validates them, reporting every problem at once, each its
// own error in the joined error returned.
func ConfigureOptions(v *cliflag.Values, getenv func(string) string) (Options, error) {
	// A value that does not parse is reported here and leaves the
	// default in place; Validate then reports what is out of range.
	get := v.Get
	c := DefaultOptions()
	c.DataDir, c.HTTPAddr, c.EmbeddedKafkaAddr = get("data-dir"), get("http-addr"), get("embedded-kafka-addr")
	c.AdvertiseURL, c.Brokers = strings.TrimRight(get("advertise-url"), "/"), v.List("brokers")
	c.Catalog, c.TopicPrefix, c.SchemaRegistryURL = get("catalog"), get("topic-prefix"), get("schema-registry-url")
	c.Group, c.LogLevel, c.LogFormat, c.AdminToken = get("group"), get("log-level"), get("log-format"), get("admin-token")
	c.TLSCert, c.TLSKey, c.TLSClientCA = get("tls-cert"), get("tls-key"), get("tls-client-ca")
	v.Bool("embedded-kafka-no-fsync", &c.EmbeddedNoFsync)
	v.Bool("embedded-kafka-in-process", &c.EmbeddedInProcess)
	v.Int("partitions", "a number from 1 to 1000", &c.Partitions)
	v.Int("heap-limit", "a number of MiB of at least 64 (or 0 for no limit)", &c.HeapLimitMiB)
	v.Int("max-in-flight", fmt.Sprintf("a number of transactions of at least %d (one full upload)", ingest.MaxTransactions), &c.MaxInFlight)
	v.Float("rate-limit", "a number of requests a second (0 for no limit)", &c.RateLimit)
	v.Duration("ledger-window", "a positive duration such as 168h", &c.LedgerWindow)
	v.Duration("max-scan-age", "a positive duration such as 720h", &c.MaxScanAge)
	v.Duration("session-timeout", "a positive duration such as 10s", &c.SessionTimeout)
	v.Int("processor-sessions", "a whole number from 1 to 16", &c.ProcessorSessions)
	v.Duration("reconciliation-grace", "a positive duration such as 2m", &c.ReconciliationGrace)
	v.Duration("snapshot-interval", "a duration of at least 1s such as 15m, or 0 to publish no snapshots", &c.SnapshotInterval)
	c.Kafka = KafkaSecurityFromFlags(v, getenv)
	if err := c.Validate(); err != nil {
		v.Add(err.(interface{ Unwrap() []error }).Unwrap()...)
	}
	if err := v.Err(); err != nil {
		return Options{}, err
	}
	return c, nil
}

// BrokerFlags declares the flags of `invsync broker` on fs, with their
// environment variables; after fs.Parse, the function returned converts
// and validates them. The logger is left to the caller, with the log
// level and format the flags name.
func BrokerFlags(fs *flag.FlagSet, getenv func(string) string) func() (o BrokerOptions, logLevel, logFormat string, err error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	dataDir := fs.String("data-dir", env("INVSYNC_DATA_DIR", "./data"), "directory of the broker's log (kept in <data-dir>/kafka) (INVSYNC_DATA_DIR)")
	addr := fs.String("embedded-kafka-addr", env("INVSYNC_EMBEDDED_KAFKA_ADDR", "127.0.0.1:9092"), "host:port to listen on; a non-loopback address needs SASL (INVSYNC_EMBEDDED_KAFKA_ADDR)")
	noFsync := fs.Bool("embedded-kafka-no-fsync", env("INVSYNC_EMBEDDED_KAFKA_NO_FSYNC", "false") == "true", "skip the fsync per produce (INVSYNC_EMBEDDED_KAFKA_NO_FSYNC)")
	partitions := fs.Int("partitions", 12, "default partitions of auto-created topics (invsync serve creates its own with --partitions)")
	supervised := fs.Bool("supervised", false, "run as the broker of an invsync serve on the same --data-dir: stop once no serve has used it for --orphan-timeout")
	orphan := fs.Duration("orphan-timeout", 5*time.Minute, "with --supervised: how long to wait for a crashed serve to come back before stopping")
	logLevel := fs.String("log-level", env("INVSYNC_LOG_LEVEL", "info"), "debug, info, warn or error (INVSYNC_LOG_LEVEL)")
	logFormat := fs.String("log-format", env("INVSYNC_LOG_FORMAT", "text"), "text or json (INVSYNC_LOG_FORMAT)")
	saslMech := fs.String("kafka-sasl-mechanism", env("INVSYNC_KAFKA_SASL_MECHANISM", ""), "require SASL of clients: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, with the one user --kafka-sasl-user and the password in INVSYNC_KAFKA_SASL_PASSWORD (INVSYNC_KAFKA_SASL_MECHANISM)")
	saslUser := fs.String("kafka-sasl-user", env("INVSYNC_KAFKA_SASL_USER", ""), "the SASL user clients log in as (INVSYNC_KAFKA_SASL_USER)")
	return func() (BrokerOptions, string, string, error) {
		o := BrokerOptions{DataDir: *dataDir, Addr: *addr, NoFsync: *noFsync, Partitions: *partitions,
			Supervised: *supervised, OrphanTimeout: *orphan}
		if err := o.Validate(); err != nil {
			return BrokerOptions{}, "", "", err
		}
		if *saslMech != "" || *saslUser != "" {
			o.SASL = &embedded.SASLUser{Mechanism: strings.ToUpper(*saslMech), User: *saslUser, Password: getenv("INVSYNC_KAFKA_SASL_PASSWORD")}
		}
		return o, *logLevel, *logFormat, nil
	}
}
