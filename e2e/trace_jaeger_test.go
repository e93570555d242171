package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/web/browsertest"
)

// jaegerTrace is the part of Jaeger's query API answer
// (GET /api/traces/{id}) the test reads.
type jaegerTrace struct {
	TraceID string `json:"traceID"`
	Spans   []struct {
		TraceID       string `json:"traceID"`
		SpanID        string `json:"spanID"`
		OperationName string `json:"operationName"`
		ProcessID     string `json:"processID"`
		References    []struct {
			RefType string `json:"refType"`
			TraceID string `json:"traceID"`
			SpanID  string `json:"spanID"`
		} `json:"references"`
		Tags []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"tags"`
	} `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
}

func jaegerGet(t *testing.T, u string) []jaegerTrace {
	t.Helper()
	status, _, body := testkit.Call(t, "GET", u, "", nil)
	if status == http.StatusNotFound {
		return nil
	}
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, status, body)
	}
	var out struct {
		Data []jaegerTrace `json:"data"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return out.Data
}

func randomHexID(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestTraceInJaeger follows one upload through a real Jaeger: `invsync
// serve` (with its embedded broker as a separate process) and `invsync
// mirror` run as child processes exporting OTLP to the collector at
// OTEL_EXPORTER_OTLP_ENDPOINT; an upload carries a known traceparent; once
// its event is committed and its row is in the mirror's SQLite, Jaeger's
// query API (JAEGER_QUERY_URL) must hold one trace with the upload's
// server span (child of the traceparent), the produce (PRODUCER), the
// processing (CONSUMER, child of the produce) and the mirror's apply
// (child of the processing), and a commit span linking to the processing.
// Skipped, saying how to run it, without a Jaeger (make test-trace).
func TestTraceInJaeger(t *testing.T) {
	query, endpoint := os.Getenv("JAEGER_QUERY_URL"), os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT")
	if query == "" || endpoint == "" {
		t.Skip("SKIPPED: JAEGER_QUERY_URL and OTEL_EXPORTER_OTLP_ENDPOINT are not set: no Jaeger to send traces to. " +
			"Run `make test-trace`, or `bash scripts/jaeger.sh up` and export the two variables it prints")
	}
	if testing.Short() {
		t.Skip("builds and runs child processes; skipped with -short")
	}
	query = strings.TrimRight(query, "/")
	bin := buildBinary(t)
	dir := t.TempDir()
	serve := serveChild(t, dir, "trace", 2)
	prefix, brokers := serve.prefix, serve.brokers
	defer func() {
		if t.Failed() {
			serve.dumpLog()
		}
	}()
	if code := do(t, "PUT", serve.url+"/v1/catalog", mirrorCatalog, nil); code != 200 {
		t.Fatalf("PUT /v1/catalog: %d", code)
	}
	sqlURL := "sqlite://" + filepath.Join(dir, "mirror.db")
	mir := &child{t: t, bin: bin, log: filepath.Join(dir, "mirror.log"), args: []string{"mirror",
		"--brokers", strings.Join(brokers, ","), "--topic-prefix", prefix, "--sql-url", sqlURL, "--log-level", "info"}}
	mir.start()
	t.Cleanup(mir.stop)
	defer func() {
		if t.Failed() {
			mir.dumpLog()
		}
	}()

	traceID, parentID := randomHexID(t, 16), randomHexID(t, 8)
	up := api.UploadRequest{ScannerID: "SCANNER-TRACE", SentAt: time.Now().UTC().Format(time.RFC3339Nano), Transactions: []api.Transaction{{
		TransactionID: "trace-" + traceID[:12], Type: "RECEIPT", Timestamp: time.Now().Add(-2 * time.Second).UTC().Format(time.RFC3339Nano),
		WarehouseID: "WH-M2", ItemID: "M-7", LocationID: "L3", Quantity: 4, UserID: "u1"}}}
	status, _, data := testkit.CallHeader(t, http.MethodPost, serve.url+"/v1/transactions?wait=applied", testAdminToken,
		http.Header{"Traceparent": {"00-" + traceID + "-" + parentID + "-01"}}, up)
	var res api.UploadResponse
	_ = json.Unmarshal(data, &res)
	if status != 200 || len(res.Results) != 1 || res.Results[0].Outcome == nil || res.Results[0].Outcome.Status != api.OutcomeApplied {
		t.Fatalf("upload: %d %+v", status, res)
	}

	// The event's row in the mirror.
	db := openMirrorDB(t, sqlURL)
	deadline := time.Now().Add(60 * time.Second)
	for {
		var onHand int64
		err := db.QueryRow(`SELECT on_hand FROM positions WHERE warehouse_id = 'WH-M2' AND item_id = 'M-7' AND location_id = 'L3'`).Scan(&onHand)
		if err == nil && onHand == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the mirror has no row of the upload after 60 s (last: %v, onHand %d)", err, onHand)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The scan-to-event histogram's exemplar is this trace (OpenMetrics,
	// as Prometheus asks for it).
	_, _, metrics := testkit.CallHeader(t, http.MethodGet, serve.url+"/metrics", "",
		http.Header{"Accept": {"application/openmetrics-text; version=1.0.0"}}, nil)
	exemplar := false
	for _, line := range strings.Split(string(metrics), "\n") {
		exemplar = exemplar || (strings.HasPrefix(line, "invsync_scan_to_event_seconds_bucket") && strings.Contains(line, `trace_id="`+traceID+`"`))
	}
	if !exemplar {
		t.Errorf("no invsync_scan_to_event_seconds bucket has an exemplar of trace %s", traceID)
	}

	// The trace, once every process has exported its part (their batch
	// exporters send every few seconds).
	want := map[string]string{ // what -> operation name
		"server":  "POST /v1/transactions",
		"produce": prefix + "transactions publish",
		"process": "process " + prefix + "transactions",
		"apply":   "apply " + prefix + "inventory-events",
	}
	var tr jaegerTrace
	found := map[string]int{} // what -> span index
	deadline = time.Now().Add(90 * time.Second)
	for {
		traces := jaegerGet(t, query+"/api/traces/"+traceID)
		clear(found)
		if len(traces) == 1 {
			tr = traces[0]
			for i, s := range tr.Spans {
				for what, op := range want {
					if s.OperationName == op {
						found[what] = i
					}
				}
			}
		}
		if len(found) == len(want) {
			break
		}
		if time.Now().After(deadline) {
			var ops []string
			for _, s := range tr.Spans {
				ops = append(ops, s.OperationName)
			}
			t.Fatalf("trace %s in Jaeger after 90 s has %d spans %q; want %v", traceID, len(tr.Spans), ops, want)
		}
		time.Sleep(time.Second)
	}
	parent := func(what string) string {
		for _, r := range tr.Spans[found[what]].References {
			if r.RefType == "CHILD_OF" {
				return r.SpanID
			}
		}
		return ""
	}
	span := func(what string) string { return tr.Spans[found[what]].SpanID }
	if p := parent("server"); p != parentID {
		t.Errorf("server span's parent %q, want the uploaded traceparent's span %s", p, parentID)
	}
	if p := parent("process"); p != span("produce") {
		t.Errorf("process span's parent %q, want the produce span %s", p, span("produce"))
	}
	if p := parent("apply"); p != span("process") {
		t.Errorf("the mirror's apply span's parent %q, want the process span %s", p, span("process"))
	}
	services := map[string]bool{}
	for what := range want {
		services[tr.Processes[tr.Spans[found[what]].ProcessID].ServiceName] = true
	}
	if os.Getenv("OTEL_SERVICE_NAME") == "" && (!services["invsync"] || !services["invsync-mirror"]) {
		t.Errorf("services in the trace: %v, want invsync and invsync-mirror", services)
	}

	// The commit that made the event visible is a span of its own trace,
	// linked to the processing.
	commitOp := "commit " + prefix + "transactions"
	processSpan := span("process")
	deadline = time.Now().Add(60 * time.Second)
	for {
		u := query + "/api/traces?" + url.Values{"service": {tr.Processes[tr.Spans[found["process"]].ProcessID].ServiceName},
			"operation": {commitOp}, "lookback": {"1h"}, "limit": {"200"}}.Encode()
		linked := false
		for _, c := range jaegerGet(t, u) {
			for _, s := range c.Spans {
				for _, r := range s.References {
					linked = linked || (s.OperationName == commitOp && r.TraceID == traceID && r.SpanID == processSpan)
				}
			}
		}
		if linked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q span in Jaeger links to the process span %s of trace %s", commitOp, processSpan, traceID)
		}
		time.Sleep(time.Second)
	}
	t.Logf("trace %s: %d spans in Jaeger (%s), commit linked: see %s/trace/%s", traceID, len(tr.Spans),
		fmt.Sprint(services), query, traceID)
	screenshotJaegerTrace(t, query, traceID, len(tr.Spans))
}

// screenshotJaegerTrace opens the trace in Jaeger's own UI in the browser
// tests' Chromium and saves the page as jaeger-trace.png in
// $INVSYNC_CONSOLE_SCREENSHOTS (the README's picture). A Jaeger built from
// its Go module serves a placeholder page instead of the UI (its web assets
// are a separate build, see scripts/jaeger.sh): then, or without Chromium,
// there is nothing to look at and the step says so and returns. Where the
// UI is served, the page must show the trace's id and every one of its spans.
func screenshotJaegerTrace(t *testing.T, query, traceID string, spans int) {
	t.Helper()
	resp, err := http.Get(query + "/")
	if err != nil {
		t.Fatalf("Jaeger's UI page: %v", err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), `id="jaeger-ui-root"`) {
		t.Logf("Jaeger at %s serves no UI (a build without its web assets): no screenshot of the trace", query)
		return
	}
	exe, err := browsertest.FindChromium()
	if err != nil {
		t.Logf("no screenshot of the trace in Jaeger's UI: %v", err)
		return
	}
	b := browsertest.Start(t, browsertest.Options{ExecPath: exe, Width: 1366, Height: 480})
	if err := b.Navigate(query + "/trace/" + traceID); err != nil {
		t.Fatal(err)
	}
	// The trace page lists one row per span; the id shows in its header.
	rows := fmt.Sprintf(`document.querySelectorAll(".span-row").length >= %d && document.body.textContent.includes(%q)`,
		spans, traceID[:7])
	if err := b.WaitUntil(rows, 30*time.Second, "the trace's spans in Jaeger's UI"); err != nil {
		t.Fatal(err)
	}
	shots := os.Getenv("INVSYNC_CONSOLE_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(os.TempDir(), "invsync-console-screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // the timeline's bars are drawn after the rows
	out := filepath.Join(shots, "jaeger-trace.png")
	if err := b.Screenshot(out); err != nil {
		t.Fatal(err)
	}
	t.Logf("the trace in Jaeger's UI: %s", out)
}
