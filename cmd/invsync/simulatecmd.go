package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
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
	res, err := simulate(ctx, cmd, stderr)
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
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(usageOut)
	vals := map[string]*string{}
	for _, f := range simulateFlags {
		v := f.def
		if e := getenv(f.env); f.env != "" && e != "" {
			v = e
		}
		vals[f.name] = &v
		if f.def == "true" || f.def == "false" {
			fs.Var((*boolString)(&v), f.name, f.help)
		} else {
			fs.StringVar(&v, f.name, v, f.help)
		}
	}
	fs.Usage = func() { simulateUsage(fs.Output()) }
	if err := fs.Parse(args); err != nil {
		return simulateCommand{}, err
	}
	if fs.NArg() > 0 {
		return simulateCommand{}, fmt.Errorf("unexpected argument %q (flags take the form --name=value)", fs.Arg(0))
	}
	v := func(name string) string { return strings.TrimSpace(*vals[name]) }
	var errs []string
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Sprintf("--%s: %s", name, fmt.Sprintf(format, args...)))
	}
	c := simulateCommand{url: strings.TrimRight(v("url"), "/"), report: v("report"), args: args}
	boolFlag := func(name string) bool {
		b, err := strconv.ParseBool(v(name))
		if err != nil {
			bad(name, "%q is not true or false", v(name))
		}
		return b
	}
	c.json, c.faults, c.keep = boolFlag("json"), boolFlag("faults"), boolFlag("keep")
	quiet := boolFlag("quiet")
	intFlag := func(name string) int {
		n, err := strconv.Atoi(v(name))
		if err != nil {
			bad(name, "%q is not a whole number", v(name))
		}
		return n
	}
	floatFlag := func(name string) float64 {
		f, err := strconv.ParseFloat(v(name), 64)
		if err != nil {
			bad(name, "%q is not a number", v(name))
		}
		return f
	}
	seed, err := strconv.ParseUint(v("seed"), 10, 64)
	if err != nil || seed == 0 {
		bad("seed", "%q is not a whole number from 1 to %d", v("seed"), uint64(1<<64-1))
	}
	c.cfg = sim.Config{Seed: seed, Warehouses: intFlag("warehouses"), ScannersPerWarehouse: intFlag("scanners-per-warehouse"),
		Locations: intFlag("locations"), Items: intFlag("items"), Hours: floatFlag("hours"), Speed: floatFlag("speed"),
		IDPrefix: v("id-prefix"), AdminToken: v("admin-token"), TopicPrefix: v("topic-prefix")}
	if quiet {
		c.cfg.Rates = sim.DefaultRates().Quiet()
	}
	// Zero means "default" to sim.Config: on the command line it is a
	// mistake, reported as one.
	for _, z := range []struct {
		name string
		v    float64
	}{{"warehouses", float64(c.cfg.Warehouses)}, {"scanners-per-warehouse", float64(c.cfg.ScannersPerWarehouse)},
		{"locations", float64(c.cfg.Locations)}, {"items", float64(c.cfg.Items)}, {"hours", c.cfg.Hours}, {"speed", c.cfg.Speed}} {
		if z.v == 0 && !strings.Contains(strings.Join(errs, "\n"), "--"+z.name+":") {
			bad(z.name, "must be more than 0")
		}
	}
	if err := c.cfg.ValidateWorld(); err != nil {
		for _, line := range strings.Split(strings.TrimPrefix(err.Error(), sim.ErrInvalidConfig.Error()+":\n  "), "\n  ") {
			name, msg, _ := strings.Cut(line, ": ")
			flagName := map[string]string{"warehouses": "warehouses", "scanners per warehouse": "scanners-per-warehouse",
				"locations": "locations", "items": "items", "hours": "hours", "speed": "speed", "id prefix": "id-prefix"}[name]
			if flagName == "" {
				errs = append(errs, line)
				continue
			}
			if !strings.Contains(strings.Join(errs, "\n"), "--"+flagName+":") {
				bad(flagName, "%s", msg)
			}
		}
	}
	if c.url != "" {
		if u, err := url.Parse(c.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("url", "%q is not an http:// or https:// base URL", c.url)
		}
		if c.cfg.AdminToken == "" {
			bad("admin-token", "required with --url (or INVSYNC_ADMIN_TOKEN)")
		}
		for _, b := range strings.Split(v("brokers"), ",") {
			if b = strings.TrimSpace(b); b != "" {
				c.cfg.Brokers = append(c.cfg.Brokers, b)
			}
		}
		if c.faults {
			bad("faults", "kills processes this command started: not with --url (kill the cluster's yourself, the figures tell what it did)")
		}
		if c.cfg.IDPrefix == "" && seed != 0 {
			c.cfg.IDPrefix = fmt.Sprintf("sim%d-%s-", seed, randomHex(3))
		}
	} else {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for _, name := range []string{"admin-token", "brokers", "topic-prefix"} {
			if set[name] {
				bad(name, "only with --url (without it the simulator starts its own serve)")
			}
		}
		c.cfg.AdminToken, c.cfg.TopicPrefix = "", ""
	}
	if c.report != "" {
		if st, err := os.Stat(c.report); err == nil && !st.IsDir() {
			bad("report", "%s exists and is not a directory", c.report)
		}
	}
	if len(errs) > 0 {
		return simulateCommand{}, fmt.Errorf("invalid configuration (see invsync simulate --help):\n  %s", strings.Join(errs, "\n  "))
	}
	return c, nil
}

func simulateUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: invsync simulate [flags]

Simulates a day of a warehouse fleet against the real system and reports
inventory accuracy, oversells, allocation errors and scan-to-cloud latency,
beside models of the story's two systems on the same day: its before (REST
webhooks lost while the cloud is out, dead-zone scans keyed in from paper,
no warehouse confirmation) and its after (durable events, last-write-wins
by timestamp, location locks, two-phase allocation, reconciliation every 15
minutes), each with its own stock, records, cloud view and allocations, and
what each system's wrong records and allocation errors are owed to.

The simulator owns the physical truth: receipts, picks and moves (scanned),
shrinkage and damage (not scanned), cycle counts (some mis-keyed, some
counted twice by two scanners). Scanners are scanner-package devices with
durable queues; dead zones take them offline for minutes to 8 hours, some
clocks are off by up to 2 minutes and one by 3 hours, answers are lost and
requests arrive late. The cloud allocates order lines two-phase against what
the SQL mirror shows available and picks what was confirmed; the mirror
reports to reconciliation every 15 simulated minutes; a supervisor answers
held counts with recounts. Each simulated hour every record is audited.

Time: the day runs --speed times faster than real time, and is laid in the
window that ends when the run starts (scan timestamps are in the past, as
if the day had just happened); each device's clock error stays constant,
so the server's skew correction recovers the true moments. What the server
times itself runs on real time: allocations expire 4 simulated hours after
they are made (4h/speed real), reconciliation's grace stays 2 real minutes.

Without --url it starts serve (embedded broker, in this process) and the
mirror (SQLite) in a temporary directory; with --faults it runs both as
child processes of this binary instead and kills them with SIGKILL during
the day. With --url it drives a running invsync: give --admin-token and
--brokers; it creates its own scanner and cloud tokens and runs its own
mirror on the cluster's Kafka.

Output: progress on standard error, then a table; with --json the last
line of standard output is one JSON object (shares as fractions 0-1). Exit
status 0 when the day completed, 1 when it stopped (the table says where,
and what it had measured), 2 for bad usage.

Flags (some can also be set by the environment variable shown):
`)
	for _, f := range simulateFlags {
		def := f.def
		if def == "" {
			def = `""`
		}
		env := ""
		if f.env != "" {
			env = f.env + ", "
		}
		fmt.Fprintf(w, "  --%s  (%sdefault %s)\n      %s\n", f.name, env, def, f.help)
	}
}
