package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Defaults of Config, each applied where the field is zero.
const (
	DefaultWarehouses           = 8
	DefaultScannersPerWarehouse = 4
	DefaultLocations            = 200
	DefaultItems                = 150
	DefaultHours                = 24
	// DefaultSpeed: simulated seconds per real second. A 24-hour day
	// takes 4 real minutes, plus the hourly audits and the drain at the
	// end.
	DefaultSpeed = 360
	// ReconcileEvery is the simulated interval of the mirror's
	// reconciliation reports (the story's 15 minutes).
	ReconcileEvery = 15 * time.Minute
)

// Config is one simulation run. World and Plan depend only on the seed,
// the sizes, Hours and Rates; the rest says which system to drive.
type Config struct {
	Seed                 uint64
	Warehouses           int     // default 8
	ScannersPerWarehouse int     // default 4
	Locations            int     // per warehouse, default 200
	Items                int     // catalog items, each slotted in every warehouse; default 150
	Hours                float64 // simulated hours, default 24
	Speed                float64 // simulated seconds per real second, default 360
	// IDPrefix is put before every warehouse id (and order and
	// allocation id), so runs against one cluster do not mix.
	IDPrefix string
	// Rates are the disturbances and the activity (DefaultRates when
	// zero; set Rates.Set to keep zero rates as given).
	Rates Rates

	// URL and AdminToken reach the system. The simulator creates the
	// scanner tokens itself (POST /v1/tokens).
	URL        string
	AdminToken string
	// CloudToken is the cloud's token (role cloud) for allocations;
	// empty creates one.
	CloudToken string
	// Brokers and TopicPrefix are the system's Kafka, read (never
	// written) to see every event: latency, lost and duplicated.
	Brokers     []string
	TopicPrefix string
	KafkaOpts   []kgo.Opt
	// MirrorDB is the SQLite file of the mirror that reports to URL: what
	// the cloud sees.
	MirrorDB string
	// WorkDir holds the scanners' queues (one directory each).
	WorkDir string
	// Faults happen during the day (see Fault).
	Faults []Fault

	// Progress receives a line per simulated hour and what the run
	// waits for (default: discarded).
	Progress io.Writer
	// HTTPTimeout bounds one API call of the simulator (default 30s);
	// a call is retried until RetryFor (default 2m) has passed, so a
	// restarting server is waited for.
	HTTPTimeout, RetryFor time.Duration
}

// Fault is something done to the system at a moment of the day, such as
// kill -9 of serve and its restart. Do returns once the system is back
// (or failed to come back).
type Fault struct {
	Name string
	// At is the moment as a fraction of the day (0 to 1).
	At float64
	Do func(ctx context.Context) error
}

// Rates are the activity and the disturbances, per warehouse and
// simulated day unless said otherwise.
type Rates struct {
	// Set marks Rates as given: zero rates stay zero (tests turn
	// disturbances off this way).
	Set bool

	OrderLines, Receipts, FloorPicks, Moves float64
	// CountsPerDay is the probability that a slot of an item of each
	// ABC class is cycle counted on a day (A, B, C).
	CountsPerDay [3]float64
	Shrinkage    float64 // units vanish (theft, loss): truth changes, no scan
	Damage       float64 // units damaged and thrown away unscanned
	// MisKey is the share of counts typed wrong (a digit dropped or
	// doubled); DoubleCount the share counted again moments later by a
	// second scanner.
	MisKey, DoubleCount float64
	// DeadZones is the expected number of dead-zone spells per scanner
	// and day (minutes to 8 hours; one scanner gets 8 hours).
	DeadZones float64
	// ClockSkew turns device clock errors on: a third of the scanners
	// off by up to ±2 minutes, one by 3 hours.
	ClockSkew bool
	// LostAnswers and StaleCopies are shares of upload requests whose
	// answer is lost (the device resends: a duplicate) or whose copy is
	// delivered late, after the device's own resend (reordered).
	LostAnswers, StaleCopies float64
	// CloudOutages is the expected number of brief outages of the cloud
	// a day (the whole cloud, 2 to 15 minutes each): order lines wait
	// for its return in every system; the story's before loses the
	// webhooks sent meanwhile.
	CloudOutages float64
}

// DefaultRates are the rates of a default run.
func DefaultRates() Rates {
	return Rates{Set: true,
		OrderLines: 240, Receipts: 36, FloorPicks: 24, Moves: 24,
		CountsPerDay: [3]float64{0.5, 0.2, 0.1},
		Shrinkage:    6, Damage: 3,
		MisKey: 0.03, DoubleCount: 0.05,
		DeadZones: 1.5, ClockSkew: true,
		LostAnswers: 0.02, StaleCopies: 0.01,
		CloudOutages: 2,
	}
}

// Quiet returns r with every disturbance off: no shrinkage, damage,
// mis-keys, double counts, dead zones, clock errors or network faults.
func (r Rates) Quiet() Rates {
	r.Set = true
	r.Shrinkage, r.Damage, r.MisKey, r.DoubleCount, r.DeadZones = 0, 0, 0, 0, 0
	r.ClockSkew, r.LostAnswers, r.StaleCopies, r.CloudOutages = false, 0, 0, 0
	return r
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	if c.Warehouses == 0 {
		c.Warehouses = DefaultWarehouses
	}
	if c.ScannersPerWarehouse == 0 {
		c.ScannersPerWarehouse = DefaultScannersPerWarehouse
	}
	if c.Locations == 0 {
		c.Locations = DefaultLocations
	}
	if c.Items == 0 {
		c.Items = DefaultItems
	}
	if c.Hours == 0 {
		c.Hours = DefaultHours
	}
	if c.Speed == 0 {
		c.Speed = DefaultSpeed
	}
	if !c.Rates.Set {
		c.Rates = DefaultRates()
	}
	if c.TopicPrefix == "" {
		c.TopicPrefix = "invsync."
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.HTTPTimeout == 0 {
		c.HTTPTimeout = 30 * time.Second
	}
	if c.RetryFor == 0 {
		c.RetryFor = 2 * time.Minute
	}
	c.URL = strings.TrimRight(c.URL, "/")
	return c
}

// ErrInvalidConfig wraps every problem Validate finds.
var ErrInvalidConfig = errors.New("invalid simulation")

// Limits of the world's size: beyond them a run would not finish in
// reasonable time on one machine, or the ids would not fit.
const (
	MaxWarehouses = 100
	MaxScanners   = 50
	MaxLocations  = 5000
	MaxItems      = 5000
	MaxHours      = 24 * 7
)

// ValidateWorld reports every problem of the world's shape and rates at
// once (what the command line sets); Validate adds the system.
func (c Config) ValidateWorld() error {
	c = c.withDefaults()
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	intIn := func(name string, v, lo, hi int) {
		if v < lo || v > hi {
			bad("%s: %d is not from %d to %d", name, v, lo, hi)
		}
	}
	intIn("warehouses", c.Warehouses, 1, MaxWarehouses)
	intIn("scanners per warehouse", c.ScannersPerWarehouse, 1, MaxScanners)
	intIn("locations", c.Locations, 2, MaxLocations)
	intIn("items", c.Items, 1, MaxItems)
	if c.Items > 4*c.Locations {
		bad("items: %d items do not fit in %d locations (at most 4 items a location on average: give more locations or fewer items)", c.Items, c.Locations)
	}
	if !(c.Hours >= 0.25 && c.Hours <= MaxHours) {
		bad("hours: %v is not from 0.25 to %d", c.Hours, MaxHours)
	}
	if !(c.Speed >= 1 && c.Speed <= 100000) || math.IsNaN(c.Speed) {
		bad("speed: %v is not from 1 to 100000 simulated seconds per real second", c.Speed)
	}
	if c.Speed > 0 && c.Hours > 0 && ReconcileEvery.Seconds()/c.Speed < 1 {
		bad("speed: %v makes 15 simulated minutes shorter than a real second, the shortest report interval of the mirror (at most %d)", c.Speed, int(ReconcileEvery.Seconds()))
	}
	if strings.ContainsFunc(c.IDPrefix, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) || len(c.IDPrefix) > 40 {
		bad("id prefix: %q may hold at most 40 letters, digits, '-', '_' and '.'", c.IDPrefix)
	}
	r := c.Rates
	for _, f := range []struct {
		name string
		v    float64
	}{{"order lines", r.OrderLines}, {"receipts", r.Receipts}, {"floor picks", r.FloorPicks}, {"moves", r.Moves},
		{"shrinkage", r.Shrinkage}, {"damage", r.Damage}, {"dead zones", r.DeadZones},
		{"cloud outages", r.CloudOutages}} {
		if !(f.v >= 0 && f.v <= 100000) {
			bad("%s: %v a day is not from 0 to 100000", f.name, f.v)
		}
	}
	for i, p := range r.CountsPerDay {
		if !(p >= 0 && p <= 24) {
			bad("counts of class %c: %v a day is not from 0 to 24", "ABC"[i], p)
		}
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"mis-keys", r.MisKey}, {"double counts", r.DoubleCount}, {"lost answers", r.LostAnswers}, {"stale copies", r.StaleCopies}} {
		if !(f.v >= 0 && f.v <= 1) {
			bad("%s: %v is not a share from 0 to 1", f.name, f.v)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w:\n  %s", ErrInvalidConfig, strings.Join(errs, "\n  "))
	}
	return nil
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []string
	if err := c.ValidateWorld(); err != nil {
		errs = append(errs, strings.Split(strings.TrimPrefix(err.Error(), ErrInvalidConfig.Error()+":\n  "), "\n  ")...)
	}
	c = c.withDefaults()
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Sprintf("url: %q is not an http:// or https:// base URL", c.URL))
	}
	if c.AdminToken == "" {
		errs = append(errs, "admin token: required (the simulator creates scanner and cloud tokens with it)")
	}
	if len(c.Brokers) == 0 {
		errs = append(errs, "brokers: required (the simulator reads the events topic to measure latency, lost and duplicated)")
	}
	if c.MirrorDB == "" {
		errs = append(errs, "mirror database: required (what the cloud sees)")
	}
	if c.WorkDir == "" {
		errs = append(errs, "work dir: required (the scanners' queues)")
	}
	for i, f := range c.Faults {
		if !(f.At >= 0 && f.At <= 1) || f.Do == nil {
			errs = append(errs, fmt.Sprintf("fault %d (%s): needs a moment from 0 to 1 and something to do", i, f.Name))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w:\n  %s", ErrInvalidConfig, strings.Join(errs, "\n  "))
	}
	return nil
}

// day is the simulated length of the run.
func (c Config) day() time.Duration { return time.Duration(c.Hours * float64(time.Hour)) }

// real converts a simulated duration to real time.
func (c Config) real(d time.Duration) time.Duration { return time.Duration(float64(d) / c.Speed) }
