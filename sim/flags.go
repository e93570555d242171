package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/invsync/invsync/internal/cliflag"
)

// Flags are the flags of `invsync simulate`.
var Flags = []cliflag.Spec{
	{Name: "url", Env: "INVSYNC_URL", Default: "", Help: "base URL of a running invsync to drive; empty starts an in-process serve (embedded broker) and mirror in a temporary directory"},
	{Name: "admin-token", Env: "INVSYNC_ADMIN_TOKEN", Default: "", Help: "admin token of --url (the simulator creates scanner and cloud tokens with it); prefer the environment variable"},
	{Name: "brokers", Env: "INVSYNC_BROKERS", Default: "", Help: "with --url: the cluster's Kafka seed brokers (the simulator runs its own mirror on them and reads the events topic); default: what GET /v1/cluster answers"},
	{Name: "topic-prefix", Env: "INVSYNC_TOPIC_PREFIX", Default: "", Help: "with --url: the cluster's topic prefix; default: what GET /v1/cluster answers"},
	{Name: "seed", Env: "", Default: "1", Help: "seed of the world and the day: the same seed gives the same truth and the same scans"},
	{Name: "warehouses", Env: "", Default: "8", Help: "warehouses"},
	{Name: "scanners-per-warehouse", Env: "", Default: "4", Help: "scanner devices in each warehouse"},
	{Name: "locations", Env: "", Default: "200", Help: "locations in each warehouse"},
	{Name: "items", Env: "", Default: "150", Help: "catalog items (a fifth class A, three tenths B, the rest C), each slotted in every warehouse"},
	{Name: "hours", Env: "", Default: "24", Help: "simulated hours"},
	{Name: "speed", Env: "", Default: "360", Help: "simulated seconds per real second (360: a day in 4 minutes)"},
	{Name: "quiet", Env: "", Default: "false", Help: "turn every disturbance off (shrinkage, damage, mis-keys, double counts, dead zones, clock errors, network faults): invsync must then be exact"},
	{Name: "faults", Env: "", Default: "false", Help: "kill -9 serve (twice) and the mirror (once) during the day and restart them; needs the in-process mode (no --url)"},
	{Name: "json", Env: "", Default: "false", Help: "print the result as one JSON object on the last line of standard output"},
	{Name: "report", Env: "", Default: "", Help: "directory to write a report to (report.md and SVG charts)"},
	{Name: "id-prefix", Env: "", Default: "", Help: "put before warehouse, order and allocation ids (default with --url: sim<seed>-<random>-, so runs on one cluster do not mix)"},
	{Name: "keep", Env: "", Default: "false", Help: "keep the temporary directory (serve's state, the mirror's database, the scanners' queues) and print where it is"},
}

// Command is `invsync simulate` configured from its flags.
type Command struct {
	// Config is the run's, URL included.
	Config Config
	Setup  Setup
	// JSON prints the result as one JSON object; Report is the directory
	// to write a report to (empty: none).
	JSON   bool
	Report string
}

// ConfigureCommand converts the Flags bound in v (and parsed), reporting
// every problem at once, each its own error in the joined error returned.
func ConfigureCommand(v *cliflag.Values) (Command, error) {
	get := v.Get
	c := Command{Report: get("report")}
	var quiet bool
	v.Bool("json", &c.JSON)
	v.Bool("faults", &c.Setup.Faults)
	v.Bool("keep", &c.Setup.Keep)
	v.Bool("quiet", &quiet)
	seed, err := strconv.ParseUint(get("seed"), 10, 64)
	if err != nil || seed == 0 {
		v.Bad("seed", "%q is not a whole number from 1 to %d", get("seed"), uint64(1<<64-1))
	}
	cfg := &c.Config
	*cfg = Config{URL: strings.TrimRight(get("url"), "/"), Seed: seed, IDPrefix: get("id-prefix"), AdminToken: get("admin-token"), TopicPrefix: get("topic-prefix")}
	v.Int("warehouses", "a whole number", &cfg.Warehouses)
	v.Int("scanners-per-warehouse", "a whole number", &cfg.ScannersPerWarehouse)
	v.Int("locations", "a whole number", &cfg.Locations)
	v.Int("items", "a whole number", &cfg.Items)
	v.Float("hours", "a number", &cfg.Hours)
	v.Float("speed", "a number", &cfg.Speed)
	named := func() map[string]bool {
		m := map[string]bool{}
		for _, e := range v.Problems() {
			m[strings.SplitN(e.Error(), ":", 2)[0]] = true
		}
		return m
	}
	// Zero means "default" to Config: on the command line it is a
	// mistake, reported as one.
	reported := named()
	for i, n := range []float64{float64(cfg.Warehouses), float64(cfg.ScannersPerWarehouse), float64(cfg.Locations),
		float64(cfg.Items), cfg.Hours, cfg.Speed} {
		name := []string{"warehouses", "scanners-per-warehouse", "locations", "items", "hours", "speed"}[i]
		if n == 0 && !reported["--"+name] {
			v.Bad(name, "must be more than 0")
		}
	}
	if quiet {
		cfg.Rates = DefaultRates().Quiet()
	}
	if err := cfg.ValidateWorld(); err != nil {
		reported := named()
		for _, line := range strings.Split(strings.TrimPrefix(err.Error(), ErrInvalidConfig.Error()+":\n  "), "\n  ") {
			name, msg, _ := strings.Cut(line, ": ")
			flagName := map[string]string{"warehouses": "warehouses", "scanners per warehouse": "scanners-per-warehouse",
				"locations": "locations", "items": "items", "hours": "hours", "speed": "speed", "id prefix": "id-prefix"}[name]
			switch {
			case flagName == "":
				v.Add(errors.New(line))
			case !reported["--"+flagName]:
				v.Bad(flagName, "%s", msg)
			}
		}
	}
	if cfg.URL != "" {
		if u, err := url.Parse(cfg.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.Bad("url", "%q is not an http:// or https:// base URL", cfg.URL)
		}
		if cfg.AdminToken == "" {
			v.Bad("admin-token", "required with --url (or INVSYNC_ADMIN_TOKEN)")
		}
		cfg.Brokers = v.List("brokers")
		if c.Setup.Faults {
			v.Bad("faults", "kills processes this command started: not with --url (kill the cluster's yourself, the figures tell what it did)")
		}
		if cfg.IDPrefix == "" && seed != 0 {
			cfg.IDPrefix = fmt.Sprintf("sim%d-%06x-", seed, rand.Uint32N(1<<24))
		}
	} else {
		for _, name := range []string{"admin-token", "brokers", "topic-prefix"} {
			if v.Set(name) {
				v.Bad(name, "only with --url (without it the simulator starts its own serve)")
			}
		}
		cfg.AdminToken, cfg.TopicPrefix = "", ""
	}
	if st, err := os.Stat(c.Report); c.Report != "" && err == nil && !st.IsDir() {
		v.Bad("report", "%s exists and is not a directory", c.Report)
	}
	if err := v.Err(); err != nil {
		return Command{}, err
	}
	return c, nil
}
