package scanner

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/scanner/internal/fakeapi"
)

// newClock is the device clock of a test: it moves only when told.
func newClock() *testkit.Clock {
	return testkit.NewClock(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC))
}

// testConfig is a syncing device of scanner SCANNER-1 against url, in a
// fresh directory, with its own connection pool (tests must not share
// idle connections with each other's servers).
func testConfig(t *testing.T, url string, clk *testkit.Clock) Config {
	return Config{URL: url, Token: "tok-1", ScannerID: "SCANNER-1", DataDir: t.TempDir(), Now: clk.Now,
		HTTPClient: &http.Client{Transport: &http.Transport{}}, RequestTimeout: 5 * time.Second}
}

func openT(t *testing.T, cfg Config) *Device {
	t.Helper()
	d, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// onFake opens a syncing device of testConfig, changed first by each of
// tweaks, against a fresh fake server, and returns the server, the
// device's clock and the device (closed when the test ends).
func onFake(t *testing.T, tweaks ...func(*Config)) (*fakeapi.Server, *testkit.Clock, *Device) {
	t.Helper()
	srv := fakeapi.New(t)
	clk := newClock()
	cfg := testConfig(t, srv.URL(), clk)
	for _, tweak := range tweaks {
		tweak(&cfg)
	}
	return srv, clk, openT(t, cfg)
}

// mustSync syncs d once and fails the test on an error.
func mustSync(t *testing.T, d *Device) SyncReport {
	t.Helper()
	rep, err := d.Sync(context.Background())
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	return rep
}

// countScan is a valid scan whose userId tells it apart.
func countScan(n int) Scan {
	return Scan{Type: "CYCLE_COUNT", WarehouseID: "WH-001", ItemID: "ITEM-12345", LocationID: "A-05-02",
		Quantity: int64(n % 500), UserID: fmt.Sprintf("u-%d", n)}
}

// queueN queues n scans, one a clock millisecond apart, and returns their
// receipts in order.
func queueN(t *testing.T, d *Device, clk *testkit.Clock, from, n int) []Queued {
	t.Helper()
	scans := make([]Scan, n)
	for i := range scans {
		clk.Advance(time.Millisecond)
		scans[i] = countScan(from + i)
		scans[i].At = clk.Now()
	}
	qs, err := d.ScanAll(context.Background(), scans)
	if err != nil {
		t.Fatalf("ScanAll: %v", err)
	}
	return qs
}

func ids(qs []Queued) []string {
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = q.TransactionID
	}
	return out
}

func mustStatus(t *testing.T, d *Device) Status {
	t.Helper()
	st, err := d.Status()
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	return st
}

func wantStatus(t *testing.T, d *Device, colour string, queued, rejected int) Status {
	t.Helper()
	st := mustStatus(t, d)
	if st.Status != colour || st.Queued != queued || st.Rejected != rejected {
		t.Fatalf("status = %s queued %d rejected %d (%s), want %s queued %d rejected %d",
			st.Status, st.Queued, st.Rejected, st.Message, colour, queued, rejected)
	}
	return st
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, testkit.True(cond, "not yet"), "waiting for %s", what)
}

func codep(c api.ErrorCode) *api.ErrorCode { return &c }
func strp(s string) *string                { return &s }

// Scan lines in the input form (ParseScan).
const (
	lineCount  = `{"type":"CYCLE_COUNT","warehouseId":"WH-001","itemId":"ITEM-12345","locationId":"A-05-02","quantity":95,"userId":"u1"}`
	lineMove   = `{"type":"MOVE","warehouseId":"WH-001","itemId":"ITEM-12345","locationId":"A-05-02","toLocationId":"B-01-01","quantity":5,"userId":"u2"}`
	lineBad    = `{"type":"PICK","warehouseId":"WH-001","itemId":"ITEM-12345","locationId":"A-05-02","quantity":0}`
	lineUnknow = `{"type":"RECEIPT","warehouseId":"WH-001","itemId":"NOPE","locationId":"A-05-02","quantity":1,"userId":"u3"}`
)
