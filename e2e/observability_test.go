package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/internal/testkit"
)

// metricName matches the invsync series a PromQL expression names.
var metricName = regexp.MustCompile(`\binvsync_[a-z0-9_]+`)

// dashboardMetrics returns the invsync metric names the Grafana
// dashboards' queries use.
func dashboardMetrics(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("../deploy/grafana/dashboards/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in deploy/grafana/dashboards (%v)", err)
	}
	names := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var dash struct {
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(data, &dash); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, p := range dash.Panels {
			for _, tg := range p.Targets {
				for _, n := range metricName.FindAllString(tg.Expr, -1) {
					names[n] = true
				}
			}
		}
	}
	return names
}

// alertMetrics returns the invsync metric names the alert rules' expr
// lines use (alert names are CamelCase and do not match).
func alertMetrics(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open("../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[string]bool{}
	inExpr := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "expr:"):
			inExpr = true
		case strings.HasPrefix(trimmed, "#"):
			continue
		case strings.HasSuffix(trimmed, ":") || strings.Contains(trimmed, ": "):
			inExpr = false // the next key
		}
		if inExpr {
			for _, n := range metricName.FindAllString(line, -1) {
				names[n] = true
			}
		}
	}
	return names
}

// exposed scrapes url and returns every metric name of its samples.
func exposed(t *testing.T, url string) (map[string]bool, string) {
	t.Helper()
	_, _, body := testkit.Call(t, "GET", url, "", nil)
	names := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name := line
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		names[name] = true
	}
	return names, string(body)
}

// startMirrorMetrics runs the built `invsync mirror` as a child process
// with --metrics-addr, and returns its metrics URL once it answers.
func startMirrorMetrics(t *testing.T, brokers []string, prefix string) string {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	m := &child{t: t, bin: buildBinary(t), log: filepath.Join(dir, "mirror.log"), args: []string{"mirror",
		"--brokers", strings.Join(brokers, ","), "--topic-prefix", prefix, "--sql-url", "sqlite://" + filepath.Join(dir, "mirror.db"),
		"--metrics-addr", addr, "--log-level", "warn"}}
	m.start()
	t.Cleanup(m.stop)
	t.Cleanup(func() {
		if t.Failed() {
			m.dumpLog()
		}
	})
	u := "http://" + addr + "/metrics"
	testkit.Eventually(t, 60*time.Second, func() error {
		resp, err := http.Get(u)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return testkit.Not("GET %s: %d", u, resp.StatusCode)
		}
		return nil
	}, "the mirror's metrics at %s", u)
	return u
}

// TestDashboardAndAlertMetricsExist: every metric the Grafana dashboard
// and the alert rules query is exposed on /metrics by a running serve or
// mirror that has carried one upload to its SQL row and knows one scanner,
// the four latency histograms and the fleet gauges of the contract among
// them.
func TestDashboardAndAlertMetricsExist(t *testing.T) {
	want := dashboardMetrics(t)
	alerts := alertMetrics(t)
	if len(want) < 10 || len(alerts) < 6 {
		t.Fatalf("found only %d dashboard and %d alert metrics: the parsing is broken", len(want), len(alerts))
	}
	for n := range alerts {
		want[n] = true
	}
	for _, n := range []string{"invsync_scan_to_event_seconds_bucket", "invsync_upload_to_event_seconds_bucket",
		"invsync_mirror_event_to_row_seconds_bucket", "invsync_mirror_scan_to_row_seconds_bucket",
		"invsync_scanners", "invsync_device_queued_scans"} {
		want[n] = true
	}

	cfg := testConfig(t)
	in := startInstance(t, cfg)
	if code := do(t, "PUT", in.url+"/v1/catalog", mirrorCatalog, nil); code != 200 {
		t.Fatalf("PUT /v1/catalog: %d", code)
	}
	// A scanner's token, so the fleet gauges have a warehouse to report.
	if code := do(t, "POST", in.url+"/v1/tokens", map[string]any{"name": "SCANNER-OBS", "role": "scanner", "warehouses": []string{"WH-M1"}}, nil); code != 201 {
		t.Fatalf("POST /v1/tokens: %d", code)
	}
	mirrorURL := startMirrorMetrics(t, in.brokers(), cfg.TopicPrefix)
	up := api.UploadRequest{ScannerID: "SCANNER-OBS", SentAt: time.Now().UTC().Format(time.RFC3339Nano), Transactions: []api.Transaction{{
		TransactionID: "obs-1", Type: "RECEIPT", Timestamp: time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano),
		WarehouseID: "WH-M1", ItemID: "M-1", LocationID: "L1", Quantity: 3, UserID: "u1"}}}
	var res api.UploadResponse
	if code := do(t, "POST", in.url+"/v1/transactions?wait=applied", up, &res); code != 200 || len(res.Results) != 1 || res.Results[0].Status != api.StatusAccepted {
		t.Fatalf("upload: %d %+v", code, res)
	}

	var serveNames, mirrorNames map[string]bool
	var missing []string
	deadline := time.Now().Add(60 * time.Second)
	for {
		serveNames, _ = exposed(t, in.url+"/metrics")
		mirrorNames, _ = exposed(t, mirrorURL)
		missing = missing[:0]
		for n := range want {
			if !serveNames[n] && !mirrorNames[n] {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("queried by the dashboard or the alerts but exposed by neither serve nor mirror: %s", strings.Join(missing, ", "))
	}
	// Each histogram of the contract comes from the process the contract
	// names.
	for _, n := range []string{"invsync_scan_to_event_seconds_count", "invsync_upload_to_event_seconds_count"} {
		if !serveNames[n] {
			t.Errorf("serve does not expose %s", n)
		}
	}
	for _, n := range []string{"invsync_mirror_event_to_row_seconds_count", "invsync_mirror_scan_to_row_seconds_count"} {
		if !mirrorNames[n] {
			t.Errorf("the mirror does not expose %s", n)
		}
	}
	t.Logf("%d metrics queried, all exposed", len(want))
}

// TestMetricsParsersSeeEveryQuery guards the parsers above against
// silently finding nothing: a query naming an unknown metric is reported.
func TestMetricsParsersSeeEveryQuery(t *testing.T) {
	dash := dashboardMetrics(t)
	for _, n := range []string{"invsync_consumer_lag", "invsync_scan_to_event_seconds_bucket", "invsync_mirror_lag"} {
		if !dash[n] {
			t.Errorf("dashboard parser missed %s", n)
		}
	}
	alerts := alertMetrics(t)
	for _, n := range []string{"invsync_partitions_owned", "invsync_records_dead_lettered_total", "invsync_mirror_event_to_row_seconds_bucket"} {
		if !alerts[n] {
			t.Errorf("alert parser missed %s", n)
		}
	}
	if fmt.Sprint(metricName.FindAllString(`sum(rate(invsync_x_total[5m])) / InvsyncAlert`, -1)) != "[invsync_x_total]" {
		t.Error("metric name pattern")
	}
}
