package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/invsync/invsync/pipeline/embedded"
)

// server is one running `invsync serve`. start listens on the HTTP port and
// answers /healthz and /readyz from the first moment; run brings up the
// rest (the embedded broker, Kafka, the state, the processors), serves the
// API once everything is up, and shuts down in order when ctx ends.
type server struct {
	cfg  serveConfig
	log  *slog.Logger
	boot *bootStatus

	httpLn  net.Listener
	http    *http.Server
	httpErr chan error
	handler swappableHandler

	metrics *prometheus.Registry
	meters  *sdkmetric.MeterProvider

	// Set by run as the parts come up; closed by close in reverse.
	brokerProc *embedded.Process // the supervised broker process
	brokerIn   *embedded.Broker  // the in-process broker (tests, bench)
	brokers    []string
	parts      *parts
	// up is closed once every part is up (brokers and parts are set);
	// ended once run has returned.
	up, ended chan struct{}
}

// start validates what can be checked without Kafka and listens on the HTTP
// port. Every error is one line saying what to do.
func start(ctx context.Context, cfg serveConfig, log *slog.Logger) (*server, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating --data-dir %s: %w", cfg.DataDir, err)
	}
	s := &server{cfg: cfg, log: log, boot: newBootStatus(), httpErr: make(chan error, 1),
		up: make(chan struct{}), ended: make(chan struct{})}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("--http-addr %s is in use by another process; choose another with --http-addr", cfg.HTTPAddr)
		}
		return nil, fmt.Errorf("listening on --http-addr %s: %w", cfg.HTTPAddr, err)
	}
	s.httpLn = ln
	if err := s.newMetrics(); err != nil {
		_ = ln.Close()
		return nil, err
	}
	s.handler.set(bootHandler(s.boot, promhttp.HandlerFor(s.metrics, promhttp.HandlerOpts{})))
	// Timeouts bound what a slow or idle client can hold: the headers in
	// 10 s, a whole request (body included, 1 MiB at most) in a minute.
	s.http = &http.Server{Handler: &s.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	if cfg.TLSCert != "" {
		tlsCfg, err := serverTLS(cfg)
		if err != nil {
			_ = ln.Close()
			return nil, err
		}
		s.http.TLSConfig = tlsCfg
		ln = tls.NewListener(ln, tlsCfg)
	}
	go func() {
		if err := s.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.httpErr <- err
		}
		close(s.httpErr)
	}()
	return s, nil
}

// serverTLS loads the HTTPS certificate and, with --tls-client-ca, requires
// client certificates signed by that CA.
func serverTLS(cfg serveConfig) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("loading --tls-cert %s and --tls-key %s: %w", cfg.TLSCert, cfg.TLSKey, err)
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if cfg.TLSClientCA != "" {
		pool, err := loadPool(cfg.TLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("--tls-client-ca: %w", err)
		}
		t.ClientCAs, t.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return t, nil
}

// loadPool reads a PEM bundle into a certificate pool.
func loadPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

func (s *server) newMetrics() error {
	s.metrics = prometheus.NewRegistry()
	s.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := otelprom.New(otelprom.WithRegisterer(s.metrics), otelprom.WithoutScopeInfo())
	if err != nil {
		return fmt.Errorf("creating metrics exporter: %w", err)
	}
	s.meters = sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	return nil
}

// run brings the service up and serves until ctx ends. A shutdown during
// start-up is clean (nil error).
func (s *server) run(ctx context.Context) error {
	defer close(s.ended)
	defer s.close()
	err := s.bringUp(ctx)
	if ctx.Err() != nil {
		s.log.Info("stopped during start-up")
		return nil
	}
	if err != nil {
		return err
	}
	close(s.up)
	s.log.Info("invsync serving", "http", s.httpLn.Addr().String(), "brokers", strings.Join(s.brokers, ","),
		"partitions", s.cfg.Partitions, "data_dir", s.cfg.DataDir)
	err = s.parts.wait(ctx, s.httpErr, s.brokerExited())
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// bringUp starts every part in order, telling /readyz what it waits for.
func (s *server) bringUp(ctx context.Context) error {
	instance, err := instanceID(s.cfg.DataDir)
	if err != nil {
		return err
	}
	if err := s.startBroker(ctx); err != nil {
		return err
	}
	s.boot.set("creating topics on Kafka at " + strings.Join(s.brokers, ","))
	if err := waitForKafka(ctx, s.brokers, s.clientOpts(), s.cfg, s.boot, s.log); err != nil {
		return err
	}
	s.boot.set("opening the state store")
	s.parts, err = newParts(ctx, s, instance)
	if err != nil {
		return err
	}
	s.handler.set(s.parts.handler)
	return s.parts.start(ctx, s.boot)
}

// waitUp waits until the server is up, for callers in other goroutines
// that need its brokers or parts.
func (s *server) waitUp(ctx context.Context) error {
	select {
	case <-s.up:
		return nil
	case <-s.ended:
		return errors.New("invsync stopped before it was up")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startBroker starts the embedded broker unless --brokers is set.
func (s *server) startBroker(ctx context.Context) error {
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

func (s *server) superviseBroker(ctx context.Context, dir string) (*embedded.Process, error) {
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
func (s *server) embeddedSASL() *embedded.SASLUser {
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

// brokerExited is closed when the supervised broker process dies, which
// ends serve with an error (Kafka is gone); nil otherwise.
func (s *server) brokerExited() <-chan struct{} {
	if s.brokerProc == nil {
		return nil
	}
	return s.brokerProc.Exited()
}

// clientOpts are the options every Kafka client of this process uses.
func (s *server) clientOpts() []kgo.Opt {
	return append([]kgo.Opt{kgo.WithLogger(kgoLogger{s.log})}, s.cfg.Kafka.Opts...)
}

// close shuts down in reverse order: the HTTP server, the parts, the
// metrics, the broker. Safe at any point of start-up.
func (s *server) close() {
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_ = s.http.Shutdown(shutCtx)
	cancel()
	if s.parts != nil {
		s.parts.close()
	}
	if s.meters != nil {
		_ = s.meters.Shutdown(context.Background())
	}
	if s.brokerIn != nil {
		s.brokerIn.Close()
	}
	if s.brokerProc != nil {
		if err := s.brokerProc.Stop(30 * time.Second); err != nil {
			s.log.Warn("stopping the embedded broker", "err", err)
		}
	}
}

// waitForKafka creates the topics, waiting as long as it takes for a
// broker that is not there yet (with the reason on /readyz and in the log),
// until ctx ends. A partition-count disagreement and refused credentials
// are fatal: waiting does not help.
func waitForKafka(ctx context.Context, brokers []string, opts []kgo.Opt, cfg serveConfig, boot *bootStatus, log *slog.Logger) error {
	var lastLog time.Time
	closedOnUs := 0
	for {
		refused, err := saslRefused(ctx, brokers, opts, cfg, &closedOnUs)
		if refused != nil {
			return refused
		}
		if err == nil {
			err = ensureTopics(ctx, brokers, opts, cfg)
		}
		if err == nil || ctx.Err() != nil {
			return err
		}
		if errors.Is(err, errTopicsDisagree) {
			return err
		}
		reason := fmt.Sprintf("waiting for Kafka at %s: %v", strings.Join(brokers, ","), err)
		boot.set(reason)
		if time.Since(lastLog) > 10*time.Second {
			lastLog = time.Now()
			log.Warn(reason)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// saslRefused, with SASL configured, asks the brokers once whether they
// take our credentials: it returns a fatal error when they do not, or the
// error of the attempt (nil when they answered). A broker refuses with
// SASL_AUTHENTICATION_FAILED (Apache Kafka) or by closing the connection
// during authentication (the embedded broker); the latter counts after
// three times in a row, as a broker restarting refuses connections rather
// than closing them.
func saslRefused(ctx context.Context, brokers []string, opts []kgo.Opt, cfg serveConfig, closedOnUs *int) (refused, err error) {
	if cfg.Kafka.Mechanism == "" {
		return nil, nil
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err = cl.Ping(pctx)
	switch {
	case err == nil:
		*closedOnUs = 0
		return nil, nil
	case errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.IllegalSaslState) || errors.Is(err, kerr.UnsupportedSaslMechanism):
	case errors.Is(err, io.EOF):
		if *closedOnUs++; *closedOnUs < 3 {
			return nil, fmt.Errorf("the broker closed the connection during %s", cfg.Kafka.describe())
		}
	default:
		*closedOnUs = 0
		return nil, err
	}
	return fmt.Errorf("Kafka at %s refused %s (%v): check --kafka-sasl-mechanism, --kafka-sasl-user and INVSYNC_KAFKA_SASL_PASSWORD",
		strings.Join(brokers, ","), cfg.Kafka.describe(), err), nil
}

// instanceID returns this data dir's stable identity, creating it once. It
// names the instance's transactional producer, so a restart of the same
// instance fences its predecessor.
func instanceID(dir string) (string, error) {
	path := filepath.Join(dir, "instance-id")
	if b, err := os.ReadFile(path); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(b[:])
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("writing instance id: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("writing instance id: %w", err)
	}
	return id, nil
}

// bootStatus is what the service is waiting for while it starts, for
// /readyz.
type bootStatus struct {
	mu     sync.Mutex
	reason string
}

func newBootStatus() *bootStatus { return &bootStatus{reason: "starting"} }

func (b *bootStatus) set(reason string) {
	b.mu.Lock()
	b.reason = reason
	b.mu.Unlock()
}

func (b *bootStatus) get() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.reason
}

// kgoLogger passes the Kafka client's warnings and errors to the log, and
// with --log-level debug its informational lines too (group joins,
// assignments, the offsets each transaction commits), logged at debug.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel {
	if k.l.Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelInfo
	}
	return kgo.LogLevelWarn
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, kv ...any) {
	switch level {
	case kgo.LogLevelError:
		k.l.Error(msg, append(kv, "component", "kafka-client")...)
	case kgo.LogLevelWarn:
		k.l.Warn(msg, append(kv, "component", "kafka-client")...)
	case kgo.LogLevelInfo:
		k.l.Debug(msg, append(kv, "component", "kafka-client")...)
	}
}

// peerTLS is how this instance calls its peers over HTTPS: it trusts the
// system's roots, its own certificate (instances often share one) and the
// client CA, and presents its own certificate where peers require one. Nil
// without --tls-cert.
func (s *server) peerTLS() *tls.Config {
	srv := s.http.TLSConfig
	if srv == nil {
		return nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, c := range srv.Certificates {
		for _, der := range c.Certificate {
			if cert, err := x509.ParseCertificate(der); err == nil {
				pool.AddCert(cert)
			}
		}
	}
	if s.cfg.TLSClientCA != "" {
		if pem, err := os.ReadFile(s.cfg.TLSClientCA); err == nil {
			pool.AppendCertsFromPEM(pem)
		}
	}
	out := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	if srv.ClientAuth == tls.RequireAndVerifyClientCert {
		out.Certificates = srv.Certificates
	}
	return out
}
