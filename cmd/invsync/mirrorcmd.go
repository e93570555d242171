package main

import (
	"io"
	"os"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/internal/cliflag"
	"github.com/invsync/invsync/mirror"
	"github.com/invsync/invsync/server"
)

// runMirror runs `invsync mirror`: flags and environment, then the mirror
// until SIGINT or SIGTERM. Exit codes: 0 stopped by a signal, 1 failed, 2
// bad usage.
func runMirror(args []string, stdout, stderr io.Writer) int {
	cmd, err := parseMirror(args, os.Getenv, stdout)
	if err != nil {
		return usageFailed("mirror", err, stderr)
	}
	ctx, stop := untilSignal()
	defer stop()
	cmd.Config.Logger = newLogger(stderr, cmd.LogLevel, cmd.LogFormat)
	if err := mirror.Serve(ctx, cmd.Config, cmd.Serve); err != nil {
		cmd.Config.Logger.Error("invsync mirror stopped with an error", "err", err)
		return 1
	}
	return 0
}

// parseMirror parses args (after "mirror") with environment fallbacks and
// validates the result, reporting every problem at once.
func parseMirror(args []string, getenv func(string) string, usageOut io.Writer) (mirror.Command, error) {
	return parseCommand("mirror", append(mirror.Flags, server.KafkaSecurityFlags...), args, getenv, usageOut,
		func(v *cliflag.Values) (mirror.Command, error) {
			return mirror.ConfigureCommand(v, func() []kgo.Opt { return server.KafkaSecurityFromFlags(v, getenv).Opts })
		})
}
