package main

import (
	"strings"
	"testing"
)

func TestParseServeRejectsStrayArguments(t *testing.T) {
	if _, err := parseServe([]string{"extra"}, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "extra") {
		t.Errorf("want an error naming the argument, got %v", err)
	}
}

// TestParseServeListsProblemsUnderOneHeading: serve's problems come one a
// line under the heading that points at the help.
func TestParseServeListsProblemsUnderOneHeading(t *testing.T) {
	_, err := parseServe([]string{"--partitions", "0", "--log-level", "loud"}, func(string) string { return "" })
	if err == nil {
		t.Fatal("want an error")
	}
	lines := strings.Split(err.Error(), "\n")
	if lines[0] != "invalid configuration (see invsync serve --help):" || len(lines) != 3 ||
		!strings.HasPrefix(lines[1], "  --partitions: ") || !strings.HasPrefix(lines[2], "  --log-level: ") {
		t.Errorf("want the heading, then one problem a line:\n%v", err)
	}
}

// TestEveryCommandHasHelp: each command's help text is in help/, and its
// --help exits 0 (serve prints its help to the process's standard error).
func TestEveryCommandHasHelp(t *testing.T) {
	for _, name := range []string{"invsync", "serve", "mirror", "simulate", "bench", "broker", "tail", "token"} {
		if text := help(name); !strings.Contains(text, "invsync") || len(text) < 200 {
			t.Errorf("help(%q) = %q", name, text)
		}
		args := []string{name, "--help"}
		if name == "invsync" {
			args = []string{"help"}
		}
		var out, errOut strings.Builder
		if code := run(args, &out, &errOut); code != 0 {
			t.Errorf("invsync %v: exit %d", args, code)
		}
	}
}
