package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/invsync/invsync/bench"
)

// runBench drives a pipeline with an open-loop scanner-fleet load: a running
// one (--url and --brokers), or one it starts in-process in a temporary
// data dir (on the embedded broker, or on --brokers).
func runBench(args []string, stdout, stderr io.Writer) int {
	fs := commandFlags("bench", stderr)
	c, code, ok := parseFlags("bench", fs, args, bench.Flags(fs, os.Getenv), stderr)
	if !ok {
		return code
	}
	cfg := c.Config
	ctx, stop := untilSignal()
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
