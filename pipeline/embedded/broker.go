// Package embedded is invsync's built-in Kafka broker: franz-go's kfake with
// disk persistence, listening on a real port, so `invsync serve` works on a
// machine without a Kafka installation.
//
// The broker can run in the process that uses it (Start), or, as `invsync
// serve` does by default, in a process of its own that serve starts and
// supervises (Supervise, and RunProcess on the broker's side). A broker
// process that survives the crash of its user needs no recovery at all; a
// restarted serve finds it and reuses it.
//
// When the broker dies too (a power cut), its recovery keeps the
// transactions whole: the kfake under third_party/kfake records a commit
// decision, synced, before it writes any marker, and on restart commits the
// transactions whose commit was recorded on every partition and aborts the
// others whole, with markers on disk (third_party/kfake/PATCHES.md).
package embedded

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Config configures the broker.
type Config struct {
	// Addr is host:port to listen on (so kcat and other consumers can read
	// the topics). Default 127.0.0.1:9092; port 0 picks a free port.
	Addr string
	// DataDir holds the broker's log; topics, offsets and transactions
	// survive a restart. Required.
	DataDir string
	// NoSync turns off the per-batch fsync. With it on (the default), a
	// produce is on stable storage before the broker acknowledges it, so
	// "accepted" survives a power cut as well as a kill -9 of the process;
	// a single embedded broker has no replicas to lean on instead.
	NoSync bool
	// Partitions is the default partition count of auto-created topics.
	Partitions int32
	// SASL, when set, makes the broker require SASL authentication with
	// this user (the only one it knows). A broker listening on anything
	// but a loopback address refuses to start without it.
	SASL *SASLUser
	// Logger receives the broker's errors; nil discards them.
	Logger *slog.Logger
}

// SASLUser is the one user of a broker that requires SASL.
type SASLUser struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
	Mechanism string
	User      string
	Password  string
}

// ErrNonLoopbackWithoutSASL refuses a broker that would let anyone on the
// network read and write every topic.
var ErrNonLoopbackWithoutSASL = errors.New("the embedded broker listens only on a loopback address unless it requires SASL")

// Validate reports every problem of cfg at once.
func (cfg Config) Validate() error {
	var errs []error
	host, portStr, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		errs = append(errs, fmt.Errorf("embedded broker address %q is not host:port", cfg.Addr))
	} else if port, err := strconv.Atoi(portStr); err != nil || port < 0 || port > 65535 {
		errs = append(errs, fmt.Errorf("embedded broker address %q: port must be a number 0-65535", cfg.Addr))
	} else if cfg.SASL == nil && !isLoopback(host) {
		errs = append(errs, fmt.Errorf("%w: %q is not loopback; set a SASL user (--kafka-sasl-*) or listen on 127.0.0.1", ErrNonLoopbackWithoutSASL, cfg.Addr))
	}
	if cfg.DataDir == "" {
		errs = append(errs, errors.New("embedded broker data dir is empty"))
	}
	if s := cfg.SASL; s != nil {
		switch s.Mechanism {
		case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		default:
			errs = append(errs, fmt.Errorf("embedded broker SASL mechanism %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.Mechanism))
		}
		if s.User == "" || s.Password == "" {
			errs = append(errs, errors.New("embedded broker SASL user and password must both be set"))
		}
	}
	return errors.Join(errs...)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Broker is a broker running in this process.
type Broker struct {
	c       *kfake.Cluster
	ln      net.Listener
	addr    string
	stopped <-chan struct{}
	err     func() error
}

// Start starts the broker in this process and returns once it listens.
func Start(cfg Config) (*Broker, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:9092"
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	host, portStr, _ := net.SplitHostPort(cfg.Addr)
	port, _ := strconv.Atoi(portStr)
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating embedded broker data dir: %w", err)
	}
	// kfake binds 127.0.0.1:port; listen here first, so a port in use is
	// reported as such, and on the configured host.
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, addrError(cfg.Addr, err)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(ln.Addr().(*net.TCPAddr).Port),
		kfake.DataDir(cfg.DataDir),
		kfake.ClusterID("invsync-embedded"),
		kfake.ListenFn(func(string, string) (net.Listener, error) { return ln, nil }),
		kfake.BrokerConfigs(map[string]string{
			"transaction.max.timeout.ms": "900000",
		}),
	}
	if cfg.Partitions > 0 {
		opts = append(opts, kfake.DefaultNumPartitions(int(cfg.Partitions)))
	}
	if !cfg.NoSync {
		opts = append(opts, kfake.SyncWrites())
	}
	if s := cfg.SASL; s != nil {
		opts = append(opts, kfake.EnableSASL(), kfake.Superuser(s.Mechanism, s.User, s.Password))
	}
	if cfg.Logger != nil {
		opts = append(opts, kfake.WithLogger(kfakeLogger{cfg.Logger}))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("starting embedded broker on %s: %w", cfg.Addr, err)
	}
	return &Broker{c: c, ln: ln, addr: ln.Addr().String(), stopped: c.Done(), err: c.Err}, nil
}

// addrError explains a failure to listen on addr.
func addrError(addr string, err error) error {
	if isAddrInUse(err) {
		return addrInUseError{addr}
	}
	return fmt.Errorf("listening on --embedded-kafka-addr %s: %w", addr, err)
}

// ErrAddrInUse: the broker's address is taken by another process.
var ErrAddrInUse = errors.New("address in use")

// addrInUseError says which address is taken and what to do; it is an
// ErrAddrInUse.
type addrInUseError struct{ addr string }

func (e addrInUseError) Error() string {
	return "--embedded-kafka-addr " + e.addr + " is in use by another process; stop it or choose another address with --embedded-kafka-addr (or point --brokers at a running Kafka)"
}

func (e addrInUseError) Is(target error) bool { return target == ErrAddrInUse }

// Addr is where the broker listens.
func (e *Broker) Addr() string { return e.addr }

// Stopped is closed once the broker has stopped: closed, or stopped by
// itself after a failed fsync of its log, which Err then returns. A broker
// whose fsync failed cannot tell what of its log is on disk, so it stops
// instead of acknowledging writes; a restart recovers from the disk.
func (e *Broker) Stopped() <-chan struct{} { return e.stopped }

// Err is why the broker stopped by itself (a failed fsync), or nil.
func (e *Broker) Err() error { return e.err() }

// Close stops the broker, flushing its log. Safe to call twice.
func (e *Broker) Close() {
	if e.c != nil {
		e.c.Close()
		e.c = nil
	}
}

// abandon releases the broker's port without flushing its log: for a broker
// whose data dir is gone, where a flush would recreate it.
func (e *Broker) abandon() {
	_ = e.ln.Close()
	e.c = nil
}

type kfakeLogger struct{ l *slog.Logger }

func (k kfakeLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	switch level {
	case kfake.LogLevelError:
		k.l.Error(fmt.Sprintf(msg, args...), "component", "embedded-kafka")
	case kfake.LogLevelWarn:
		// kfake warns about slow fsyncs on every commit; that is
		// expected with per-batch fsync, so it is debug output here.
		k.l.Debug(fmt.Sprintf(msg, args...), "component", "embedded-kafka")
	}
}
