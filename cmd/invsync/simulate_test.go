package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

func TestSimulateFlags(t *testing.T) {
	env := func(string) string { return "" }
	_, err := parseSimulate([]string{"--warehouses=0", "--hours=abc", "--speed=100000", "--seed=-3", "--json=maybe",
		"--brokers=k:9092", "--items=9000", "--locations=10"}, env, io.Discard)
	if err == nil {
		t.Fatal("bad flags accepted")
	}
	for _, want := range []string{"--warehouses", "--hours", "--speed", "--seed", "--json", "--brokers", "--items"} {
		if !strings.Contains(err.Error(), want+":") {
			t.Errorf("the error does not name %s:\n%v", want, err)
		}
	}
	// Without --brokers the cluster is asked (GET /v1/cluster) at the start.
	if _, err := parseSimulate([]string{"--url=http://x:1", "--faults"}, env, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "--admin-token:") || strings.Contains(err.Error(), "--brokers:") || !strings.Contains(err.Error(), "--faults:") {
		t.Errorf("--url without a token, with --faults: %v", err)
	}
	var help bytes.Buffer
	if _, err := parseSimulate([]string{"--help"}, env, &help); !errors.Is(err, flag.ErrHelp) || !strings.Contains(help.String(), "last-write-wins") {
		t.Errorf("--help: %v\n%s", err, help.String())
	}
	c, err := parseSimulate([]string{"--url=http://x:1/", "--brokers=k:9092"}, func(k string) string {
		if k == "INVSYNC_ADMIN_TOKEN" {
			return "from-the-environment"
		}
		return ""
	}, io.Discard)
	if err != nil || c.cfg.AdminToken != "from-the-environment" || c.url != "http://x:1" || c.cfg.Seed != 1 || c.cfg.Warehouses != 8 ||
		!strings.HasPrefix(c.cfg.IDPrefix, "sim1-") {
		t.Errorf("defaults with --url: %+v, %v", c.cfg, err)
	}
}
