package e2e

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
)

// TestTailPrintsDecodedEvents: `invsync tail` prints the committed events
// as JSON, decoded, and its filters keep only what was asked for.
func TestTailPrintsDecodedEvents(t *testing.T) {
	in, cfg := startTestDeployment(t)
	up := api.UploadRequest{ScannerID: "SCANNER-08", SentAt: time.Now().UTC().Format(time.RFC3339Nano), Transactions: story(time.Now().Add(-time.Hour))}
	var res api.UploadResponse
	if code := do(t, "POST", in.url+"/v1/transactions?wait=applied", up, &res); code != 200 {
		t.Fatalf("upload: %d", code)
	}
	tailOf := func(args ...string) []map[string]any {
		t.Helper()
		var out, errOut bytes.Buffer
		args = append(args, "--brokers", strings.Join(in.brokers(), ","), "--topic-prefix", cfg.TopicPrefix)
		if code := invsync(t, append([]string{"tail"}, args...), &out, &errOut); code != 0 {
			t.Fatalf("tail %v: exit %d: %s", args, code, errOut.String())
		}
		var lines []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if l == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("tail printed a line that is not JSON: %q", l)
			}
			lines = append(lines, m)
		}
		return lines
	}
	// The story applies 8 transactions with events (e2e-7 is a version
	// conflict, e2e-9 rejected at ingest); the MOVE has two.
	all := tailOf("inventory-events")
	byID := map[string]map[string]any{}
	for _, l := range all {
		v := l["value"].(map[string]any)
		byID[v["eventId"].(string)] = v
	}
	if len(all) != 8 || len(byID) != 8 {
		t.Fatalf("tail printed %d events (%d distinct), want 8: %v", len(all), len(byID), all)
	}
	if v := byID["evt-e2e-6-1"]; v == nil || v["lotNumber"] != "LOT-1" || v["resultingOnHand"].(float64) != 50 || v["eventType"] != "InventoryReceipt" {
		t.Errorf("evt-e2e-6-1 decoded as %v", v)
	}
	onlyB := tailOf("inventory-events", "--item", "IT-B")
	if len(onlyB) != 2 {
		t.Fatalf("--item IT-B printed %d events, want 2 (e2e-6, e2e-8)", len(onlyB))
	}
	for _, l := range onlyB {
		if v := l["value"].(map[string]any); v["itemId"] != "IT-B" {
			t.Errorf("--item IT-B printed %v", v)
		}
	}
	if n := len(tailOf("inventory-events", "--warehouse", "WH-OTHER")); n != 0 {
		t.Errorf("--warehouse WH-OTHER printed %d events", n)
	}
	if n := len(tailOf(cfg.TopicPrefix+"inventory-events", "--limit", "3")); n != 3 {
		t.Errorf("full topic name with --limit 3 printed %d events", n)
	}
	var out, errOut bytes.Buffer
	if code := invsync(t, []string{"tail", "no-such-topic", "--brokers", strings.Join(in.brokers(), ","), "--topic-prefix", cfg.TopicPrefix}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "does not exist") {
		t.Errorf("unknown topic: exit %d, %q", code, errOut.String())
	}
	if code := invsync(t, []string{"tail", "--from-end"}, &out, &errOut); code != 2 {
		t.Errorf("no topic and --from-end without --follow: exit %d, want 2", code)
	}
}
