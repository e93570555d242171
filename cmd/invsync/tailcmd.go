package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/invsync/invsync/pipeline"
)

// runTail prints the records of one invsync topic as JSON, one per line,
// read_committed: the way to watch decoded events with nothing but invsync.
func runTail(args []string, stdout, stderr io.Writer) int {
	fs := commandFlags("tail", stderr)
	config := pipeline.TailFlags(fs, os.Getenv)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), help("tail"), strings.Join(pipeline.TailTopics(), ", "))
		fs.PrintDefaults()
	}
	// The topic may come before the flags, as in the example.
	var topic string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		topic, args = args[0], args[1:]
	}
	cfg, code, ok := parseFlags("tail", fs, args, func() (pipeline.TailConfig, error) { return config(topic) }, stderr)
	if !ok {
		return code
	}
	ctx, stop := untilSignal()
	defer stop()
	if err := pipeline.Tail(ctx, cfg, stdout); err != nil && ctx.Err() == nil {
		fmt.Fprintln(stderr, "invsync tail:", err)
		return 1
	}
	return 0
}
