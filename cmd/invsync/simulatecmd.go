package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/invsync/invsync/sim"
)

// simulateFlags are the flags of `invsync simulate`.
var simulateFlags = []flagSpec{
	{"url", "INVSYNC_URL", "", "base URL of a running invsync to drive; empty starts an in-process serve (embedded broker) and mirror in a temporary directory"},
	{"admin-token", "INVSYNC_ADMIN_TOKEN", "", "admin token of --url (the simulator creates scanner and cloud tokens with it); prefer the environment variable"},
	{"brokers", "INVSYNC_BROKERS", "", "with --url: the cluster's Kafka seed brokers (the simulator runs its own mirror on them and reads the events topic); default: what GET /v1/cluster answers"},
	{"topic-prefix", "INVSYNC_TOPIC_PREFIX", "", "with --url: the cluster's topic prefix; default: what GET /v1/cluster answers"},
	{"seed", "", "1", "seed of the world and the day: the same seed gives the same truth and the same scans"},
	{"warehouses", "", "8", "warehouses"},
	{"scanners-per-warehouse", "", "4", "scanner devices in each warehouse"},
	{"locations", "", "200", "locations in each warehouse"},
	{"items", "", "150", "catalog items (a fifth class A, three tenths B, the rest C), each slotted in every warehouse"},
	{"hours", "", "24", "simulated hours"},
	{"speed", "", "360", "simulated seconds per real second (360: a day in 4 minutes)"},
	{"quiet", "", "false", "turn every disturbance off (shrinkage, damage, mis-keys, double counts, dead zones, clock errors, network faults): invsync must then be exact"},
	{"faults", "", "false", "kill -9 serve (twice) and the mirror (once) during the day and restart them; needs the in-process mode (no --url)"},
	{"json", "", "false", "print the result as one JSON object on the last line of standard output"},
	{"report", "", "", "directory to write a report to (report.md and SVG charts)"},
	{"id-prefix", "", "", "put before warehouse, order and allocation ids (default with --url: sim<seed>-<random>-, so runs on one cluster do not mix)"},
	{"keep", "", "false", "keep the temporary directory (serve's state, the mirror's database, the scanners' queues) and print where it is"},
}

// simulateCommand is `invsync simulate` parsed.
type simulateCommand struct {
	cfg    sim.Config
	url    string
	json   bool
	report string
	faults bool
	keep   bool
	args   []string
}

// runSimulate runs `invsync simulate`. Exit codes: 0 completed, 1 the run
// failed (what it had measured is printed), 2 bad usage.
func runSimulate(args []string, stdout, stderr io.Writer) int {
	cmd, err := parseSimulate(args, os.Getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "invsync simulate:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg := cmd.cfg
	cfg.URL = cmd.url
	res, err := sim.Simulate(ctx, cfg, sim.Setup{Faults: cmd.faults, Keep: cmd.keep}, stderr)
	if res.Seed != 0 || res.Warehouses != 0 {
		if werr := sim.WriteTable(stdout, res); werr != nil {
			fmt.Fprintln(stderr, "invsync simulate: writing the table:", werr)
		}
		if cmd.report != "" {
			if rerr := sim.WriteReport(cmd.report, res, "invsync simulate "+strings.Join(cmd.args, " ")); rerr != nil {
				fmt.Fprintln(stderr, "invsync simulate: writing the report:", rerr)
				if err == nil {
					err = rerr
				}
			} else {
				fmt.Fprintf(stderr, "invsync simulate: report written to %s\n", cmd.report)
			}
		}
		if cmd.json {
			line, _ := json.Marshal(res)
			fmt.Fprintln(stdout, string(line))
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "invsync simulate:", oneLine(err))
		return 1
	}
	return 0
}

// parseSimulate parses args (after "simulate") with environment
// fallbacks, reporting every problem at once.
func parseSimulate(args []string, getenv func(string) string, usageOut io.Writer) (simulateCommand, error) {
	fs, get, err := parseSpecs("simulate", simulateFlags, args, getenv, usageOut, simulateUsage)
	if err != nil {
		return simulateCommand{}, err
	}
	v := &values{get: get}
	c := simulateCommand{url: strings.TrimRight(get("url"), "/"), report: get("report"), args: args}
	var quiet bool
	v.bool("json", &c.json)
	v.bool("faults", &c.faults)
	v.bool("keep", &c.keep)
	v.bool("quiet", &quiet)
	seed, err := strconv.ParseUint(get("seed"), 10, 64)
	if err != nil || seed == 0 {
		v.bad("seed", "%q is not a whole number from 1 to %d", get("seed"), uint64(1<<64-1))
	}
	c.cfg = sim.Config{Seed: seed, IDPrefix: get("id-prefix"), AdminToken: get("admin-token"), TopicPrefix: get("topic-prefix")}
	v.int("warehouses", "a whole number", &c.cfg.Warehouses)
	v.int("scanners-per-warehouse", "a whole number", &c.cfg.ScannersPerWarehouse)
	v.int("locations", "a whole number", &c.cfg.Locations)
	v.int("items", "a whole number", &c.cfg.Items)
	v.float("hours", "a number", &c.cfg.Hours)
	v.float("speed", "a number", &c.cfg.Speed)
	named := func() map[string]bool {
		m := map[string]bool{}
		for _, e := range v.errs {
			m[strings.SplitN(e.Error(), ":", 2)[0]] = true
		}
		return m
	}
	// Zero means "default" to sim.Config: on the command line it is a
	// mistake, reported as one.
	reported := named()
	for i, n := range []float64{float64(c.cfg.Warehouses), float64(c.cfg.ScannersPerWarehouse), float64(c.cfg.Locations),
		float64(c.cfg.Items), c.cfg.Hours, c.cfg.Speed} {
		name := []string{"warehouses", "scanners-per-warehouse", "locations", "items", "hours", "speed"}[i]
		if n == 0 && !reported["--"+name] {
			v.bad(name, "must be more than 0")
		}
	}
	if quiet {
		c.cfg.Rates = sim.DefaultRates().Quiet()
	}
	if err := c.cfg.ValidateWorld(); err != nil {
		reported := named()
		for _, line := range strings.Split(strings.TrimPrefix(err.Error(), sim.ErrInvalidConfig.Error()+":\n  "), "\n  ") {
			name, msg, _ := strings.Cut(line, ": ")
			flagName := map[string]string{"warehouses": "warehouses", "scanners per warehouse": "scanners-per-warehouse",
				"locations": "locations", "items": "items", "hours": "hours", "speed": "speed", "id prefix": "id-prefix"}[name]
			switch {
			case flagName == "":
				v.errs = append(v.errs, errors.New(line))
			case !reported["--"+flagName]:
				v.bad(flagName, "%s", msg)
			}
		}
	}
	if c.url != "" {
		if u, err := url.Parse(c.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.bad("url", "%q is not an http:// or https:// base URL", c.url)
		}
		if c.cfg.AdminToken == "" {
			v.bad("admin-token", "required with --url (or INVSYNC_ADMIN_TOKEN)")
		}
		c.cfg.Brokers = v.list("brokers")
		if c.faults {
			v.bad("faults", "kills processes this command started: not with --url (kill the cluster's yourself, the figures tell what it did)")
		}
		if c.cfg.IDPrefix == "" && seed != 0 {
			c.cfg.IDPrefix = fmt.Sprintf("sim%d-%06x-", seed, rand.Uint32N(1<<24))
		}
	} else {
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "admin-token" || f.Name == "brokers" || f.Name == "topic-prefix" {
				v.bad(f.Name, "only with --url (without it the simulator starts its own serve)")
			}
		})
		c.cfg.AdminToken, c.cfg.TopicPrefix = "", ""
	}
	if st, err := os.Stat(c.report); c.report != "" && err == nil && !st.IsDir() {
		v.bad("report", "%s exists and is not a directory", c.report)
	}
	if len(v.errs) > 0 {
		return simulateCommand{}, invalid("simulate", v.errs)
	}
	return c, nil
}

func simulateUsage(w io.Writer) {
	fmt.Fprint(w, help("simulate"))
	printSpecs(w, simulateFlags)
}
