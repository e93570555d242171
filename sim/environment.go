package main

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
	"github.com/invsync/invsync/sim"
)

// simulate sets up the system the command drives (in-process, child
// processes, or --url), runs the day and tears down what it started.
func simulate(ctx context.Context, c simulateCommand, stderr io.Writer) (sim.Result, error) {
	dir, err := os.MkdirTemp("", "invsync-simulate-")
	if err != nil {
		return sim.Result{}, fmt.Errorf("creating a temporary directory: %w", err)
	}
	if c.keep {
		fmt.Fprintf(stderr, "invsync simulate: keeping %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	cfg := c.cfg
	cfg.Progress, cfg.WorkDir = stderr, filepath.Join(dir, "sim")
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var stop func()
	switch {
	case c.url != "":
		cfg.URL = c.url
		if err := discoverCluster(ctx, &cfg); err != nil {
			return sim.Result{}, err
		}
		stop, err = startSimMirror(ctx, &cfg, dir, log)
	case c.faults:
		stop, err = startSimChildren(ctx, &cfg, dir, stderr)
	default:
		stop, err = startSimInProcess(ctx, &cfg, dir, log)
	}
	if err != nil {
		return sim.Result{}, err
	}
	defer stop()
	return sim.Run(ctx, cfg)
}

// simServeConfig is the serve of a simulation: loopback ports chosen by
// the OS, no rate limit (the whole fleet is one machine), reconciliation
// snapshots every 15 simulated minutes.
func simServeConfig(dir string, speed float64) serveConfig {
	return serveConfig{
		DataDir: filepath.Join(dir, "serve"), HTTPAddr: "127.0.0.1:0", EmbeddedKafkaAddr: "127.0.0.1:0",
		EmbeddedInProcess: true, Partitions: 12, TopicPrefix: "invsync.", Group: "invsync-processors",
		SessionTimeout: 10 * time.Second, LedgerWindow: 7 * 24 * time.Hour, MaxScanAge: 30 * 24 * time.Hour,
		SnapshotInterval:    reportInterval(speed),
		ReconciliationGrace: 2 * time.Minute,
		LogLevel:            "warn", LogFormat: "text", AdminToken: "sim-" + randomHex(24),
	}
}

// reportInterval is 15 simulated minutes in real time (at least a second).
func reportInterval(speed float64) time.Duration {
	return max(time.Second, time.Duration(float64(sim.ReconcileEvery)/speed).Round(time.Second))
}

// startSimInProcess starts serve (and its embedded broker) and a mirror
// in this process.
func startSimInProcess(ctx context.Context, cfg *sim.Config, dir string, log *slog.Logger) (func(), error) {
	sc := simServeConfig(dir, cfg.Speed)
	ctx, cancel := context.WithCancel(ctx)
	srv, err := start(ctx, sc, log)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("starting serve: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.run(ctx) }()
	stopServe := func() {
		cancel()
		if err := <-done; err != nil {
			log.Warn("serve stopped with an error", "err", err)
		}
	}
	if err := srv.waitUp(ctx); err != nil {
		stopServe()
		return nil, fmt.Errorf("starting serve: %w", err)
	}
	cfg.URL, cfg.AdminToken = "http://"+srv.httpLn.Addr().String(), sc.AdminToken
	cfg.Brokers, cfg.TopicPrefix = srv.brokers, sc.TopicPrefix
	stopMirror, err := startSimMirror(ctx, cfg, dir, log)
	if err != nil {
		stopServe()
		return nil, err
	}
	return func() { stopMirror(); stopServe() }, nil
}

// startSimMirror runs a mirror in this process on cfg's Kafka, reporting
// to cfg.URL with a cloud token of its own, in dir.
func startSimMirror(ctx context.Context, cfg *sim.Config, dir string, log *slog.Logger) (func(), error) {
	token, err := sim.CreateToken(ctx, cfg.URL, cfg.AdminToken, cfg.IDPrefix+"sim-mirror", "cloud", []string{"*"})
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
func discoverCluster(ctx context.Context, cfg *sim.Config) error {
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
