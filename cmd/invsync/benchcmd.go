package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/invsync/invsync/bench"
)

// runBench drives a pipeline with an open-loop scanner-fleet load: a running
// one (--url and --brokers), or one it starts in-process in a temporary
// data dir (on the embedded broker, or on --brokers).
func runBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	command := bench.Flags(fs, os.Getenv)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), help("bench"))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return parseFailed(err)
	}
	c, err := command()
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, "invsync bench:", line)
		}
		return 2
	}
	cfg := c.Config
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c.CPUProfile != "" {
		f, err := os.Create(c.CPUProfile)
		if err != nil {
			fmt.Fprintln(stderr, "invsync bench: --cpuprofile:", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "invsync bench: --cpuprofile:", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}
	if c.MemProfile != "" {
		cfg.AfterLoad = func() {
			f, err := os.Create(c.MemProfile)
			if err != nil {
				fmt.Fprintln(stderr, "invsync bench: --memprofile:", err)
				return
			}
			defer f.Close()
			if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
				fmt.Fprintln(stderr, "invsync bench: --memprofile:", err)
			}
		}
	}
	if err := bench.Drive(ctx, cfg, c.Drive, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "invsync bench:", err)
		return 1
	}
	return 0
}
