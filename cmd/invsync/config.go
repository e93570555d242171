package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/invsync/invsync/ingest"
	"github.com/invsync/invsync/server"
)

// flagSpec is one flag with its environment variable and help.
type flagSpec struct {
	name, env, def, help string
}

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

// kafkaSecurityFlags are the flags every command that talks to Kafka takes;
// the SASL password comes only from INVSYNC_KAFKA_SASL_PASSWORD.
var kafkaSecurityFlags = []flagSpec{
	{"kafka-tls", "INVSYNC_KAFKA_TLS", "false", "connect to Kafka over TLS"},
	{"kafka-tls-ca", "INVSYNC_KAFKA_TLS_CA", "", "PEM file of the CA that signed the brokers' certificates (default: the system's; implies --kafka-tls)"},
	{"kafka-sasl-mechanism", "INVSYNC_KAFKA_SASL_MECHANISM", "", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; the password comes from INVSYNC_KAFKA_SASL_PASSWORD only (never a flag). Without --brokers the embedded broker then requires this user"},
	{"kafka-sasl-user", "INVSYNC_KAFKA_SASL_USER", "", "SASL user name"},
}

func init() { serveFlags = append(serveFlags, kafkaSecurityFlags...) }

// parseServe parses args (after "serve") with env fallbacks and validates
// the result, reporting every problem at once.
func parseServe(args []string, getenv func(string) string) (server.Options, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	vals := map[string]*string{}
	for _, f := range serveFlags {
		def := f.def
		if v := getenv(f.env); v != "" {
			def = v
		}
		v := def
		vals[f.name] = &v
		if f.def == "true" || f.def == "false" {
			// A boolean flag may be given bare (--name) or as --name=false.
			fs.Var((*boolString)(&v), f.name, f.help)
		} else {
			fs.StringVar(&v, f.name, def, f.help)
		}
	}
	fs.Usage = func() { serveUsage(fs.Output()) }
	if err := fs.Parse(args); err != nil {
		return server.Options{}, err
	}
	if fs.NArg() > 0 {
		return server.Options{}, fmt.Errorf("unexpected argument %q (flags take the form --name=value)", fs.Arg(0))
	}
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("--%s: %s", name, fmt.Sprintf(format, args...)))
	}
	// A value that does not parse is reported here and leaves the
	// default in place; Validate then reports what is out of range.
	c := server.DefaultOptions()
	c.DataDir, c.HTTPAddr, c.EmbeddedKafkaAddr = *vals["data-dir"], *vals["http-addr"], *vals["embedded-kafka-addr"]
	c.AdvertiseURL = strings.TrimRight(*vals["advertise-url"], "/")
	c.Catalog, c.TopicPrefix, c.SchemaRegistryURL = *vals["catalog"], *vals["topic-prefix"], *vals["schema-registry-url"]
	c.Group, c.LogLevel, c.LogFormat, c.AdminToken = *vals["group"], *vals["log-level"], *vals["log-format"], *vals["admin-token"]
	c.TLSCert, c.TLSKey, c.TLSClientCA = *vals["tls-cert"], *vals["tls-key"], *vals["tls-client-ca"]
	for _, b := range strings.Split(*vals["brokers"], ",") {
		if b = strings.TrimSpace(b); b != "" {
			c.Brokers = append(c.Brokers, b)
		}
	}
	for _, b := range []struct {
		name string
		dst  *bool
	}{{"embedded-kafka-no-fsync", &c.EmbeddedNoFsync}, {"embedded-kafka-in-process", &c.EmbeddedInProcess}} {
		v, err := strconv.ParseBool(*vals[b.name])
		if err != nil {
			bad(b.name, "%q is not true or false", *vals[b.name])
		}
		*b.dst = v
	}
	for _, n := range []struct {
		name, want string
		dst        *int
	}{{"partitions", "a number from 1 to 1000", &c.Partitions}, {"heap-limit", "a number of MiB of at least 64 (or 0 for no limit)", &c.HeapLimitMiB},
		{"max-in-flight", fmt.Sprintf("a number of transactions of at least %d (one full upload)", ingest.MaxTransactions), &c.MaxInFlight}} {
		if v, err := strconv.Atoi(*vals[n.name]); err != nil {
			bad(n.name, "%q is not %s", *vals[n.name], n.want)
		} else {
			*n.dst = v
		}
	}
	if v, err := strconv.ParseFloat(*vals["rate-limit"], 64); err != nil {
		bad("rate-limit", "%q is not a number of requests a second (0 for no limit)", *vals["rate-limit"])
	} else {
		c.RateLimit = v
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"ledger-window", &c.LedgerWindow}, {"max-scan-age", &c.MaxScanAge}, {"session-timeout", &c.SessionTimeout},
		{"reconciliation-grace", &c.ReconciliationGrace}} {
		if v, err := time.ParseDuration(*vals[d.name]); err != nil {
			bad(d.name, "%q is not a positive duration such as 168h", *vals[d.name])
		} else {
			*d.dst = v
		}
	}
	if v, err := time.ParseDuration(*vals["snapshot-interval"]); err != nil {
		bad("snapshot-interval", "%q is not a duration of at least 1s such as 15m, or 0 to publish no snapshots", *vals["snapshot-interval"])
	} else {
		c.SnapshotInterval = v
	}
	c.Kafka.Mechanism, c.Kafka.User = strings.ToUpper(*vals["kafka-sasl-mechanism"]), *vals["kafka-sasl-user"]
	c.Kafka.Password = getenv("INVSYNC_KAFKA_SASL_PASSWORD")
	var kerrs []string
	c.Kafka.Opts, kerrs = server.KafkaSecurityOpts(*vals["kafka-tls"], *vals["kafka-tls-ca"], c.Kafka.Mechanism, c.Kafka.User, c.Kafka.Password)
	for _, e := range kerrs {
		errs = append(errs, errors.New(e))
	}
	if err := c.Validate(); err != nil {
		errs = append(errs, err.(interface{ Unwrap() []error }).Unwrap()...)
	}
	if len(errs) > 0 {
		return server.Options{}, fmt.Errorf("invalid configuration (see invsync serve --help):\n  %w", joinIndented(errs))
	}
	return c, nil
}

func joinIndented(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "\n  "))
}

func serveUsage(w interface{ Write([]byte) (int, error) }) {
	fmt.Fprint(w, `Usage: invsync serve [flags]

Runs the whole pipeline in one process: the HTTP API scanners and the cloud
call, the ingest producer, the partitioned processors (exactly-once, state in
Pebble) and, unless --brokers is set, an embedded Kafka broker.

Start several "invsync serve" processes with the same --brokers and --group,
each with its own --data-dir, to share the partitions among them.

Flags (each can also be set by the environment variable shown):
`)
	for _, f := range serveFlags {
		def := f.def
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  --%s  (%s, default %s)\n      %s\n", f.name, f.env, def, f.help)
	}
}

// boolString is a string flag that may be given bare, like a bool flag;
// the value is validated with the others in parseServe.
type boolString string

func (b *boolString) String() string     { return string(*b) }
func (b *boolString) Set(v string) error { *b = boolString(v); return nil }
func (b *boolString) IsBoolFlag() bool   { return true }
