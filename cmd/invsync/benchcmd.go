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
		prof, err := startCPUProfile(c.CPUProfile + ".preload")
		if err != nil {
			fmt.Fprintln(stderr, "invsync bench: --cpuprofile:", err)
			return 2
		}
		defer func() { prof.stop() }()
		cfg.AfterPreload = func() {
			if err := prof.stop(); err != nil {
				fmt.Fprintln(stderr, "invsync bench: --cpuprofile:", err)
			}
			if prof, err = startCPUProfile(c.CPUProfile); err != nil {
				fmt.Fprintln(stderr, "invsync bench: --cpuprofile:", err)
			}
		}
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

// cpuProfile is a CPU profile being written to a file.
type cpuProfile struct{ f *os.File }

// startCPUProfile starts profiling the process's CPU into a new file at path.
func startCPUProfile(path string) (*cpuProfile, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return &cpuProfile{f}, nil
}

// stop ends the profile and closes its file; a nil or stopped profile does
// nothing.
func (p *cpuProfile) stop() error {
	if p == nil || p.f == nil {
		return nil
	}
	pprof.StopCPUProfile()
	err := p.f.Close()
	p.f = nil
	return err
}
