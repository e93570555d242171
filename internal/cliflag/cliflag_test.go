package cliflag

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestBindFallsBackToEnvThenDefault(t *testing.T) {
	specs := []Spec{
		{Name: "a", Env: "A", Default: "da", Help: "a"},
		{Name: "b", Env: "B", Default: "db", Help: "b"},
		{Name: "c", Env: "", Default: "dc", Help: "c"},
		{Name: "on", Env: "ON", Default: "false", Help: "a boolean"},
	}
	env := map[string]string{"A": "ea", "B": "eb", "": "never"}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	v := Bind(fs, specs, func(k string) string { return env[k] })
	if err := fs.Parse([]string{"--b", " fb ", "--on"}); err != nil {
		t.Fatal(err)
	}
	if got := []string{v.Get("a"), v.Get("b"), v.Get("c"), v.Get("on")}; strings.Join(got, ",") != "ea,fb,dc,true" {
		t.Errorf("values %q, want env, flag (trimmed), default, bare boolean", got)
	}
	if !v.Set("b") || v.Set("a") {
		t.Errorf("Set: b was given, a was not")
	}
}

func TestConversionsKeepEveryProblem(t *testing.T) {
	specs := []Spec{{Name: "n", Default: "x"}, {Name: "d", Default: "5s"}, {Name: "f", Default: "1.5"}, {Name: "ok", Default: "maybe"}, {Name: "l", Default: " a, ,b "}}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	v := Bind(fs, specs, func(string) string { return "" })
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	n, d, f, ok := 7, time.Duration(0), 0.0, false
	v.Int("n", "a number", &n)
	v.Duration("d", "a duration", &d)
	v.Float("f", "a number", &f)
	v.Bool("ok", &ok)
	if n != 7 || d != 5*time.Second || f != 1.5 {
		t.Errorf("n %d (a bad value must leave it), d %v, f %v", n, d, f)
	}
	if l := v.List("l"); len(l) != 2 || l[0] != "a" || l[1] != "b" {
		t.Errorf("list %q", l)
	}
	if err := v.Err(); err == nil || err.Error() != "--n: \"x\" is not a number\n--ok: \"maybe\" is not true or false" {
		t.Errorf("problems: %v", err)
	}
}
