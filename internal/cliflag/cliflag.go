// Package cliflag binds a command's flags to their environment variables
// and converts their values, keeping every problem to report at once. The
// packages whose options the flags fill declare them; cmd/invsync creates
// the flag set, parses it and prints the errors.
package cliflag

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Spec is one flag with its environment variable (may be empty), default
// and help. A default of "true" or "false" makes a boolean flag.
type Spec struct {
	Name, Env, Default, Help string
}

// Values holds the flags bound by Bind and the problems found converting
// them (a destination is only set by a value that parses).
type Values struct {
	FlagSet *flag.FlagSet
	vals    map[string]*string
	errs    []error
}

// Bind declares specs on fs, each flag falling back to its environment
// variable, then to its default (the flag wins once fs is parsed).
func Bind(fs *flag.FlagSet, specs []Spec, getenv func(string) string) *Values {
	v := &Values{FlagSet: fs, vals: map[string]*string{}}
	for _, f := range specs {
		s := f.Default
		if e := getenv(f.Env); f.Env != "" && e != "" {
			s = e
		}
		v.vals[f.Name] = &s
		if f.Default == "true" || f.Default == "false" {
			// A boolean flag may be given bare (--name) or as --name=false.
			fs.Var((*boolString)(&s), f.Name, f.Help)
		} else {
			fs.StringVar(&s, f.Name, s, f.Help)
		}
	}
	return v
}

// PrintDefaults writes the flags' help, each with its variable and default.
func PrintDefaults(w io.Writer, specs []Spec) {
	for _, f := range specs {
		def, env := f.Default, ""
		if def == "" {
			def = `""`
		}
		if f.Env != "" {
			env = f.Env + ", "
		}
		fmt.Fprintf(w, "  --%s  (%sdefault %s)\n      %s\n", f.Name, env, def, f.Help)
	}
}

// boolString is a string flag that may be given bare, like a bool flag;
// the value is validated with the others.
type boolString string

func (b *boolString) String() string     { return string(*b) }
func (b *boolString) Set(v string) error { *b = boolString(v); return nil }
func (b *boolString) IsBoolFlag() bool   { return true }

// Get is the value of flag name, trimmed.
func (v *Values) Get(name string) string { return strings.TrimSpace(*v.vals[name]) }

// Set reports whether the command line set flag name.
func (v *Values) Set(name string) bool {
	set := false
	v.FlagSet.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// Bad records a problem with flag name.
func (v *Values) Bad(name, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("--%s: %s", name, fmt.Sprintf(format, args...)))
}

// Add records problems found otherwise (a Validate's).
func (v *Values) Add(errs ...error) { v.errs = append(v.errs, errs...) }

// Problems are the problems recorded so far.
func (v *Values) Problems() []error { return v.errs }

// Err joins the problems recorded, or is nil.
func (v *Values) Err() error { return errors.Join(v.errs...) }

// List splits a comma-separated flag, dropping empty entries.
func (v *Values) List(name string) []string { return List(v.Get(name)) }

// List splits a comma-separated value, dropping empty entries.
func List(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// Bool converts flag name into dst.
func (v *Values) Bool(name string, dst *bool) {
	if b, err := strconv.ParseBool(v.Get(name)); err != nil {
		v.Bad(name, "%q is not true or false", v.Get(name))
	} else {
		*dst = b
	}
}

// Int converts flag name into dst; want describes a good value.
func (v *Values) Int(name, want string, dst *int) {
	if n, err := strconv.Atoi(v.Get(name)); err != nil {
		v.Bad(name, "%q is not %s", v.Get(name), want)
	} else {
		*dst = n
	}
}

// Float converts flag name into dst; want describes a good value.
func (v *Values) Float(name, want string, dst *float64) {
	if f, err := strconv.ParseFloat(v.Get(name), 64); err != nil {
		v.Bad(name, "%q is not %s", v.Get(name), want)
	} else {
		*dst = f
	}
}

// Duration converts flag name into dst; want describes a good value.
func (v *Values) Duration(name, want string, dst *time.Duration) {
	if d, err := time.ParseDuration(v.Get(name)); err != nil {
		v.Bad(name, "%q is not %s", v.Get(name), want)
	} else {
		*dst = d
	}
}
