package scanner

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/invsync/invsync/scanner/internal/fakeapi"
)

// A simulator runs hundreds of Devices in one process: each costs a
// bounded number of goroutines (database/sql's one, Run's one), they share
// one connection pool, and closing them gives everything back.
func TestAFleetOfDevicesInOneProcess(t *testing.T) {
	const n = 200
	srv := fakeapi.New(t)
	for i := range n {
		srv.Tokens[fmt.Sprintf("tok-%d", i)] = fmt.Sprintf("SCANNER-%d", i)
	}
	clk := newClock()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	base := runtime.NumGoroutine()
	devices := make([]*Device, n)
	for i := range devices {
		d, err := Open(Config{URL: srv.URL(), Token: fmt.Sprintf("tok-%d", i), ScannerID: fmt.Sprintf("SCANNER-%d", i),
			DataDir: t.TempDir(), Now: clk.Now, HTTPClient: client, SyncEvery: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		devices[i] = d
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, d := range devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.Run(ctx)
		}()
	}
	var all []string
	for i, d := range devices {
		q, err := d.Scan(context.Background(), countScan(i))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, q.TransactionID)
	}
	waitFor(t, func() bool { return len(srv.Accepted()) == n }, "every device's scan uploaded by its Run")
	perDevice := float64(runtime.NumGoroutine()-base) / n
	t.Logf("%d running devices: %.2f goroutines each beyond the baseline", n, perDevice)
	if perDevice > 3 {
		t.Errorf("%.2f goroutines per running device; the documented cost is 2 (Run, database/sql) plus shared HTTP connections", perDevice)
	}
	cancel()
	wg.Wait()
	for _, d := range devices {
		d.Close()
	}
	client.CloseIdleConnections()
	srv.AssertWrittenOnce(t, all)
	waitFor(t, func() bool { return runtime.NumGoroutine() <= base+2 }, "the goroutines to end after Close")
}
