package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/invsync/invsync/pipeline/embedded"
)

// startBroker starts the embedded broker unless --brokers is set.
func (s *Server) startBroker(ctx context.Context) error {
	if len(s.cfg.Brokers) > 0 {
		s.brokers = s.cfg.Brokers
		return nil
	}
	s.boot.set("starting the embedded Kafka broker")
	dir := filepath.Join(s.cfg.DataDir, "kafka")
	if s.cfg.EmbeddedInProcess {
		b, err := embedded.Start(embedded.Config{Addr: s.cfg.EmbeddedKafkaAddr, DataDir: dir,
			NoSync: s.cfg.EmbeddedNoFsync, Partitions: int32(s.cfg.Partitions), Logger: s.log, SASL: s.embeddedSASL()})
		if err != nil {
			return err
		}
		s.brokerIn, s.brokers = b, []string{b.Addr()}
		s.log.Info("embedded Kafka broker listening in this process", "addr", b.Addr(), "fsync", !s.cfg.EmbeddedNoFsync)
		return nil
	}
	p, err := s.superviseBroker(ctx, dir)
	if err != nil {
		return err
	}
	s.brokerProc, s.brokers = p, []string{p.Addr()}
	return nil
}

func (s *Server) superviseBroker(ctx context.Context, dir string) (*embedded.Process, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this executable to run the embedded broker: %w", err)
	}
	cmd := []string{exe, "broker", "--supervised", "--data-dir", s.cfg.DataDir,
		"--embedded-kafka-addr", s.cfg.EmbeddedKafkaAddr, "--partitions", fmt.Sprint(s.cfg.Partitions),
		"--log-level", s.cfg.LogLevel, "--log-format", s.cfg.LogFormat}
	if s.cfg.EmbeddedNoFsync {
		cmd = append(cmd, "--embedded-kafka-no-fsync")
	}
	if sasl := s.embeddedSASL(); sasl != nil {
		// The password reaches the broker through its environment
		// (inherited), never its command line.
		cmd = append(cmd, "--kafka-sasl-mechanism", sasl.Mechanism, "--kafka-sasl-user", sasl.User)
	}
	if host, _, _ := net.SplitHostPort(s.cfg.EmbeddedKafkaAddr); s.embeddedSASL() == nil && !isLoopbackHost(host) {
		return nil, fmt.Errorf("--embedded-kafka-addr %s is not a loopback address: the embedded broker listens beyond this machine only when it requires SASL (set --kafka-sasl-mechanism, --kafka-sasl-user and INVSYNC_KAFKA_SASL_PASSWORD)", s.cfg.EmbeddedKafkaAddr)
	}
	return embedded.Supervise(ctx, embedded.SuperviseConfig{DataDir: dir, Addr: s.cfg.EmbeddedKafkaAddr, Command: cmd, Logger: s.log})
}

// embeddedSASL is the user the embedded broker requires: the client's own
// SASL settings, so serve and its broker agree.
func (s *Server) embeddedSASL() *embedded.SASLUser {
	if s.cfg.Kafka.Mechanism == "" {
		return nil
	}
	return &embedded.SASLUser{Mechanism: s.cfg.Kafka.Mechanism, User: s.cfg.Kafka.User, Password: s.cfg.Kafka.Password}
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// brokerExited is closed when the supervised broker process dies, or the
// in-process broker stops by itself (a failed fsync), which ends serve
// with an error (Kafka is gone); nil with an external Kafka.
func (s *Server) brokerExited() <-chan struct{} {
	switch {
	case s.brokerProc != nil:
		return s.brokerProc.Exited()
	case s.brokerIn != nil:
		return s.brokerIn.Stopped()
	}
	return nil
}

// BrokerOptions is what `invsync broker` runs: the embedded broker in a
// process of its own.
type BrokerOptions struct {
	// DataDir is the data dir; the broker's log is kept in DataDir/kafka.
	// Default "./data".
	DataDir string
	// Addr is where the broker listens. Default "127.0.0.1:9092"; a
	// non-loopback address needs SASL.
	Addr string
	// NoFsync skips the fsync per produce. Default false.
	NoFsync bool
	// Partitions of auto-created topics. Default 12.
	Partitions int
	// Supervised runs the broker of a server on the same DataDir: it
	// stops once no server has used it for OrphanTimeout (default 5m).
	Supervised    bool
	OrphanTimeout time.Duration
	// SASL, when set, is the one user clients must log in as.
	SASL *embedded.SASLUser
	// Logger receives the broker's log. Default nil: discard.
	Logger *slog.Logger
}

// DefaultBrokerOptions returns the defaults of `invsync broker`.
func DefaultBrokerOptions() BrokerOptions {
	return BrokerOptions{DataDir: "./data", Addr: "127.0.0.1:9092", Partitions: 12, OrphanTimeout: 5 * time.Minute}
}

// Validate reports every problem of o at once, each naming its flag.
func (o BrokerOptions) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		errs = append(errs, fmt.Errorf("--embedded-kafka-addr %q is not host:port", o.Addr))
	}
	if o.Partitions < 1 {
		errs = append(errs, fmt.Errorf("--partitions %d must be at least 1", o.Partitions))
	}
	if o.OrphanTimeout <= 0 {
		errs = append(errs, errors.New("--orphan-timeout must be positive"))
	}
	return errors.Join(errs...)
}

// RunBroker runs the embedded broker until ctx ends (or, supervised, until
// it is orphaned).
func RunBroker(ctx context.Context, o BrokerOptions) error {
	if err := o.Validate(); err != nil {
		return err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	err := embedded.RunProcess(ctx, embedded.ProcessConfig{
		Config: embedded.Config{Addr: o.Addr, DataDir: filepath.Join(o.DataDir, "kafka"), NoSync: o.NoFsync,
			Partitions: int32(o.Partitions), Logger: log, SASL: o.SASL},
		Supervised: o.Supervised, OrphanTimeout: o.OrphanTimeout,
		Ready: func(addr string) {
			log.Info("embedded Kafka broker listening", "addr", addr, "fsync", !o.NoFsync, "data_dir", o.DataDir, "pid", os.Getpid())
		},
	})
	if err != nil {
		return err
	}
	log.Info("broker stopped")
	return nil
}

// StopBroker stops the broker running on a data dir, waiting up to
// timeout; running is false when none was.
func StopBroker(dataDir string, timeout time.Duration) (running bool, err error) {
	return embedded.Stop(filepath.Join(dataDir, "kafka"), timeout)
}
