package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
)

// TestConsoleDataAtScale measures the console's data endpoints on a real
// in-process server holding a fleet of 500 scanners (each having sent a
// heartbeat) and 2,000 open discrepancies in one warehouse. It is a
// measurement, not a timed test: it asserts only that the data is there,
// logs p50/p99 of 50 calls of each endpoint, and runs only when asked:
//
//	INVSYNC_CONSOLE_SCALE=1 go test -run TestConsoleDataAtScale -v ./e2e/
func TestConsoleDataAtScale(t *testing.T) {
	if os.Getenv("INVSYNC_CONSOLE_SCALE") == "" {
		t.Skip("a measurement: set INVSYNC_CONSOLE_SCALE=1 to run it (figures in BENCHMARKS.md)")
	}
	in := startInstance(t, testConfig(t))
	base := in.url
	call := func(method, path, token string, body any, want int) []byte {
		t.Helper()
		status, data := consoleCall(t, method, base+path, token, body)
		if status != want {
			t.Fatalf("%s %s: %d %.300s", method, path, status, data)
		}
		return data
	}
	setup := time.Now()
	const scanners, discrepancies = 500, 2000
	for i := range scanners {
		var out api.Token
		data := call("POST", "/v1/tokens", testAdminToken, map[string]any{"name": fmt.Sprintf("SCALE-%03d", i), "role": "scanner", "warehouses": []string{consoleWH}}, 201)
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Format(time.RFC3339Nano)
		var oldest any
		if i%4 > 0 {
			oldest = now
		}
		call("POST", fmt.Sprintf("/v1/scanners/SCALE-%03d/heartbeat", i), out.Token, map[string]any{"sentAt": now, "queued": i % 4, "oldestQueuedAt": oldest, "rejected": 0}, 204)
	}
	var items []string
	for i := 10001; len(items) < discrepancies; i++ {
		if i%5 != 0 { // every fifth demo item is lot-tracked
			items = append(items, fmt.Sprintf("ITEM-%d", i))
		}
	}
	for start := 0; start < len(items); start += 1000 {
		var txs []any
		for j, it := range items[start : start+1000] {
			txs = append(txs, map[string]any{"transactionId": fmt.Sprintf("5ca1e000-0000-4000-8000-%012d", start+j), "type": "RECEIPT",
				"timestamp": time.Now().UTC().Format(time.RFC3339Nano), "warehouseId": consoleWH, "itemId": it, "locationId": "A-01-01", "quantity": 5, "userId": "scale"})
		}
		call("POST", "/v1/transactions?wait=applied", testAdminToken, map[string]any{"scannerId": "SCALE-FEED", "sentAt": time.Now().UTC().Format(time.RFC3339Nano), "transactions": txs}, 200)
	}
	cloud := consoleToken(t, base, "scale-cloud", "cloud")
	sup := consoleToken(t, base, "scale-sup", "supervisor")
	var positions []any
	for _, it := range items {
		positions = append(positions, map[string]any{"itemId": it, "locationId": "A-01-01", "lotNumber": "", "onHand": 9, "version": 1})
	}
	call("POST", "/v1/reconciliation/reports?wait=compared", cloud, map[string]any{"reportId": "scale-1", "warehouseId": consoleWH, "complete": false, "positions": positions}, 200)
	var open struct{ Discrepancies []json.RawMessage }
	deadline := time.Now().Add(time.Minute)
	for len(open.Discrepancies) < discrepancies && time.Now().Before(deadline) {
		_ = json.Unmarshal(call("GET", "/v1/discrepancies?warehouseId="+consoleWH+"&status=OPEN", sup, nil, 200), &open)
	}
	if len(open.Discrepancies) != discrepancies {
		t.Fatalf("%d open discrepancies, want %d", len(open.Discrepancies), discrepancies)
	}
	var fleet struct{ Scanners []json.RawMessage }
	if err := json.Unmarshal(call("GET", "/v1/scanners?warehouseId="+consoleWH, sup, nil, 200), &fleet); err != nil || len(fleet.Scanners) != scanners {
		t.Fatalf("%d scanners listed (%v), want %d", len(fleet.Scanners), err, scanners)
	}
	var paged struct {
		Discrepancies []json.RawMessage
		Total         int
	}
	if err := json.Unmarshal(call("GET", "/v1/discrepancies?warehouseId="+consoleWH+"&status=OPEN&limit=50&offset=1975", sup, nil, 200), &paged); err != nil ||
		len(paged.Discrepancies) != 25 || paged.Total != discrepancies {
		t.Fatalf("the last page: %d of %d (%v), want 25 of %d", len(paged.Discrepancies), paged.Total, err, discrepancies)
	}
	t.Logf("setup (500 scanner tokens and heartbeats, 2,000 records, a report of 2,000 mismatches): %s", time.Since(setup).Round(time.Millisecond))
	for _, ep := range []struct{ name, path string }{
		{"overview", "/v1/console/overview"},
		{"scanners", "/v1/scanners?warehouseId=" + consoleWH},
		{"one scanner", "/v1/scanners/SCALE-250"},
		{"open discrepancies", "/v1/discrepancies?warehouseId=" + consoleWH + "&status=OPEN"},
		{"a page of them", "/v1/discrepancies?warehouseId=" + consoleWH + "&status=OPEN&limit=50&offset=1000"},
		{"a page of scanners", "/v1/scanners?warehouseId=" + consoleWH + "&limit=50&offset=250"},
	} {
		var ds []time.Duration
		size := 0
		for range 50 {
			start := time.Now()
			size = len(call("GET", ep.path, sup, nil, 200))
			ds = append(ds, time.Since(start))
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		t.Logf("GET %-55s p50 %7.2f ms  p99 %7.2f ms  %7d bytes", ep.path, consoleMs(ds[len(ds)/2]), consoleMs(ds[len(ds)*99/100]), size)
	}
}

func consoleMs(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
