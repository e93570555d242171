package ingest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestConsoleOverview(t *testing.T) {
	f := newFleetHarness(t)
	// The first look samples the metrics; 20 accepted uploads 10 s later
	// are 2 a second.
	if r := f.as("reader-1", http.MethodGet, "/v1/console/overview", nil); r.status != http.StatusOK {
		t.Fatalf("overview: %d %s", r.status, r.body)
	}
	f.clock.Advance(10 * time.Second)
	for i := range 20 {
		f.upload("", envelope(tx(fmt.Sprintf("c0ffee00-0000-4000-8000-%012d", i))))
	}
	if r := f.as("SCANNER-08", http.MethodPost, "/v1/scanners/SCANNER-08/heartbeat", heartbeat(sentAt, 1, scanTime, 0)); r.status != http.StatusNoContent {
		t.Fatalf("heartbeat: %d %s", r.status, r.body)
	}
	r := f.as("sup-1", http.MethodGet, "/v1/console/overview", nil)
	if r.status != http.StatusOK {
		t.Fatalf("overview: %d %s", r.status, r.body)
	}
	var out struct {
		TPS      float64 `json:"transactionsPerSecond"`
		Kafka    struct{ Ready bool }
		Series   []struct{ TransactionsPerSecond float64 }
		Scanners struct {
			ByStatus        map[string]int
			QueuedOnDevices int64
		}
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	if out.TPS != 2 || len(out.Series) != 1 || out.Series[0].TransactionsPerSecond != 2 || !out.Kafka.Ready {
		t.Fatalf("overview after 20 accepted in 10 s: %s", r.body)
	}
	// The supervisor of WH-001 sees its 4 scanners: SCANNER-08 yellow,
	// SCANNER-OLD red (revoked), two never seen.
	if s := out.Scanners; s.ByStatus["yellow"] != 1 || s.ByStatus["red"] != 1 || s.ByStatus["offline"] != 2 || s.ByStatus["green"] != 0 || s.QueuedOnDevices != 1 {
		t.Fatalf("scanners: %+v", s)
	}
	for _, who := range []string{"SCANNER-08", "cloud-1"} {
		assertError(t, f.as(who, http.MethodGet, "/v1/console/overview", nil), http.StatusForbidden, "FORBIDDEN")
	}
	assertError(t, f.as("", http.MethodGet, "/v1/console/overview", nil), http.StatusUnauthorized, "UNAUTHENTICATED")
}
