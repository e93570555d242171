package e2e

import (
	"bytes"
	"context"
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
func e2eScreenshotDir(t *testing.T) string {
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
	t      *testing.T
	exe    string
	origin string // where the app is loaded from: the server or a gate in front of it
	b      *browsertest.Browser
}

func openScannerApp(t *testing.T, exe, origin string) *scannerApp {
	t.Helper()
	a := &scannerApp{t: t, exe: exe, origin: origin, b: browsertest.Start(t, browsertest.Options{ExecPath: exe})}
	t.Cleanup(func() {
		a.checkNoExceptions()
		a.b.Close() // a relaunched browser is not Start's to close
	})
	return a
}

// checkNoExceptions fails the test on an uncaught exception of the page.
func (a *scannerApp) checkNoExceptions() {
	a.t.Helper()
	for _, e := range a.b.Exceptions() {
		a.t.Errorf("uncaught exception in the app: %s", e)
	}
	for _, e := range a.b.ConsoleErrors() {
		a.t.Logf("console.error: %s", e)
	}
}

// relaunch replaces a killed browser with a new one on the same profile.
func (a *scannerApp) relaunch() {
	a.t.Helper()
	a.checkNoExceptions()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nb, err := a.b.Relaunch(ctx)
	if err != nil {
		a.t.Fatal(err)
	}
	a.b = nb
}

func (a *scannerApp) must(err error) {
	a.t.Helper()
	if err != nil {
		a.t.Fatal(err)
	}
}

// appState describes the page in failure messages.
const appState = `({status: document.querySelector("#status")?.dataset.status,
  text: document.querySelector("#status .st-text")?.textContent.replace(/\s+/g, " ").trim(),
  queued: document.querySelector(".st-queued")?.textContent, rejected: document.querySelector(".st-rejected")?.textContent,
  focus: document.activeElement?.id, msg: document.querySelector("#scan-msg")?.textContent,
  lastError: document.querySelector("#dev-error")?.textContent,
  errors: [...document.querySelectorAll(".err")].map(e => e.textContent).filter(Boolean), online: navigator.onLine})`

func (a *scannerApp) waitJS(expr string) {
	a.t.Helper()
	if err := a.b.WaitUntil(expr, browserWait, appState); err != nil {
		a.t.Fatal(err)
	}
}

// waitStatus waits for the indicator's colour with its text containing want.
func (a *scannerApp) waitStatus(color, want string) {
	a.t.Helper()
	a.waitJS(fmt.Sprintf(`document.querySelector("#status").dataset.status === %q &&
	  document.querySelector("#status .st-text").textContent.includes(%q)`, color, want))
}

// waitCounts waits for the indicator's queued and rejected counts.
func (a *scannerApp) waitCounts(queued, rejected int) {
	a.t.Helper()
	a.waitJS(fmt.Sprintf(`document.querySelector(".st-queued").textContent === "%d" &&
	  document.querySelector(".st-rejected").textContent === "%d"`, queued, rejected))
}

func (a *scannerApp) text(css string) string {
	a.t.Helper()
	s, err := browsertest.Eval[string](a.b, fmt.Sprintf(`document.querySelector(%q)?.textContent.replace(/\s+/g, " ").trim() ?? ""`, css))
	a.must(err)
	return s
}

// enrol opens the enrolment link and waits until the device is enrolled,
// green, ready for offline use and holding its warehouse's catalog.
func (a *scannerApp) enrol(token string) {
	a.t.Helper()
	a.must(a.b.Navigate(a.origin + "/scanner/#token=" + token))
	a.waitJS(`!document.querySelector("#work").hidden`)
	a.waitStatus("green", "Synced")
	a.waitJS(`document.documentElement.dataset.offlineReady === "yes" && !!navigator.serviceWorker.controller`)
	a.waitJS(`document.querySelector("#dev-catalog").textContent.includes("locations")`)
}

// wedge types a barcode and Enter into the focused field, once the app has
// put the focus on the field the scan belongs in.
func (a *scannerApp) wedge(field, value string) {
	a.t.Helper()
	a.waitJS(fmt.Sprintf(`document.activeElement && document.activeElement.id === "f-%s"`, field))
	a.must(a.b.Wedge(value))
}

// scan performs one RECEIPT through the keyboard: location, item, the lot
// when given (the app must ask for it), quantity; the app queues it and
// puts the focus back on the location.
func (a *scannerApp) scan(s e2eScan) {
	a.t.Helper()
	a.wedge("locationId", s.location)
	a.wedge("itemId", s.item)
	if s.lot != "" {
		a.wedge("lotNumber", s.lot)
	}
	a.wedge("quantity", fmt.Sprint(s.qty))
	a.waitJS(`document.activeElement && document.activeElement.id === "f-locationId" && document.querySelector("#f-locationId").value === ""`)
}

// queue reads the device's queue from IndexedDB, in upload order, as the
// ledger of what it acknowledged.
func (a *scannerApp) queue() []e2eScan {
	a.t.Helper()
	type stored struct {
		TransactionID string `json:"transactionId"`
		Type          string `json:"type"`
		ItemID        string `json:"itemId"`
		LocationID    string `json:"locationId"`
		LotNumber     string `json:"lotNumber"`
		Quantity      int64  `json:"quantity"`
	}
	txs, err := browsertest.Eval[[]stored](a.b, `import("./js/store.js").then(s => s.scansIn("queued")).then(l => l.map(x => x.tx))`)
	a.must(err)
	out := make([]e2eScan, len(txs))
	for i, tx := range txs {
		if tx.Type != "RECEIPT" {
			a.t.Fatalf("queued scan %s is a %s, want RECEIPT", tx.TransactionID, tx.Type)
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
	a.t.Helper()
	p := filepath.Join(e2eScreenshotDir(a.t), name)
	a.must(a.b.Screenshot(p))
	a.t.Logf("screenshot: %s", p)
}

// watchStatus records every colour the indicator takes from now on.
func (a *scannerApp) watchStatus() {
	a.t.Helper()
	a.must(a.b.Exec(`(() => {
	  const el = document.querySelector("#status");
	  window.__colours = [el.dataset.status];
	  new MutationObserver(() => {
	    const s = el.dataset.status;
	    if (__colours[__colours.length - 1] !== s) __colours.push(s);
	  }).observe(el, {attributes: true, attributeFilter: ["data-status"]});
	})()`))
}

func (a *scannerApp) colours() string {
	a.t.Helper()
	l, err := browsertest.Eval[[]string](a.b, `window.__colours || []`)
	a.must(err)
	return strings.Join(l, ">")
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
	a.enrol(token)
	a.must(a.b.SetOffline(true))
	a.waitStatus("yellow", "Offline")
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
			a.wedge("locationId", s.location)
			a.wedge("itemId", s.item)
			a.wedge("lotNumber", s.lot)
			a.waitJS(`document.activeElement.id === "f-quantity" && document.querySelector("#d-itemId").textContent !== ""`)
			a.screenshot("scanner-scan.png")
			a.wedge("quantity", fmt.Sprint(s.qty))
			a.waitJS(`document.activeElement.id === "f-locationId" && document.querySelector("#f-locationId").value === ""`)
			continue
		}
		a.scan(s)
	}
	a.waitCounts(scans, 0)
	a.waitStatus("yellow", "50 scans queued")
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
	a.must(a.b.Click("#queue summary"))
	a.waitJS(`document.querySelectorAll("#queue-list li").length === 50`)
	a.must(a.b.Exec(`document.querySelector("#queue").scrollIntoView({block: "start"})`))
	a.screenshot("scanner-yellow.png")

	// Reload with no network: the service worker serves the app; the
	// queue is where it was.
	a.must(a.b.Reload())
	a.waitJS(`!document.querySelector("#work").hidden`)
	a.waitCounts(scans, 0)
	a.waitStatus("yellow", "Offline")
	if got := a.queue(); !slices.Equal(ids(got), ids(queued)) {
		t.Fatalf("after an offline reload the queue holds %d scans, want the same %d", len(got), len(queued))
	}

	a.watchStatus()
	online := time.Now()
	a.must(a.b.SetOffline(false))
	a.waitStatus("green", "Synced")
	a.waitCounts(0, 0)
	synced := time.Since(online)
	if c := a.colours(); c != "yellow>green" {
		t.Errorf("the indicator went %s, want yellow>green", c)
	}
	if left := a.queue(); len(left) != 0 {
		t.Errorf("%d scans still queued on the device after green", len(left))
	}
	f := checkServer(t, in.url, in.brokers(), in.cfg.TopicPrefix, id, queued)

	// Green, with the scans just synced listed under the indicator.
	a.must(a.b.Exec(`document.querySelector("#queue").open = false; document.querySelector("#recent").open = true`))
	a.waitJS(`document.querySelectorAll("#recent-list li").length > 0`)
	a.must(a.b.Exec(`document.querySelector("#recent").scrollIntoView({block: "start"})`))
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
	a.enrol(token)

	a.must(a.b.SetOffline(true))
	a.waitStatus("yellow", "Offline")
	for i := range 20 {
		a.scan(e2eScan{location: []string{"A-06-01", "A-06-02"}[i%2], item: []string{"ITEM-12101", "ITEM-12102"}[i%2], qty: int64(i + 1)})
	}
	a.waitCounts(20, 0)
	a.must(a.b.Exec(`import("./js/store.js").then(async (s) => {
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
	a.must(a.b.SetOffline(false))
	select {
	case <-gate.held:
	case <-time.After(browserWait):
		t.Fatalf("no upload reached the server; page: %v", a.text("#status"))
	}
	a.must(a.b.Kill())
	held := gate.uploads()[0]
	for _, st := range held {
		if st != "accepted" {
			t.Fatalf("the withheld upload was answered %v, want every scan accepted", held)
		}
	}
	t.Logf("killed the browser while the answer to an upload of %d scans (all accepted by the server) was on its way", len(held))

	a.relaunch()
	a.must(a.b.Navigate(gate.srv.URL + "/scanner/"))
	a.waitStatus("green", "Synced")
	a.waitCounts(0, 0)
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
	a.waitCounts(1, 0)
	rejected := a.queue()[0]
	a.must(a.b.SetOffline(false))
	a.waitStatus("red", "1 scan rejected")
	a.waitCounts(0, 1)
	card := a.text("#rejected-list li")
	if !strings.Contains(card, "UNREASONABLE_QUANTITY") || !strings.Contains(card, "quantity 50 exceeds the limit of 10 for item "+item) {
		t.Errorf("rejection card = %q, want the server's code and message", card)
	}
	a.must(a.b.Click("#st-action")) // "Review": the card comes into view
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
	a.waitJS(`await import("./js/catalog.js").then(c => c.item("` + item + `")?.maxTransactionQuantity === 10)`)
	a.must(a.b.Focus("#f-locationId"))
	a.wedge("locationId", "A-03-01")
	a.wedge("itemId", item)
	a.wedge("quantity", "50")
	a.waitJS(`document.querySelector("#e-quantity").textContent.includes("limit of 10")`)
	if q := a.queue(); len(q) != 0 {
		t.Errorf("a scan over the refreshed limit was queued: %+v", q)
	}
	a.must(a.b.Click("#rejected-list li .dismiss"))
	a.waitStatus("green", "Synced")
}

// browserRevokedToken: the scanner's token is revoked; the next sync turns
// the indicator red with the re-enrol message, the scan stays queued and
// nothing reaches the server.
func browserRevokedToken(t *testing.T, in *testInstance, exe string) {
	const id = "SCANNER-24"
	token, tokenID := newScannerToken(t, in.url, id, e2eWarehouse)
	a := openScannerApp(t, exe, in.url)
	a.enrol(token)
	first := e2eScan{location: "H-20-02", item: "ITEM-12301", qty: 5}
	a.scan(first)
	a.waitJS(`await import("./js/store.js").then(s => s.recent()).then(l => l.length === 1)`)
	a.waitStatus("green", "Synced")
	a.waitCounts(0, 0)
	var synced []e2eScan
	recent, err := browsertest.Eval[[]string](a.b, `import("./js/store.js").then(s => s.recent()).then(l => l.map(x => x.tx.transactionId))`)
	a.must(err)
	if len(recent) != 1 {
		t.Fatalf("recently synced: %v, want the one scan", recent)
	}
	first.id = recent[0]
	synced = append(synced, first)

	revokeToken(t, in.url, tokenID, token)
	a.scan(e2eScan{location: "H-20-02", item: "ITEM-12301", qty: 6})
	a.waitStatus("red", "token refused — re-enrol this device")
	a.waitCounts(1, 0)
	if got := a.text("#st-action"); got != "Re-enrol" {
		t.Errorf("the indicator's action is %q, want Re-enrol", got)
	}
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
