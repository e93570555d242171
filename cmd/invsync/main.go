// Command invsync keeps warehouse inventory in sync between the warehouse
// floor (scanners) and the cloud order system through Kafka.
//
//	invsync serve      run the service (see invsync serve --help)
//	invsync broker     run only the embedded Kafka broker
//	invsync version    print the version
package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/invsync/invsync/server"
	"github.com/invsync/invsync/telemetry"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "serve":
		cfg, err := parseServe(args[1:], os.Getenv)
		if err != nil {
			return usageFailed("serve", err, stderr)
		}
		ctx, stop := untilSignal()
		defer stop()
		cfg.Logger = newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
		tuneGC(cfg.HeapLimitMiB, os.Getenv, cfg.Logger)
		s, err := server.New(cfg)
		if err == nil {
			err = s.Run(ctx)
		}
		if err != nil {
			// One line, naming the cause and what to do.
			fmt.Fprintln(stderr, "invsync serve:", oneLine(err))
			return 1
		}
		return 0
	case "broker":
		return runBroker(args[1:], stderr)
	case "bench":
		return runBench(args[1:], stdout, stderr)
	case "tail":
		return runTail(args[1:], stdout, stderr)
	case "token":
		return runToken(args[1:], stdout, stderr)
	case "scanner":
		return runScanner(args[1:], os.Stdin, stdout, stderr)
	case "mirror":
		return runMirror(args[1:], stdout, stderr)
	case "simulate":
		return runSimulate(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "invsync", versionString())
		return 0
	case "help", "--help", "-h":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "invsync: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
}

// oneLine flattens a (possibly joined) error to one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

func usage(w io.Writer) {
	fmt.Fprint(w, help("invsync"))
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", ""
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
		if rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			return "dev-" + rev + dirty + " (" + bi.GoVersion + ")"
		}
		return bi.Main.Version + " (" + bi.GoVersion + ")"
	}
	return "dev"
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(telemetry.LogHandler(slog.NewJSONHandler(w, opts)))
	}
	return slog.New(telemetry.LogHandler(slog.NewTextHandler(w, opts)))
}

// tuneGC sets the Go heap's soft limit, unless GOMEMLIMIT does, and under
// that limit lets garbage grow to gcPercentUnderLimit % of the live heap
// before a collection, unless GOGC says otherwise. The live heap of serve
// is small and bounded (the in-flight set, the absent-key filter,
// batches); what grows under load is garbage. The default collector runs
// each time the heap doubles, which kept it at about a fifth of the CPU
// under load; the soft limit, not the percentage, then bounds the
// resident set (the limit plus Pebble's off-heap memory), and the
// collector works harder only near it (BENCHMARKS.md). It returns the
// limit and percentage it set (0 for either it left alone).
func tuneGC(mib int, getenv func(string) string, log *slog.Logger) (limitMiB, percent int) {
	if getenv("GOMEMLIMIT") != "" || mib <= 0 {
		return 0, 0
	}
	debug.SetMemoryLimit(int64(mib) << 20)
	limitMiB = mib
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercentUnderLimit)
		percent = gcPercentUnderLimit
	}
	log.Debug("garbage collector tuned", "heap_limit_mib", limitMiB, "gc_percent", percent)
	return limitMiB, percent
}

// gcPercentUnderLimit is serve's GOGC when it sets a heap limit.
const gcPercentUnderLimit = 400
