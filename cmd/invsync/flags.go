package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/invsync/invsync/internal/cliflag"
)

// parseSpecs parses args against specs, each flag falling back to its
// environment variable, then to its default (the flag wins); extra
// arguments are an error. --help prints the command's help and specs to
// out.
func parseSpecs(command string, specs []cliflag.Spec, args []string, getenv func(string) string, out io.Writer) (*cliflag.Values, error) {
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	fs.SetOutput(out)
	v := cliflag.Bind(fs, specs, getenv)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), help(command))
		cliflag.PrintDefaults(fs.Output(), specs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags take the form --name=value)", fs.Arg(0))
	}
	return v, nil
}

// parseCommand parses args against specs as parseSpecs does, then makes
// the command's configuration from the values with configure, whose
// problems are reported one a line (invalid).
func parseCommand[C any](command string, specs []cliflag.Spec, args []string, getenv func(string) string, out io.Writer,
	configure func(*cliflag.Values) (C, error)) (C, error) {
	var zero C
	v, err := parseSpecs(command, specs, args, getenv, out)
	if err != nil {
		return zero, err
	}
	c, err := configure(v)
	if err != nil {
		return zero, invalid(command, err)
	}
	return c, nil
}

// invalid reports the problems of a command's configuration (err joins
// them), one a line.
func invalid(command string, err error) error {
	var msgs []string
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			msgs = append(msgs, e.Error())
		}
	} else {
		msgs = []string{err.Error()}
	}
	return fmt.Errorf("invalid configuration (see invsync %s --help):\n  %w", command, errors.New(strings.Join(msgs, "\n  ")))
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// commandFlags is the flag set of command (a subcommand such as "bench"):
// errors and --help go to stderr, --help printing the command's help text
// and the flags' defaults.
func commandFlags(command string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), help(command))
		fs.PrintDefaults()
	}
	return fs
}

// usageFailed is the exit code of a command whose arguments did not parse
// or validate: 0 for --help, 2 otherwise, with the problem printed to
// stderr after the command's name.
func usageFailed(command string, err error, stderr io.Writer) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, "invsync "+command+":", err)
	return 2
}

// configFailed is the exit code of a command whose flags parsed but do not
// make a configuration: 2, each problem (a line of err) printed to stderr
// after the command's name.
func configFailed(command string, err error, stderr io.Writer) int {
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintln(stderr, "invsync "+command+":", line)
	}
	return 2
}

// untilSignal is the context a command runs under: done on SIGINT or
// SIGTERM.
func untilSignal() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// parseFlags parses args with fs, then makes the command's configuration
// with configure. When either fails, ok is false and code is the exit
// code (parseFailed, configFailed).
func parseFlags[C any](command string, fs *flag.FlagSet, args []string, configure func() (C, error), stderr io.Writer) (c C, code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		return c, parseFailed(err), false
	}
	c, err := configure()
	if err != nil {
		var zero C
		return zero, configFailed(command, err, stderr), false
	}
	return c, 0, true
}

// parseFailed is the exit code of a flag set's Parse error: 0 for --help,
// 2 otherwise (the flag package has printed the problem).
func parseFailed(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// helpTexts are the commands' help, help/<command>.txt.
//
//go:embed help/*.txt
var helpTexts embed.FS

// help is the help text of command.
func help(command string) string {
	b, err := helpTexts.ReadFile("help/" + command + ".txt")
	if err != nil {
		panic("invsync: no help for " + command) // a file missing from help/: a build mistake
	}
	return string(b)
}
