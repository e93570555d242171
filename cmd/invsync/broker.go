package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/invsync/invsync/pipeline/embedded"
	"github.com/invsync/invsync/server"
)

// runBroker runs the embedded broker in a process of its own: the one
// `invsync serve` starts and supervises (--supervised), or one started by
// hand for several `invsync serve --brokers ADDR` to share. `invsync broker
// stop` stops the one running on a data dir.
func runBroker(args []string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "stop" {
		return runBrokerStop(args[1:], stderr)
	}
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string {
		if v := os.Getenv(name); v != "" {
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
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), help("broker"))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	o := server.BrokerOptions{DataDir: *dataDir, Addr: *addr, NoFsync: *noFsync, Partitions: *partitions,
		Supervised: *supervised, OrphanTimeout: *orphan}
	if err := o.Validate(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, "invsync broker:", line)
		}
		return 2
	}
	if *saslMech != "" || *saslUser != "" {
		o.SASL = &embedded.SASLUser{Mechanism: strings.ToUpper(*saslMech), User: *saslUser, Password: os.Getenv("INVSYNC_KAFKA_SASL_PASSWORD")}
	}
	o.Logger = newLogger(stderr, *logLevel, *logFormat)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := server.RunBroker(ctx, o); err != nil {
		fmt.Fprintln(stderr, "invsync broker:", err)
		return 1
	}
	return 0
}

// runBrokerStop stops the broker running on a data dir.
func runBrokerStop(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("broker stop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", envOr("INVSYNC_DATA_DIR", "./data"), "data dir of the broker to stop (INVSYNC_DATA_DIR)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	running, err := server.StopBroker(*dataDir, 30*time.Second)
	switch {
	case err != nil:
		fmt.Fprintln(stderr, "invsync broker stop:", err)
		return 1
	case !running:
		fmt.Fprintf(stderr, "invsync broker stop: no broker is running on %s\n", *dataDir)
		return 0
	}
	fmt.Fprintf(stderr, "invsync broker stop: stopped the broker of %s\n", *dataDir)
	return 0
}
