package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestUsageExitCodes: every command answers --help with 0 and its help,
// and bad flags or a configuration that does not hold with 2 and the
// problem after the command's name, starting nothing.
func TestUsageExitCodes(t *testing.T) {
	cases := []struct {
		args   []string
		code   int
		stderr string // what stderr contains
	}{
		{[]string{"serve", "stray"}, 2, "invsync serve: unexpected argument"},
		{[]string{"mirror", "--help"}, 0, ""},
		{[]string{"mirror", "--no-such-flag"}, 2, "invsync mirror: flag provided but not defined"},
		{[]string{"simulate", "--no-such-flag"}, 2, "invsync simulate: flag provided but not defined"},
		{[]string{"bench", "--help"}, 0, "Usage"},
		{[]string{"bench", "--no-such-flag"}, 2, "flag provided but not defined"},
		{[]string{"broker", "--help"}, 0, ""},
		{[]string{"tail", "--help"}, 0, ""},
		{[]string{"tail"}, 2, "invsync tail: "},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(c.args, &stdout, &stderr)
			if code != c.code || !strings.Contains(stderr.String(), c.stderr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr.String(), c.code, c.stderr)
			}
		})
	}
}
