package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/invsync/invsync/internal/testkit"
)

// TestBenchOnBrokersUsesTopicsOfItsOwn: `invsync bench --brokers` starts its
// pipeline on an empty data dir, so it must not share topics with earlier
// runs (it would restore their whole changelog first and measure that).
// Two runs on one broker each measure, and leave no topic or group behind.
func TestBenchOnBrokersUsesTopicsOfItsOwn(t *testing.T) {
	brokers := sharedBrokers(t)
	topicsNow := func() []string {
		adm := testkit.Admin(t, brokers)
		defer adm.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		ts, err := adm.ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var mine []string
		for _, name := range ts.Names() {
			if strings.HasPrefix(name, "invsync.") {
				mine = append(mine, name)
			}
		}
		return mine
	}
	before := topicsNow()
	for run := range 2 {
		var stdout, stderr bytes.Buffer
		rc := invsync(t, []string{"bench", "--brokers", strings.Join(brokers, ","), "--partitions", "2", "--records", "40",
			"--latency-rate", "200", "--rates", "200", "--step", "1s", "--backlog=false", "--json"}, &stdout, &stderr)
		if rc != 0 {
			t.Fatalf("run %d: exit %d\n%s\n%s", run, rc, stdout.String(), stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		var rep struct {
			Records      int     `json:"records"`
			SustainedTPS int     `json:"sustained_tps"`
			P50          float64 `json:"p50_ms"`
		}
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
			t.Fatalf("run %d: the last line is not the JSON report: %v\n%s", run, err, stdout.String())
		}
		if rep.Records != 40 || rep.SustainedTPS != 200 || rep.P50 <= 0 {
			t.Fatalf("run %d: report %+v, want 40 records, 200 tx/s held, a latency", run, rep)
		}
		if !strings.Contains(stderr.String(), "the run's topics: invsync.bench-") {
			t.Errorf("run %d: the run did not say it used topics of its own:\n%s", run, stderr.String())
		}
	}
	// Topic deletion completes asynchronously on some brokers.
	testkit.Eventually(t, 30*time.Second, func() error {
		var left []string
		for _, name := range topicsNow() {
			if strings.HasPrefix(name, "invsync.bench-") && !slices.Contains(before, name) {
				left = append(left, name)
			}
		}
		if len(left) > 0 {
			return testkit.Not("topics the runs left behind: %v", left)
		}
		return nil
	})
	// The shared topics are invsync.<name>; tests of other packages on the
	// same broker meanwhile use invsync.<something>.<name> of their own.
	for _, name := range topicsNow() {
		if !strings.Contains(strings.TrimPrefix(name, "invsync."), ".") && !slices.Contains(before, name) {
			t.Errorf("the runs created the shared topic %s (before: %v)", name, before)
		}
	}
}

// TestBenchDirectReusesThePreload: `invsync bench --direct` measures the
// processors alone on the records the whole path's run loaded, instead of
// loading them a second time into the same store (which left the direct
// ladder measuring the second load's compactions), and still holds its
// steps; and `--floor` measures the exactly-once floor after it, reported
// beside it in the table and the JSON report.
func TestBenchDirectReusesThePreload(t *testing.T) {
	brokers := sharedBrokers(t)
	var stdout, stderr bytes.Buffer
	rc := invsync(t, []string{"bench", "--brokers", strings.Join(brokers, ","), "--partitions", "2", "--records", "40", "--direct", "--floor",
		"--latency-rate", "200", "--rates", "200", "--step", "1s", "--backlog=false", "--json"}, &stdout, &stderr)
	if rc != 0 {
		t.Fatalf("exit %d\n%s\n%s", rc, stdout.String(), stderr.String())
	}
	// The direct run's lines: from its header to the floor's (which
	// preloads its own topics).
	_, direct, _ := strings.Cut(stderr.String(), "[direct]")
	direct, _, _ = strings.Cut(direct, "[floor]")
	if got := strings.Count(direct, "preload: 40 RECEIPTs applied"); got != 0 {
		t.Errorf("the direct run preloaded again (%d preload lines of its own):\n%s", got, stderr.String())
	}
	if !strings.Contains(stderr.String(), "preload: skipped, the pipeline holds the run's 40 stock records already") {
		t.Errorf("the direct run did not say it reused the preload:\n%s", stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var rep struct {
		Preload struct {
			Records int `json:"records"`
		} `json:"preload"`
		Direct struct {
			SustainedTPS int `json:"sustained_tps"`
		} `json:"direct"`
		Floor struct {
			Name  string  `json:"name"`
			P50Ms float64 `json:"p50_ms"`
			Steps []struct {
				Offered int64 `json:"offered"`
				Seen    int64 `json:"seen"`
			} `json:"steps"`
		} `json:"floor"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("the last line is not the JSON report: %v\n%s", err, stdout.String())
	}
	if rep.Preload.Records != 40 || rep.Direct.SustainedTPS != 200 {
		t.Errorf("report: whole path preloaded %d records, the direct run held %d tx/s; want 40 and 200", rep.Preload.Records, rep.Direct.SustainedTPS)
	}
	if rep.Floor.Name != "eos-floor" || rep.Floor.P50Ms <= 0 || len(rep.Floor.Steps) == 0 {
		t.Errorf("report: floor %+v; want the floor's run with its latency measured", rep.Floor)
	}
	for i, s := range rep.Floor.Steps {
		if s.Offered == 0 || s.Seen != s.Offered {
			t.Errorf("floor step %d: offered %d, seen %d; want every transaction's events read", i, s.Offered, s.Seen)
		}
	}
	if !strings.Contains(stdout.String(), "eos-floor") {
		t.Errorf("the table does not show the floor:\n%s", stdout.String())
	}
}

// TestBenchProfilesThePreloadApart: --cpuprofile writes the preload's
// profile and the measured phases' one to two files, one after the other, so
// that at many records the preload (most of such a run) does not hide what
// limits the ladder.
func TestBenchProfilesThePreloadApart(t *testing.T) {
	brokers := sharedBrokers(t)
	dir := t.TempDir()
	cpu := filepath.Join(dir, "cpu.prof")
	var stdout, stderr bytes.Buffer
	rc := invsync(t, []string{"bench", "--brokers", strings.Join(brokers, ","), "--partitions", "2", "--records", "2000",
		"--latency-rate", "200", "--rates", "200", "--step", "1s", "--backlog=false", "--cpuprofile", cpu}, &stdout, &stderr)
	if rc != 0 {
		t.Fatalf("exit %d\n%s\n%s", rc, stdout.String(), stderr.String())
	}
	read := func(path string) *profile.Profile {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		p, err := profile.Parse(f)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if p.DurationNanos <= 0 {
			t.Fatalf("%s: a profile of %d ns", path, p.DurationNanos)
		}
		return p
	}
	pre, rest := read(cpu+".preload"), read(cpu)
	if preEnd := pre.TimeNanos + pre.DurationNanos; rest.TimeNanos < preEnd {
		t.Errorf("the measured phases' profile starts %v before the preload's ends", time.Duration(preEnd-rest.TimeNanos))
	}
	// The ladder (latency phase and one step of a second each) is the
	// larger part of the run; the 2,000-record preload takes well under it.
	if rest.DurationNanos < 2*int64(time.Second) {
		t.Errorf("the measured phases' profile covers %v, less than their 2 s", time.Duration(rest.DurationNanos))
	}
}
