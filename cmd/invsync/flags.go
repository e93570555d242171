package main

import (
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/invsync/invsync/server"
)

// flagSpec is one flag with its environment variable (may be empty),
// default and help. A default of "true" or "false" makes a boolean flag.
type flagSpec struct {
	name, env, def, help string
}

// kafkaSecurityFlags are the flags every command that talks to Kafka takes;
// the SASL password comes only from INVSYNC_KAFKA_SASL_PASSWORD.
var kafkaSecurityFlags = []flagSpec{
	{"kafka-tls", "INVSYNC_KAFKA_TLS", "false", "connect to Kafka over TLS"},
	{"kafka-tls-ca", "INVSYNC_KAFKA_TLS_CA", "", "PEM file of the CA that signed the brokers' certificates (default: the system's; implies --kafka-tls)"},
	{"kafka-sasl-mechanism", "INVSYNC_KAFKA_SASL_MECHANISM", "", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; the password comes from INVSYNC_KAFKA_SASL_PASSWORD only (never a flag). Without --brokers the embedded broker then requires this user"},
	{"kafka-sasl-user", "INVSYNC_KAFKA_SASL_USER", "", "SASL user name"},
}

// parseSpecs parses args against specs, each flag falling back to its
// environment variable, then to its default (the flag wins). It returns
// the flag set and the value of each flag, trimmed; extra arguments are an
// error. usage prints the help, to out.
func parseSpecs(name string, specs []flagSpec, args []string, getenv func(string) string, out io.Writer, usage func(io.Writer)) (*flag.FlagSet, func(string) string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	vals := map[string]*string{}
	for _, f := range specs {
		v := f.def
		if e := getenv(f.env); f.env != "" && e != "" {
			v = e
		}
		vals[f.name] = &v
		if f.def == "true" || f.def == "false" {
			// A boolean flag may be given bare (--name) or as --name=false.
			fs.Var((*boolString)(&v), f.name, f.help)
		} else {
			fs.StringVar(&v, f.name, v, f.help)
		}
	}
	fs.Usage = func() { usage(fs.Output()) }
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if fs.NArg() > 0 {
		return nil, nil, fmt.Errorf("unexpected argument %q (flags take the form --name=value)", fs.Arg(0))
	}
	return fs, func(name string) string { return strings.TrimSpace(*vals[name]) }, nil
}

// printSpecs writes the flags' help, each with its variable and default.
func printSpecs(w io.Writer, specs []flagSpec) {
	for _, f := range specs {
		def, env := f.def, ""
		if def == "" {
			def = `""`
		}
		if f.env != "" {
			env = f.env + ", "
		}
		fmt.Fprintf(w, "  --%s  (%sdefault %s)\n      %s\n", f.name, env, def, f.help)
	}
}

// boolString is a string flag that may be given bare, like a bool flag;
// the value is validated with the others.
type boolString string

func (b *boolString) String() string     { return string(*b) }
func (b *boolString) Set(v string) error { *b = boolString(v); return nil }
func (b *boolString) IsBoolFlag() bool   { return true }

// invalid joins the problems of a command's configuration, one a line.
func invalid(command string, errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return fmt.Errorf("invalid configuration (see invsync %s --help):\n  %w", command, errors.New(strings.Join(msgs, "\n  ")))
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// values converts flag values, keeping the problems of those that do not
// parse (a destination is only set by a value that parses).
type values struct {
	get  func(string) string
	errs []error
}

func (v *values) bad(name, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("--%s: %s", name, fmt.Sprintf(format, args...)))
}

// list splits a comma-separated flag, dropping empty entries.
func (v *values) list(name string) []string {
	var out []string
	for _, s := range strings.Split(v.get(name), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (v *values) bool(name string, dst *bool) {
	if b, err := strconv.ParseBool(v.get(name)); err != nil {
		v.bad(name, "%q is not true or false", v.get(name))
	} else {
		*dst = b
	}
}

func (v *values) int(name, want string, dst *int) {
	if n, err := strconv.Atoi(v.get(name)); err != nil {
		v.bad(name, "%q is not %s", v.get(name), want)
	} else {
		*dst = n
	}
}

func (v *values) float(name, want string, dst *float64) {
	if f, err := strconv.ParseFloat(v.get(name), 64); err != nil {
		v.bad(name, "%q is not %s", v.get(name), want)
	} else {
		*dst = f
	}
}

func (v *values) duration(name, want string, dst *time.Duration) {
	if d, err := time.ParseDuration(v.get(name)); err != nil {
		v.bad(name, "%q is not %s", v.get(name), want)
	} else {
		*dst = d
	}
}

// kafka converts the Kafka security flags.
func (v *values) kafka(getenv func(string) string) server.KafkaSecurity {
	k := server.KafkaSecurity{Mechanism: strings.ToUpper(v.get("kafka-sasl-mechanism")), User: v.get("kafka-sasl-user"),
		Password: getenv("INVSYNC_KAFKA_SASL_PASSWORD")}
	var errs []string
	k.Opts, errs = server.KafkaSecurityOpts(v.get("kafka-tls"), v.get("kafka-tls-ca"), k.Mechanism, k.User, k.Password)
	for _, e := range errs {
		v.errs = append(v.errs, errors.New(e))
	}
	return k
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
