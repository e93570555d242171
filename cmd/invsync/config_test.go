package main

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/invsync/invsync/server"
)

func TestParseServeDefaultsEnvAndFlags(t *testing.T) {
	env := map[string]string{"INVSYNC_PARTITIONS": "6", "INVSYNC_HTTP_ADDR": "127.0.0.1:9000", "INVSYNC_BROKERS": "a:1, b:2"}
	cfg, err := parseServe([]string{"--http-addr", "127.0.0.1:9100", "--embedded-kafka-no-fsync"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Partitions != 6 {
		t.Errorf("partitions from env: %d", cfg.Partitions)
	}
	if cfg.HTTPAddr != "127.0.0.1:9100" {
		t.Errorf("the flag must win over the env: %s", cfg.HTTPAddr)
	}
	if len(cfg.Brokers) != 2 || cfg.Brokers[1] != "b:2" {
		t.Errorf("brokers: %q", cfg.Brokers)
	}
	if !cfg.EmbeddedNoFsync {
		t.Errorf("a bare boolean flag means true")
	}
	if cfg.DataDir != "./data" || cfg.TopicPrefix != "invsync." || cfg.EmbeddedKafkaAddr != "127.0.0.1:9092" ||
		cfg.LedgerWindow != 7*24*time.Hour || cfg.SessionTimeout != 10*time.Second || cfg.Group != "invsync-processors" ||
		cfg.MaxInFlight != 100000 || cfg.HeapLimitMiB != 160 {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestParseServeReportsEveryProblemAtOnce(t *testing.T) {
	_, err := parseServe([]string{"--partitions", "0", "--http-addr", "nope", "--brokers", "x", "--topic-prefix", "bad prefix",
		"--ledger-window", "-1h", "--log-level", "loud", "--embedded-kafka-no-fsync=maybe", "--advertise-url", "ftp://x",
		"--max-in-flight", "10", "--heap-limit", "12", "--rate-limit", "-1"},
		func(string) string { return "" })
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"--partitions", "--http-addr", "--brokers", "--topic-prefix", "--ledger-window", "--log-level",
		"--embedded-kafka-no-fsync", "--advertise-url", "--max-in-flight", "--heap-limit", "--rate-limit"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
}

func TestParseServeRejectsStrayArguments(t *testing.T) {
	if _, err := parseServe([]string{"extra"}, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "extra") {
		t.Errorf("want an error naming the argument, got %v", err)
	}
}

func TestParseServeSnapshotInterval(t *testing.T) {
	none := func(string) string { return "" }
	for _, c := range []struct {
		args []string
		env  string
		want time.Duration
	}{
		{nil, "", 15 * time.Minute},
		{nil, "1h", time.Hour},
		{[]string{"--snapshot-interval", "2s"}, "1h", 2 * time.Second},
		{[]string{"--snapshot-interval=1s"}, "", time.Second},
		{[]string{"--snapshot-interval", "0"}, "", 0},
		{nil, "0s", 0},
	} {
		getenv := none
		if c.env != "" {
			getenv = func(k string) string {
				if k == "INVSYNC_SNAPSHOT_INTERVAL" {
					return c.env
				}
				return ""
			}
		}
		cfg, err := parseServe(c.args, getenv)
		if err != nil {
			t.Errorf("%q env %q: %v", c.args, c.env, err)
			continue
		}
		if cfg.SnapshotInterval != c.want {
			t.Errorf("%q env %q: snapshot interval %v, want %v", c.args, c.env, cfg.SnapshotInterval, c.want)
		}
	}
	for _, v := range []string{"999ms", "-15m", "15", "often", ""} {
		_, err := parseServe([]string{"--snapshot-interval=" + v}, none)
		if err == nil || !strings.Contains(err.Error(), "--snapshot-interval") || !strings.Contains(err.Error(), "at least 1s") {
			t.Errorf("--snapshot-interval=%q: want an error naming the flag and the bound, got %v", v, err)
		}
	}
}

// TestServeFlagDefaultsAreTheServerDefaults: the help's defaults and
// server.DefaultOptions are one set of values.
func TestServeFlagDefaultsAreTheServerDefaults(t *testing.T) {
	got, err := parseServe(nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if want := server.DefaultOptions(); !reflect.DeepEqual(got, want) {
		t.Errorf("serve's flag defaults:\n%+v\nserver.DefaultOptions:\n%+v", got, want)
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
