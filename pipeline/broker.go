package pipeline

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// EmbeddedConfig configures the in-process Kafka broker used when no
// --brokers are given.
type EmbeddedConfig struct {
	// Addr is host:port to listen on (so kcat and other consumers can read
	// the topics). Default 127.0.0.1:9092.
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
	Logger     *slog.Logger
}

// Embedded is a running in-process broker (franz-go's kfake with disk
// persistence).
type Embedded struct {
	c    *kfake.Cluster
	addr string
}

// StartEmbedded starts the broker and returns once it listens.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:9092"
	}
	host, portStr, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("embedded broker address %q: %w (want host:port)", cfg.Addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("embedded broker address %q: port must be a number 0-65535", cfg.Addr)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating embedded broker data dir: %w", err)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.DataDir(cfg.DataDir),
		kfake.ClusterID("invsync-embedded"),
		// kfake binds 127.0.0.1:port; honour the configured host instead.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
		}),
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
	if cfg.Logger != nil {
		opts = append(opts, kfake.WithLogger(kfakeLogger{cfg.Logger}))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("starting embedded broker on %s: %w (is another process using the port? set --embedded-kafka-addr)", cfg.Addr, err)
	}
	addrs := c.ListenAddrs()
	addr := cfg.Addr
	if len(addrs) > 0 {
		addr = addrs[0]
	}
	return &Embedded{c: c, addr: addr}, nil
}

// Addr is where the broker listens.
func (e *Embedded) Addr() string { return e.addr }

// Close stops the broker, flushing its log. Safe to call twice.
func (e *Embedded) Close() {
	if e.c != nil {
		e.c.Close()
		e.c = nil
	}
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
