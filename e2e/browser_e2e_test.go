package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/internal/testkit/scannerpage"
	"github.com/invsync/invsync/web/browsertest"
)

// The scanner web app, as an operator uses it, against the real server:
// `invsync serve` (in process) serves /scanner/ and the API; a headless
// Chromium enrols by link, takes scans typed as a keyboard-wedge scanner
// types them, loses its network, is reloaded and killed; the server is
// then checked through its API and events (checkServer) for every scan,
// once. Skipped, saying why, when no Chromium is installed.

var updateScreenshots = flag.Bool("update-screenshots", false,
	"write the browser end-to-end tests' screenshots into docs/screenshots (default: a temporary directory)")

// e2eScreenshotDir is docs/screenshots with -update-screenshots, else a
// directory under the system's temporary directory (kept, to be looked at).
func e2eScreenshotDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "invsync-e2e-screenshots")
	if *updateScreenshots {
		dir = filepath.Join("..", "docs", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browserWait bounds each wait for the page.
const browserWait = 30 * time.Second

// scannerApp is one browser with the scanner app of one server origin.
type scannerApp struct {
	*scannerpage.Page
	exe    string
	origin string // where the app is loaded from: the server or a gate in front of it
}

func openScannerApp(t *testing.T, exe, origin string) *scannerApp {
	t.Helper()
	a := &scannerApp{Page: scannerpage.New(t, browsertest.Start(t, browsertest.Options{ExecPath: exe}), browserWait), exe: exe, origin: origin}
	t.Cleanup(func() {
		a.CheckNoExceptions()
		a.B.Close() // a relaunched browser is not Start's to close
	})
	return a
}

// scan performs one RECEIPT through the keyboard.
func (a *scannerApp) scan(s e2eScan) {
	a.T.Helper()
	a.Scan(s.location, s.item, s.lot, fmt.Sprint(s.qty), "")
}

// queue reads the device's queue from IndexedDB, in upload order, as the
// ledger of what it acknowledged.
func (a *scannerApp) queue() []e2eScan {
	a.T.Helper()
	type stored struct {
		TransactionID string `json:"transactionId"`
		Type          string `json:"type"`
		ItemID        string `json:"itemId"`
		LocationID    string `json:"locationId"`
		LotNumber     string `json:"lotNumber"`
		Quantity      int64  `json:"quantity"`
	}
	txs, err := browsertest.Eval[[]stored](a.B, `import("./js/store.js").then(s => s.scansIn("queued")).then(l => l.map(x => x.tx))`)
	a.Must(err)
	out := make([]e2eScan, len(txs))
	for i, tx := range txs {
		if tx.Type != "RECEIPT" {
			a.T.Fatalf("queued scan %s is a %s, want RECEIPT", tx.TransactionID, tx.Type)
		}
		out[i] = e2eScan{id: tx.TransactionID, item: tx.ItemID, location: tx.LocationID, lot: tx.LotNumber, qty: tx.Quantity}
	}
	return out
}

func ids(scans []e2eScan) []string {
	out := make([]string, len(scans))
	for i, s := range scans {
		out[i] = s.id
	}
	return out
}

// screenshot saves the viewport as name in the screenshot directory.
func (a *scannerApp) screenshot(name string) {
	a.T.Helper()
	p := filepath.Join(e2eScreenshotDir(a.T), name)
	a.Must(a.B.Screenshot(p))
	a.T.Logf("screenshot: %s", p)
}

// uploadGate is a loopback HTTP proxy in front of the server that records
// the answer to every upload and can withhold one from the browser: the
// server has done the work, the device never hears of it.
type uploadGate struct {
	srv *httptest.Server

	mu      sync.Mutex
	answers []map[string]string // per upload, transactionId -> status
	hold    bool
	held    chan struct{} // closed once an answer is withheld
	release chan struct{}
}

func newUploadGate(t *testing.T, target string) *uploadGate {
	t.Helper()
	g := &uploadGate{held: make(chan struct{}), release: make(chan struct{})}
	rp := reverseProxy(t, target)
	rp.ModifyResponse = g.modify
	rp.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) }
	g.srv = httptest.NewServer(rp)
	t.Cleanup(func() { close(g.release); g.srv.Close() })
	return g
}

// holdNext withholds the answer to the next upload until the browser goes
// away.
func (g *uploadGate) holdNext() {
	g.mu.Lock()
	g.hold = true
	g.mu.Unlock()
}

func (g *uploadGate) uploads() []map[string]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.answers)
}

func (g *uploadGate) modify(resp *http.Response) error {
	r := resp.Request
	if r.Method != http.MethodPost || r.URL.Path != "/v1/transactions" {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var out api.UploadResponse
	_ = json.Unmarshal(body, &out)
	ans := map[string]string{}
	for _, res := range out.Results {
		ans[res.TransactionID] = string(res.Status)
	}
	g.mu.Lock()
	g.answers = append(g.answers, ans)
	hold := g.hold
	g.hold = false
	g.mu.Unlock()
	if hold {
		close(g.held)
		select {
		case <-r.Context().Done(): // the browser is gone
		case <-g.release:
		}
		return errors.New("answer withheld")
	}
	return nil
}

// TestBrowserE2E drives the scanner app against one real server, each
// scenario with its own scanner token, browser profile and items.
func TestBrowserE2E(t *testing.T) {
	exe := browsertest.RequireChromium(t)
	start := time.Now()
	in := startInstance(t, testConfig(t)) // the built-in demo catalog
	t.Logf("server ready in %s", time.Since(start).Round(time.Millisecond))

	t.Run("OfflineScansSurviveAReloadAndSyncOnce", func(t *testing.T) {
		browserOfflineScans(t, in, exe)
	})
	t.Run("KilledMidUploadLosesAndDoublesNothing", func(t *testing.T) {
		browserKilledMidUpload(t, in, exe)
	})
	t.Run("RejectedScanTurnsRed", func(t *testing.T) {
		browserRejectedScan(t, in, exe)
	})
	t.Run("RevokedTokenTurnsRed", func(t *testing.T) {
		browserRevokedToken(t, in, exe)
	})
	t.Logf("browser end-to-end: %s in all", time.Since(start).Round(time.Millisecond))
}

// offlineScannerApp opens the scanner app enrolled as scanner id, then
// cuts its network: the indicator shows it offline.
func offlineScannerApp(t *testing.T, in *testInstance, exe, id string) *scannerApp {
	t.Helper()
	token, _ := newScannerToken(t, in.url, id, e2eWarehouse)
	a := openScannerApp(t, exe, in.url)
	a.Enrol(a.origin, token)
	a.Must(a.B.SetOffline(true))
	a.WaitStatus("yellow", "Offline")
	return a
}

// browserOfflineScans: offline, 50 scans typed through the keyboard, a
// reload with no network (app and queue still there), back online: the
// indicator goes yellow to green and the server holds those 50, once each.
func browserOfflineScans(t *testing.T, in *testInstance, exe string) {
	start := time.Now()
	const id = "SCANNER-21"
	a := offlineScannerApp(t, in, exe, id)
	plan := []e2eScan{
		{location: "A-01-01", item: "ITEM-12001"},
		{location: "A-01-02", item: "ITEM-12002"},
		{location: "B-01-01", item: "ITEM-12003"},
		{location: "B-02-01", item: "ITEM-12001"},
		{location: "C-07-01", item: "ITEM-12345", lot: "LOT-2024-089"}, // lot-tracked
	}
	const scans = 50
	var typed []e2eScan
	for i := range scans {
		s := plan[i%len(plan)]
		s.qty = int64(i + 1)
		typed = append(typed, s)
		if i == 14 {
			// The scan screen mid-scan: location, item and lot in, the
			// quantity next.
			a.Wedge("locationId", s.location)
			a.Wedge("itemId", s.item)
			a.Wedge("lotNumber", s.lot)
			a.WaitJS(`document.activeElement.id === "f-quantity" && document.querySelector("#d-itemId").textContent !== ""`)
			a.screenshot("scanner-scan.png")
			a.Wedge("quantity", fmt.Sprint(s.qty))
			a.WaitJS(`document.activeElement.id === "f-locationId" && document.querySelector("#f-locationId").value === ""`)
			continue
		}
		a.scan(s)
	}
	a.WaitCounts(scans, 0)
	a.WaitStatus("yellow", "50 scans queued")
	queued := a.queue()
	if len(queued) != scans {
		t.Fatalf("the device queued %d scans, want %d", len(queued), scans)
	}
	for i, s := range queued {
		w := typed[i]
		if s.item != w.item || s.location != w.location || s.lot != w.lot || s.qty != w.qty {
			t.Fatalf("queued scan %d is %+v, typed %+v", i, s, w)
		}
	}
	for _, s := range queued {
		if code, _, _ := testkit.Call(t, "GET", in.url+"/v1/transactions/"+s.id, testAdminToken, nil); code != 404 {
			t.Fatalf("scan %s reached the server (%d) while the device was offline", s.id, code)
		}
	}
	// Yellow, with the queue listed under the indicator.
	a.Must(a.B.Click("#queue summary"))
	a.WaitJS(`document.querySelectorAll("#queue-list li").length === 50`)
	a.Must(a.B.Exec(`document.querySelector("#queue").scrollIntoView({block: "start"})`))
	a.screenshot("scanner-yellow.png")

	// Reload with no network: the service worker serves the app; the
	// queue is where it was.
	a.Must(a.B.Reload())
	a.WaitJS(`!document.querySelector("#work").hidden`)
	a.WaitCounts(scans, 0)
	a.WaitStatus("yellow", "Offline")
	if got := a.queue(); !slices.Equal(ids(got), ids(queued)) {
		t.Fatalf("after an offline reload the queue holds %d scans, want the same %d", len(got), len(queued))
	}

	a.WatchStatus()
	online := time.Now()
	a.Must(a.B.SetOffline(false))
	a.WaitStatus("green", "Synced")
	a.WaitCounts(0, 0)
	synced := time.Since(online)
	if c := a.Colours(); c != "yellow>green" {
		t.Errorf("the indicator went %s, want yellow>green", c)
	}
	if left := a.queue(); len(left) != 0 {
		t.Errorf("%d scans still queued on the device after green", len(left))
	}
	f := checkServer(t, in.url, in.brokers(), in.cfg.TopicPrefix, id, queued)

	// Green, with the scans just synced listed under the indicator.
	a.Must(a.B.Exec(`document.querySelector("#queue").open = false; document.querySelector("#recent").open = true`))
	a.WaitJS(`document.querySelectorAll("#recent-list li").length > 0`)
	a.Must(a.B.Exec(`document.querySelector("#recent").scrollIntoView({block: "start"})`))
	a.screenshot("scanner-green.png")
	t.Logf("browser offline: %s synced_in=%s took=%s", f, synced.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// browserKilledMidUpload: a backlog of 1,020 scans (20 typed, 1,000 stored
// through the app's queue module), the browser killed while the server's
// answer to the first upload is on its way (the server has accepted those
// 1,000; the device never hears), then reopened on the same profile: the
// device resends, the server answers duplicate, nothing is lost or doubled.
func browserKilledMidUpload(t *testing.T, in *testInstance, exe string) {
	start := time.Now()
	const id = "SCANNER-22"
	token, _ := newScannerToken(t, in.url, id, e2eWarehouse)
	gate := newUploadGate(t, in.url)
	a := openScannerApp(t, exe, gate.srv.URL)
	a.Enrol(a.origin, token)

	a.Must(a.B.SetOffline(true))
	a.WaitStatus("yellow", "Offline")
	for i := range 20 {
		a.scan(e2eScan{location: []string{"A-06-01", "A-06-02"}[i%2], item: []string{"ITEM-12101", "ITEM-12102"}[i%2], qty: int64(i + 1)})
	}
	a.WaitCounts(20, 0)
	a.Must(a.B.Exec(`import("./js/store.js").then(async (s) => {
	  const locs = ["F-01-01", "F-01-02", "G-02-01", "G-02-02"];
	  const t0 = Date.now() - 3600e3;
	  for (let i = 0; i < 1000; i++) {
	    await s.addScan({transactionId: crypto.randomUUID(), type: "RECEIPT", timestamp: new Date(t0 + i * 1000).toISOString(),
	      warehouseId: "WH-001", itemId: "ITEM-12103", locationId: locs[i % 4], quantity: 1 + i % 7, userId: "e2e"});
	  }
	})`))
	queued := a.queue()
	if len(queued) != 1020 {
		t.Fatalf("the device queued %d scans, want 1020", len(queued))
	}

	gate.holdNext()
	a.Must(a.B.SetOffline(false))
	select {
	case <-gate.held:
	case <-time.After(browserWait):
		t.Fatalf("no upload reached the server; page: %v", a.Text("#status"))
	}
	a.Must(a.B.Kill())
	held := gate.uploads()[0]
	for _, st := range held {
		if st != "accepted" {
			t.Fatalf("the withheld upload was answered %v, want every scan accepted", held)
		}
	}
	t.Logf("killed the browser while the answer to an upload of %d scans (all accepted by the server) was on its way", len(held))

	a.Relaunch()
	a.Must(a.B.Navigate(gate.srv.URL + "/scanner/"))
	a.WaitStatus("green", "Synced")
	a.WaitCounts(0, 0)
	if left := a.queue(); len(left) != 0 {
		t.Errorf("%d scans still queued after green", len(left))
	}

	// Every scan accepted once over all the uploads; the withheld ones
	// were resent and answered duplicate.
	accepted, duplicate := map[string]int{}, map[string]int{}
	for _, u := range gate.uploads() {
		for tx, st := range u {
			switch st {
			case "accepted":
				accepted[tx]++
			case "duplicate":
				duplicate[tx]++
			default:
				t.Errorf("scan %s answered %s", tx, st)
			}
		}
	}
	for _, s := range queued {
		if accepted[s.id] != 1 {
			t.Errorf("scan %s answered accepted %d times", s.id, accepted[s.id])
		}
	}
	for tx := range held {
		if duplicate[tx] != 1 {
			t.Errorf("withheld scan %s answered duplicate %d times after the restart, want 1 (resent once)", tx, duplicate[tx])
		}
	}
	f := checkServer(t, in.url, in.brokers(), in.cfg.TopicPrefix, id, queued)
	t.Logf("browser killed mid-upload: %s kills=1 uploads=%d resent_answered_duplicate=%d took=%s",
		f, len(gate.uploads()), len(duplicate), time.Since(start).Round(time.Millisecond))
}

// browserRejectedScan: the item's limit is lowered on the server while the
// device is offline with its cached catalog; a quantity between the two
// limits passes the device's check, and the server rejects it
// UNREASONABLE_QUANTITY: red, with the server's message, and nothing
// written. After that sync the device holds the new limit.
func browserRejectedScan(t *testing.T, in *testInstance, exe string) {
	const id = "SCANNER-23"
	a := offlineScannerApp(t, in, exe, id)

	const item = "ITEM-12201"
	putCatalog(t, in, map[string]any{"warehouses": []any{}, "items": []any{
		map[string]any{"itemId": item, "description": "Demo item 12201", "maxTransactionQuantity": 10}}})
	type catalogItem struct {
		ItemID                 string `json:"itemId"`
		MaxTransactionQuantity int64  `json:"maxTransactionQuantity"`
	}
	lowered := func(it catalogItem) bool { return it.ItemID == item && it.MaxTransactionQuantity == 10 }
	testkit.Eventually(t, 10*time.Second, testkit.True(func() bool {
		var cat struct{ Items []catalogItem }
		do(t, "GET", in.url+"/v1/catalog?warehouseId="+e2eWarehouse, nil, &cat)
		return slices.ContainsFunc(cat.Items, lowered)
	}, "the lowered limit never showed in GET /v1/catalog"))

	a.scan(e2eScan{location: "A-03-01", item: item, qty: 50})
	a.WaitCounts(1, 0)
	rejected := a.queue()[0]
	a.Must(a.B.SetOffline(false))
	a.WaitStatus("red", "1 scan rejected")
	a.WaitCounts(0, 1)
	card := a.Text("#rejected-list li")
	if !strings.Contains(card, "UNREASONABLE_QUANTITY") || !strings.Contains(card, "quantity 50 exceeds the limit of 10 for item "+item) {
		t.Errorf("rejection card = %q, want the server's code and message", card)
	}
	a.Must(a.B.Click("#st-action")) // "Review": the card comes into view
	a.screenshot("scanner-red.png")
	if code, _, _ := testkit.Call(t, "GET", in.url+"/v1/transactions/"+rejected.id, testAdminToken, nil); code != 404 {
		t.Errorf("the rejected scan is known to the server: %d, want 404", code)
	}
	var pos api.Positions
	do(t, "GET", in.url+"/v1/positions?warehouseId="+e2eWarehouse+"&itemId="+item, nil, &pos)
	if pos.Totals.OnHand != 0 || len(pos.Positions) != 0 {
		t.Errorf("the rejected scan changed stock: %+v", pos)
	}

	// The sync refreshed the catalog: the same quantity is now refused on
	// the device, before it is queued.
	a.WaitJS(`await import("./js/catalog.js").then(c => c.item("` + item + `")?.maxTransactionQuantity === 10)`)
	a.Must(a.B.Focus("#f-locationId"))
	a.Wedge("locationId", "A-03-01")
	a.Wedge("itemId", item)
	a.Wedge("quantity", "50")
	a.WaitJS(`document.querySelector("#e-quantity").textContent.includes("limit of 10")`)
	if q := a.queue(); len(q) != 0 {
		t.Errorf("a scan over the refreshed limit was queued: %+v", q)
	}
	a.Must(a.B.Click("#rejected-list li .dismiss"))
	a.WaitStatus("green", "Synced")
}

// browserRevokedToken: the scanner's token is revoked; the next sync turns
// the indicator red with the re-enrol message, the scan stays queued and
// nothing reaches the server.
func browserRevokedToken(t *testing.T, in *testInstance, exe string) {
	const id = "SCANNER-24"
	token, tokenID := newScannerToken(t, in.url, id, e2eWarehouse)
	a := openScannerApp(t, exe, in.url)
	a.Enrol(a.origin, token)
	first := e2eScan{location: "H-20-02", item: "ITEM-12301", qty: 5}
	a.scan(first)
	a.WaitJS(`await import("./js/store.js").then(s => s.recent()).then(l => l.length === 1)`)
	a.WaitStatus("green", "Synced")
	a.WaitCounts(0, 0)
	var synced []e2eScan
	recent, err := browsertest.Eval[[]string](a.B, `import("./js/store.js").then(s => s.recent()).then(l => l.map(x => x.tx.transactionId))`)
	a.Must(err)
	if len(recent) != 1 {
		t.Fatalf("recently synced: %v, want the one scan", recent)
	}
	first.id = recent[0]
	synced = append(synced, first)

	revokeToken(t, in.url, tokenID, token)
	a.scan(e2eScan{location: "H-20-02", item: "ITEM-12301", qty: 6})
	a.WaitTokenRefused(1)
	a.screenshot("scanner-red-token.png")
	left := a.queue()
	if len(left) != 1 {
		t.Fatalf("the device holds %d queued scans, want the one refused", len(left))
	}
	if code, _, _ := testkit.Call(t, "GET", in.url+"/v1/transactions/"+left[0].id, testAdminToken, nil); code != 404 {
		t.Errorf("a scan sent with a revoked token reached the server (%d)", code)
	}
	f := checkServer(t, in.url, in.brokers(), in.cfg.TopicPrefix, id, synced)
	t.Logf("browser revoked token: %s queued_after_refusal=%d", f, len(left))
}
