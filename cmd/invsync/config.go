package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/invsync/invsync/ingest"
	"github.com/invsync/invsync/server"
)

// serveFlags are the flags of `invsync serve`; their defaults are
// server.DefaultOptions (a test checks they agree).
var serveFlags = []flagSpec{
	{"data-dir", "INVSYNC_DATA_DIR", "./data", "directory for the Pebble state (state/) and, with the embedded broker, its log (kafka/)"},
	{"http-addr", "INVSYNC_HTTP_ADDR", "127.0.0.1:8080", "host:port of the HTTP API"},
	{"advertise-url", "INVSYNC_ADVERTISE_URL", "", "base URL other instances use to reach this one's HTTP API (forwarded reads); empty means http://<http-addr>"},
	{"brokers", "INVSYNC_BROKERS", "", "comma-separated Kafka seed brokers; empty starts the embedded broker"},
	{"embedded-kafka-addr", "INVSYNC_EMBEDDED_KAFKA_ADDR", "127.0.0.1:9092", "where the embedded broker listens, so kcat and other consumers can read the topics"},
	{"embedded-kafka-no-fsync", "INVSYNC_EMBEDDED_KAFKA_NO_FSYNC", "false", "skip the embedded broker's fsync per produce (faster; an OS crash or power cut may then lose acknowledged writes)"},
	{"embedded-kafka-in-process", "INVSYNC_EMBEDDED_KAFKA_IN_PROCESS", "false", "run the embedded broker inside this process instead of a supervised process of its own (a kill -9 of this process can then tear a Kafka transaction: for tests and benchmarks)"},
	{"catalog", "INVSYNC_CATALOG", "", "JSON master data file upserted at start; empty seeds the built-in demo catalog when the catalog topic is empty"},
	{"partitions", "INVSYNC_PARTITIONS", "12", "partitions of the topics invsync creates (all instances must agree)"},
	{"topic-prefix", "INVSYNC_TOPIC_PREFIX", "invsync.", "prefix of every topic"},
	{"schema-registry-url", "INVSYNC_SCHEMA_REGISTRY_URL", "", "Confluent-compatible schema registry to register the Avro schemas in; empty serves them from the HTTP API"},
	{"group", "INVSYNC_GROUP", "invsync-processors", "Kafka consumer group shared by the instances of one deployment"},
	{"session-timeout", "INVSYNC_SESSION_TIMEOUT", "10s", "how long the consumer group waits for a silent instance (crashed, paused) before moving its partitions to the others"},
	{"ledger-window", "INVSYNC_LEDGER_WINDOW", "168h", "how long per-record deltas are kept to rebase late cycle counts; older counts are flagged, not applied"},
	{"max-scan-age", "INVSYNC_MAX_SCAN_AGE", "720h", "oldest scan timestamp accepted, relative to the upload's sentAt"},
	{"snapshot-interval", "INVSYNC_SNAPSHOT_INTERVAL", "15m", "how often each partition publishes a reconciliation snapshot of its stock records to the position-snapshots topic, at wall-clock multiples of the interval; at least 1s, or 0 to publish none"},
	{"reconciliation-grace", "INVSYNC_RECONCILIATION_GRACE", "2m", "how long a record may stay behind in the cloud's reconciliation reports (an event in flight) before it is a STALE discrepancy (an event the cloud lost)"},
	{"log-level", "INVSYNC_LOG_LEVEL", "info", "debug, info, warn or error"},
	{"log-format", "INVSYNC_LOG_FORMAT", "text", "text or json"},
	{"admin-token", "INVSYNC_ADMIN_TOKEN", "", "an admin credential of at least 32 characters, accepted while set (prefer the environment variable: a flag shows in ps); without it, the first start generates one and writes it to <data-dir>/admin-token"},
	{"rate-limit", "INVSYNC_RATE_LIMIT", "100", "requests a second each API token may make (bursts of twice that); beyond it 429 RATE_LIMITED with Retry-After; 0 for no limit"},
	{"heap-limit", "INVSYNC_HEAP_LIMIT", "160", "soft limit of the Go heap in MiB (it includes the 16 MiB cache of hot stock records; Pebble's block cache and memtables, 112 MiB, come on top): the collector works harder near it instead of letting garbage double the heap; 0 for none; GOMEMLIMIT, when set, wins"},
	{"max-in-flight", "INVSYNC_MAX_IN_FLIGHT", "100000", "transactions accepted by this instance and not yet applied; an upload beyond it is refused whole, 503 BACKLOG_FULL with Retry-After, so devices keep their queues while the processors are behind"},
	{"tls-cert", "INVSYNC_TLS_CERT", "", "PEM certificate (chain) to serve HTTPS with; needs --tls-key"},
	{"tls-key", "INVSYNC_TLS_KEY", "", "PEM private key of --tls-cert"},
	{"tls-client-ca", "INVSYNC_TLS_CLIENT_CA", "", "PEM CA bundle: require every HTTPS client (devices, peers) to present a certificate it signed; needs --tls-cert"},
}

func init() { serveFlags = append(serveFlags, kafkaSecurityFlags...) }

// parseServe parses args (after "serve") with env fallbacks and validates
// the result, reporting every problem at once.
func parseServe(args []string, getenv func(string) string) (server.Options, error) {
	_, get, err := parseSpecs("serve", serveFlags, args, getenv, os.Stderr, serveUsage)
	if err != nil {
		return server.Options{}, err
	}
	// A value that does not parse is reported here and leaves the
	// default in place; Validate then reports what is out of range.
	v := &values{get: get}
	c := server.DefaultOptions()
	c.DataDir, c.HTTPAddr, c.EmbeddedKafkaAddr = get("data-dir"), get("http-addr"), get("embedded-kafka-addr")
	c.AdvertiseURL, c.Brokers = strings.TrimRight(get("advertise-url"), "/"), v.list("brokers")
	c.Catalog, c.TopicPrefix, c.SchemaRegistryURL = get("catalog"), get("topic-prefix"), get("schema-registry-url")
	c.Group, c.LogLevel, c.LogFormat, c.AdminToken = get("group"), get("log-level"), get("log-format"), get("admin-token")
	c.TLSCert, c.TLSKey, c.TLSClientCA = get("tls-cert"), get("tls-key"), get("tls-client-ca")
	v.bool("embedded-kafka-no-fsync", &c.EmbeddedNoFsync)
	v.bool("embedded-kafka-in-process", &c.EmbeddedInProcess)
	v.int("partitions", "a number from 1 to 1000", &c.Partitions)
	v.int("heap-limit", "a number of MiB of at least 64 (or 0 for no limit)", &c.HeapLimitMiB)
	v.int("max-in-flight", fmt.Sprintf("a number of transactions of at least %d (one full upload)", ingest.MaxTransactions), &c.MaxInFlight)
	v.float("rate-limit", "a number of requests a second (0 for no limit)", &c.RateLimit)
	v.duration("ledger-window", "a positive duration such as 168h", &c.LedgerWindow)
	v.duration("max-scan-age", "a positive duration such as 720h", &c.MaxScanAge)
	v.duration("session-timeout", "a positive duration such as 10s", &c.SessionTimeout)
	v.duration("reconciliation-grace", "a positive duration such as 2m", &c.ReconciliationGrace)
	v.duration("snapshot-interval", "a duration of at least 1s such as 15m, or 0 to publish no snapshots", &c.SnapshotInterval)
	c.Kafka = v.kafka(getenv)
	if err := c.Validate(); err != nil {
		v.errs = append(v.errs, err.(interface{ Unwrap() []error }).Unwrap()...)
	}
	if len(v.errs) > 0 {
		return server.Options{}, invalid("serve", v.errs)
	}
	return c, nil
}

func serveUsage(w io.Writer) {
	fmt.Fprint(w, help("serve"))
	printSpecs(w, serveFlags)
}
