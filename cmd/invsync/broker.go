package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/invsync/invsync/pipeline"
)

// runBroker runs the embedded broker alone until SIGINT/SIGTERM, so several
// `invsync serve --brokers ADDR` processes can share it on one machine
// without a Kafka installation.
func runBroker(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		return def
	}
	dataDir := fs.String("data-dir", env("INVSYNC_DATA_DIR", "./data"), "directory of the broker's log (kept in <data-dir>/kafka) (INVSYNC_DATA_DIR)")
	addr := fs.String("embedded-kafka-addr", env("INVSYNC_EMBEDDED_KAFKA_ADDR", "127.0.0.1:9092"), "host:port to listen on (INVSYNC_EMBEDDED_KAFKA_ADDR)")
	noFsync := fs.Bool("embedded-kafka-no-fsync", env("INVSYNC_EMBEDDED_KAFKA_NO_FSYNC", "false") == "true", "skip the fsync per produce (INVSYNC_EMBEDDED_KAFKA_NO_FSYNC)")
	partitions := fs.Int("partitions", 12, "default partitions of auto-created topics (invsync serve creates its own with --partitions)")
	logLevel := fs.String("log-level", env("INVSYNC_LOG_LEVEL", "info"), "debug, info, warn or error (INVSYNC_LOG_LEVEL)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: invsync broker [flags]

Runs only the embedded Kafka broker (franz-go's kfake with disk persistence),
so several "invsync serve --brokers ADDR" processes can share one broker on a
machine without a Kafka installation, for demos and tests. For production use
a real Kafka cluster.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if _, _, err := net.SplitHostPort(*addr); err != nil {
		fmt.Fprintf(stderr, "invsync broker: --embedded-kafka-addr %q is not host:port\n", *addr)
		return 2
	}
	if *partitions < 1 {
		fmt.Fprintf(stderr, "invsync broker: --partitions %s must be at least 1\n", strconv.Itoa(*partitions))
		return 2
	}
	log := newLogger(stderr, *logLevel, "text")
	b, err := pipeline.StartEmbedded(pipeline.EmbeddedConfig{Addr: *addr, DataDir: filepath.Join(*dataDir, "kafka"),
		NoSync: *noFsync, Partitions: int32(*partitions), Logger: log})
	if err != nil {
		log.Error("invsync broker could not start", "err", err)
		return 1
	}
	log.Info("embedded Kafka broker listening", "addr", b.Addr(), "fsync", !*noFsync, "data_dir", *dataDir)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Info("stopping broker")
	b.Close()
	return 0
}
