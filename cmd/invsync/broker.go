package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

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
	fs := commandFlags("broker", stderr)
	options := server.BrokerFlags(fs, os.Getenv)
	o, code, ok := parseFlags("broker", fs, args, func() (server.BrokerOptions, error) {
		o, logLevel, logFormat, err := options()
		if err == nil {
			o.Logger = newLogger(stderr, logLevel, logFormat)
		}
		return o, err
	}, stderr)
	if !ok {
		return code
	}
	ctx, stop := untilSignal()
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
		return parseFailed(err)
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
