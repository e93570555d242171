package sim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/invsync/invsync/ingest"
	"github.com/invsync/invsync/mirror"
	"github.com/invsync/invsync/server"
)

// Setup is where Simulate runs the day beyond Config.
type Setup struct {
	// Faults runs serve and the mirror as child processes of this
	// executable (which must be the invsync command), killed -9 during
	// the day and restarted; not with Config.URL.
	Faults bool
	// Keep keeps the temporary directory (serve's state, the mirror's
	// database, the scanners' queues) and prints where it is.
	Keep bool
}

// Simulate sets up the system the day runs against (cfg.URL, or a server
// and a mirror it starts in-process, or as child processes with
// setup.Faults), runs the day and tears down what it started. Progress
// goes to stderr.
func Simulate(ctx context.Context, cfg Config, setup Setup, stderr io.Writer) (Result, error) {
	dir, err := os.MkdirTemp("", "invsync-simulate-")
	if err != nil {
		return Result{}, fmt.Errorf("creating a temporary directory: %w", err)
	}
	if setup.Keep {
		fmt.Fprintf(stderr, "invsync simulate: keeping %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	cfg.Progress, cfg.WorkDir = stderr, filepath.Join(dir, "sim")
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var stop func()
	switch {
	case cfg.URL != "":
		if err := discoverCluster(ctx, &cfg); err != nil {
			return Result{}, err
		}
		stop, err = StartMirror(ctx, &cfg, dir, log)
	case setup.Faults:
		stop, err = startChildren(ctx, &cfg, dir, stderr)
	default:
		stop, err = startInProcess(ctx, &cfg, dir, log)
	}
	if err != nil {
		return Result{}, err
	}
	defer stop()
	return Run(ctx, cfg)
}

// serveOptions are the server of a simulation: loopback ports chosen by
// the OS, the embedded broker in this process, no rate limit (the whole
// fleet is one machine), reconciliation snapshots every 15 simulated
// minutes.
func serveOptions(dir string, speed float64, log *slog.Logger) server.Options {
	o := server.DefaultOptions()
	o.DataDir, o.HTTPAddr, o.EmbeddedKafkaAddr, o.EmbeddedInProcess = filepath.Join(dir, "serve"), "127.0.0.1:0", "127.0.0.1:0", true
	o.LedgerWindow, o.MaxScanAge = 7*24*time.Hour, 30*24*time.Hour
	o.SnapshotInterval, o.ReconciliationGrace = reportInterval(speed), 2*time.Minute
	o.LogLevel, o.Logger, o.AdminToken, o.RateLimit = "warn", log, "sim-"+randomHex(24), 0
	return o
}

// reportInterval is 15 simulated minutes in real time (at least a second).
func reportInterval(speed float64) time.Duration {
	return max(time.Second, time.Duration(float64(ReconcileEvery)/speed).Round(time.Second))
}

// startInProcess starts serve (and its embedded broker) and a mirror in
// this process.
func startInProcess(ctx context.Context, cfg *Config, dir string, log *slog.Logger) (func(), error) {
	sc := serveOptions(dir, cfg.Speed, log)
	srv, err := server.New(sc)
	if err != nil {
		return nil, fmt.Errorf("starting serve: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	stopServe := func() {
		_ = srv.Shutdown(context.Background())
		if err := <-done; err != nil {
			log.Warn("serve stopped with an error", "err", err)
		}
	}
	brokers, err := srv.Brokers(ctx)
	if err != nil {
		stopServe()
		return nil, fmt.Errorf("starting serve: %w", err)
	}
	cfg.URL, cfg.AdminToken = srv.URL(), sc.AdminToken
	cfg.Brokers, cfg.TopicPrefix = brokers, sc.TopicPrefix
	stopMirror, err := StartMirror(ctx, cfg, dir, log)
	if err != nil {
		stopServe()
		return nil, err
	}
	return func() { stopMirror(); stopServe() }, nil
}

// StartMirror runs a mirror in this process on cfg's Kafka, reporting to
// cfg.URL with a cloud token of its own, in dir; it sets cfg.MirrorDB.
// The returned func stops it.
func StartMirror(ctx context.Context, cfg *Config, dir string, log *slog.Logger) (func(), error) {
	token, err := CreateToken(ctx, cfg.URL, cfg.AdminToken, cfg.IDPrefix+"sim-mirror", "cloud", []string{"*"})
	if err != nil {
		return nil, fmt.Errorf("creating the mirror's token: %w", err)
	}
	cfg.MirrorDB = filepath.Join(dir, "mirror", "mirror.db")
	m, err := mirror.New(mirror.Config{Brokers: cfg.Brokers, KafkaOpts: cfg.KafkaOpts, TopicPrefix: cfg.TopicPrefix,
		SQLURL: "sqlite://" + cfg.MirrorDB, URL: cfg.URL, Token: token, ReportInterval: reportInterval(cfg.Speed),
		RefreshInterval: time.Second, ProgressInterval: time.Hour, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("starting the mirror: %w", err)
	}
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(mctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			log.Warn("the mirror stopped with an error", "err", err)
		}
		_ = m.Close()
	}, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// discoverCluster fills the brokers and topic prefix not given on the
// command line from GET /v1/cluster (an admin token may read it).
func discoverCluster(ctx context.Context, cfg *Config) error {
	if len(cfg.Brokers) > 0 && cfg.TopicPrefix != "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(cfg.URL, "/")+"/v1/cluster", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+cfg.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("asking %s for its Kafka (GET /v1/cluster): %w; give --brokers and --topic-prefix", cfg.URL, err)
	}
	defer resp.Body.Close()
	var info ingest.ClusterInfo
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("asking %s for its Kafka (GET /v1/cluster): %s; give --brokers and --topic-prefix", cfg.URL, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || len(info.Brokers) == 0 {
		return fmt.Errorf("asking %s for its Kafka (GET /v1/cluster): no brokers in the answer (%v); give --brokers and --topic-prefix", cfg.URL, err)
	}
	if len(cfg.Brokers) == 0 {
		cfg.Brokers = info.Brokers
	}
	if cfg.TopicPrefix == "" {
		cfg.TopicPrefix = info.TopicPrefix
	}
	return nil
}
