package scanner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/scanner/internal/fakeapi"
)

func TestQueuedScansSurviveReopenWithTheirIDsAndTimestamps(t *testing.T) {
	srv := fakeapi.New(t)
	clk := newClock()
	cfg := testConfig(t, srv.URL(), clk)
	d, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []Queued
	for i := range 3 {
		clk.Advance(1500 * time.Microsecond) // sub-millisecond part is dropped at the scan
		q, err := d.Scan(context.Background(), countScan(i))
		if err != nil {
			t.Fatal(err)
		}
		if q.Timestamp != clk.Now().Truncate(time.Millisecond) {
			t.Fatalf("timestamp %v, want the clock at the scan %v", q.Timestamp, clk.Now())
		}
		got = append(got, q)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := d.Scan(context.Background(), countScan(9)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Scan after Close: %v, want ErrClosed", err)
	}
	if len(srv.Requests()) != 0 {
		t.Fatal("nothing may be sent without a Sync")
	}

	clk.Advance(time.Hour)
	d2 := openT(t, cfg)
	wantStatus(t, d2, Yellow, 3, 0)
	if _, err := d2.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 || len(reqs[0].Txs) != 3 {
		t.Fatalf("want one request of 3 transactions, got %d requests", len(reqs))
	}
	for i, raw := range reqs[0].Txs {
		var tx api.Transaction
		if err := json.Unmarshal(raw, &tx); err != nil {
			t.Fatalf("sent #%d is not a transaction: %v: %s", i, err, raw)
		}
		if tx.TransactionID != got[i].TransactionID || tx.Timestamp != api.FormatTime(got[i].Timestamp) {
			t.Errorf("sent #%d = %s at %s, queued as %s at %s", i, tx.TransactionID, tx.Timestamp, got[i].TransactionID, api.FormatTime(got[i].Timestamp))
		}
	}
	srv.AssertWrittenOnce(t, ids(got))
	wantStatus(t, d2, Green, 0, 0)
}

func TestQueueIsWALWithFullSync(t *testing.T) {
	d := openT(t, Config{DataDir: t.TempDir()})
	var mode string
	var level int
	if err := d.db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := d.db.QueryRow(`PRAGMA synchronous`).Scan(&level); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || level != 2 {
		t.Fatalf("journal_mode=%s synchronous=%d, want wal and 2 (FULL)", mode, level)
	}
	var version int
	if err := d.db.QueryRow(`SELECT MAX(version) FROM schema_migrations`).Scan(&version); err != nil || version != len(migrations) {
		t.Fatalf("schema version %d (%v), want %d", version, err, len(migrations))
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	dir := t.TempDir()
	d := openT(t, Config{DataDir: dir})
	if _, err := d.db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if _, err := Open(Config{DataDir: dir}); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Open of a newer schema: %v, want ErrNewerSchema", err)
	}
}

func TestUploadsOldestFirstInBatchesOfAtMost1000(t *testing.T) {
	srv, clk, d := onFake(t)
	qs := queueN(t, d, clk, 0, 2500)
	rep := mustSync(t, d)
	if rep.Accepted != 2500 || rep.Requests != 3 || rep.Remaining != 0 {
		t.Fatalf("report %+v, want 2500 accepted in 3 requests", rep)
	}
	var sizes []int
	for _, r := range srv.Requests() {
		sizes = append(sizes, len(r.Txs))
	}
	if !slices.Equal(sizes, []int{1000, 1000, 500}) {
		t.Fatalf("batch sizes %v, want [1000 1000 500]", sizes)
	}
	if got := srv.Accepted(); !slices.Equal(got, ids(qs)) {
		t.Fatal("the server did not receive the scans in the order they were scanned")
	}
	wantStatus(t, d, Green, 0, 0)
}

func TestBatchesStayUnderTheBodyLimit(t *testing.T) {
	srv, _, d := onFake(t)
	long := strings.Repeat("x", 128)
	scans := make([]Scan, 1000)
	for i := range scans {
		scans[i] = Scan{Type: "MOVE", WarehouseID: long[:120] + "WH", ItemID: long, LocationID: long[:127] + "A",
			ToLocationID: long[:127] + "B", LotNumber: long, UserID: fmt.Sprintf("%s%028d", long[:100], i),
			ReasonCode: long, Quantity: 1}
	}
	if _, err := d.ScanAll(context.Background(), scans); err != nil {
		t.Fatal(err)
	}
	mustSync(t, d)
	reqs := srv.Requests()
	total := 0
	for _, r := range reqs {
		if r.Status != 200 || r.Size > MaxBodyBytes {
			t.Fatalf("request of %d bytes answered %d: the device must keep bodies under 1 MiB", r.Size, r.Status)
		}
		total += len(r.Txs)
	}
	if len(reqs) < 2 || total != 1000 {
		t.Fatalf("%d requests carrying %d scans; 1000 scans this large need at least two", len(reqs), total)
	}
}

func TestA413HalvesTheBatch(t *testing.T) {
	srv, clk, d := onFake(t)
	srv.MaxBody = 40 << 10 // a server with a smaller limit than the device's
	qs := queueN(t, d, clk, 0, 1000)
	rep := mustSync(t, d)
	if rep.Accepted != 1000 {
		t.Fatalf("report %+v, want all 1000 accepted", rep)
	}
	saw413 := false
	for _, r := range srv.Requests() {
		saw413 = saw413 || r.Status == 413
	}
	if !saw413 {
		t.Fatal("the server never answered 413: the test does not test splitting")
	}
	srv.AssertWrittenOnce(t, ids(qs))
}

func TestInvalidScanIsNotQueued(t *testing.T) {
	clk := newClock()
	d := openT(t, Config{DataDir: t.TempDir(), Now: clk.Now})
	bad := countScan(1)
	bad.Type = "PICK"
	bad.Quantity = 0
	if _, err := d.ScanAll(context.Background(), []Scan{countScan(0), bad}); !errors.Is(err, ErrInvalidScan) || !strings.Contains(err.Error(), "scan 1") {
		t.Fatalf("ScanAll with an invalid scan: %v, want ErrInvalidScan naming scan 1", err)
	}
	wantStatus(t, d, Green, 0, 0)
}

func TestScannerIDAndLockBindTheDataDirectory(t *testing.T) {
	srv := fakeapi.New(t)
	clk := newClock()
	cfg := testConfig(t, srv.URL(), clk)
	d := openT(t, cfg)
	if _, err := Open(cfg); !errors.Is(err, ErrLocked) {
		t.Fatalf("second syncing Open of one directory: %v, want ErrLocked", err)
	}
	view, err := Open(Config{DataDir: cfg.DataDir})
	if err != nil {
		t.Fatalf("an operator view beside the syncing device: %v", err)
	}
	queueN(t, d, clk, 0, 1)
	if st := mustStatus(t, view); st.Queued != 1 || st.ScannerID != "SCANNER-1" {
		t.Fatalf("the operator view sees %+v", st)
	}
	view.Close()
	d.Close()
	other := cfg
	other.ScannerID = "SCANNER-2"
	if _, err := Open(other); !errors.Is(err, ErrScannerMismatch) {
		t.Fatalf("Open with another scanner id over queued scans: %v, want ErrScannerMismatch", err)
	}
}

func TestConcurrentScansWhileRunSyncs(t *testing.T) {
	srv, _, d := onFake(t, func(c *Config) { c.SyncEvery = 20 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- d.Run(ctx) }()
	var mu sync.Mutex
	var all []string
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				q, err := d.Scan(context.Background(), countScan(w*1000+i))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				all = append(all, q.TransactionID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	waitFor(t, func() bool { return mustStatus(t, d).Queued == 0 }, "Run to upload every scan")
	cancel()
	if err := <-runDone; err != nil {
		t.Fatalf("Run: %v", err)
	}
	wantStatus(t, d, Green, 0, 0)
	srv.AssertWrittenOnce(t, all)
}

func TestRunStopsOnCloseAndIsSingle(t *testing.T) {
	srv := fakeapi.New(t)
	d, err := Open(testConfig(t, srv.URL(), newClock()))
	if err != nil {
		t.Fatal(err)
	}
	// A scan queued before Run starts: its upload shows Run is going.
	q, err := d.Scan(context.Background(), countScan(1))
	if err != nil {
		t.Fatal(err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- d.Run(context.Background()) }()
	waitFor(t, func() bool { return slices.Contains(srv.Accepted(), q.TransactionID) }, "Run to upload the queued scan")
	if err := d.Run(context.Background()); !errors.Is(err, ErrRunning) {
		t.Fatalf("a second Run: %v, want ErrRunning", err)
	}
	d.Close()
	if err := testkit.Receive(t, runDone, 5*time.Second, "Close to stop Run"); err != nil {
		t.Fatalf("Run after Close: %v", err)
	}
}

func TestCloseAbortsAnUploadInFlightAndKeepsTheScans(t *testing.T) {
	srv := fakeapi.New(t)
	srv.Delay = 3 * time.Second
	clk := newClock()
	cfg := testConfig(t, srv.URL(), clk)
	d, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	queueN(t, d, clk, 0, 3)
	syncErr := make(chan error, 1)
	go func() {
		_, err := d.Sync(context.Background())
		syncErr <- err
	}()
	waitFor(t, func() bool { return len(srv.Requests()) == 1 }, "the upload to reach the server")
	start := time.Now()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("Close waited %v for the upload instead of aborting it", took)
	}
	if err := <-syncErr; err == nil {
		t.Fatal("the aborted Sync reported success")
	}
	view := openT(t, Config{DataDir: cfg.DataDir})
	if st := mustStatus(t, view); st.Queued != 3 {
		t.Fatalf("after an aborted upload %d scans are queued, want 3 (the answer never came)", st.Queued)
	}
}
