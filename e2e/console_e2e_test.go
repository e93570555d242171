package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/internal/testkit/webpage"
	"github.com/invsync/invsync/scanner"
	"github.com/invsync/invsync/web/browsertest"
)

// The operations console (/console/) as supervisors, readers and admins
// use it, against a real in-process server (package server): data is made through
// the API, actions are taken on the screens, and their effect is checked
// through the API. axe-core runs in the page on every screen visited.
// Screenshots go to $INVSYNC_CONSOLE_SCREENSHOTS (docs/screenshots to
// update the README's), else a temporary directory. Skipped, saying why,
// without Chromium.

const consoleWH = "WH-001"

// consoleCall sends a JSON request with a bearer token.
func consoleCall(t *testing.T, method, u, token string, body any) (int, []byte) {
	t.Helper()
	status, _, data := testkit.Call(t, method, u, token, body)
	return status, data
}

func consoleToken(t *testing.T, base, name, role string) string {
	t.Helper()
	return newToken(t, base, name, role, []string{consoleWH}, nil).Token
}

// consoleUpload uploads one transaction as the admin and waits until applied.
func consoleUpload(t *testing.T, base string, tx map[string]any) map[string]any {
	t.Helper()
	tx["timestamp"] = time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
	tx["warehouseId"] = consoleWH
	tx["userId"] = "console-e2e"
	status, data := consoleCall(t, "POST", base+"/v1/transactions?wait=applied", testAdminToken,
		map[string]any{"scannerId": "CONSOLE-FEED", "sentAt": time.Now().UTC().Format(time.RFC3339Nano), "transactions": []any{tx}})
	var out struct{ Results []map[string]any }
	if status != 200 || json.Unmarshal(data, &out) != nil || len(out.Results) != 1 || out.Results[0]["status"] != "accepted" {
		t.Fatalf("upload %v: %d %s", tx, status, data)
	}
	return out.Results[0]
}

type consolePage struct {
	*webpage.Page
	origin string
	shots  string
}

const consoleState = `({hash: location.hash, who: document.querySelector("[data-signed-in-as]")?.textContent,
  main: document.querySelector("main")?.innerText.slice(0, 400), toast: document.querySelector("#toast")?.textContent})`

func (p *consolePage) eval(expr string) string {
	p.T.Helper()
	return webpage.Value[string](p.Page, expr)
}

func (p *consolePage) goTo(route string) {
	p.T.Helper()
	p.Must(p.B.Exec(fmt.Sprintf(`location.hash = %q`, route)))
}

// signIn types the token into the sign-in form.
func (p *consolePage) signIn(token, name string) {
	p.T.Helper()
	p.WaitJS(`!!document.querySelector("#token")`)
	p.Must(p.B.Exec(fmt.Sprintf(`document.querySelector("#token").value = %q`, token)))
	p.Must(p.B.Click(`[data-action="sign-in"]`))
	p.WaitJS(fmt.Sprintf(`(document.querySelector("[data-signed-in-as]")?.textContent || "").startsWith(%q)`, name))
}

func (p *consolePage) signOut() {
	p.T.Helper()
	p.Must(p.B.Click("#sign-out"))
	p.WaitJS(`!!document.querySelector("#token")`)
}

// axe runs axe-core in the page and fails on serious or critical
// violations.
func (p *consolePage) axe(screen string) {
	p.T.Helper()
	src, err := os.ReadFile(filepath.Join("..", "web", "testdata", "axe", "axe.min.js"))
	p.Must(err)
	p.Must(p.B.Exec(string(src) + "\n;0"))
	out := p.eval(`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(
	  r.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v => ({id: v.id, impact: v.impact,
	    nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}))))`)
	if out != "[]" {
		p.T.Errorf("axe on %s: serious or critical violations: %s", screen, out)
	}
}

// keyboard checks that Tab reaches every action button of the screen.
func (p *consolePage) keyboard(screen string) {
	p.T.Helper()
	p.Must(p.B.Exec(`window.__reached = new Set(); document.activeElement?.blur(); document.body.focus();
	  document.addEventListener("focusin", e => { const a = e.target.closest("[data-action], a, button"); if (a) window.__reached.add(a); }, {capture: true})`))
	n := int(must(browsertest.Eval[float64](p.B, `document.querySelectorAll("a[href], button, input, select, textarea").length`)))
	for range n + 5 {
		p.Must(p.B.Type(kb.Tab))
	}
	missed := p.eval(`JSON.stringify([...document.querySelectorAll("[data-action]")].filter(b => !b.disabled && !window.__reached.has(b)).map(b => b.dataset.action))`)
	if missed != "[]" {
		p.T.Errorf("%s: actions not reachable by keyboard: %s", screen, missed)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func (p *consolePage) screenshot(name string) {
	p.T.Helper()
	for _, size := range [][2]int{{1366, 768}, {768, 1024}} {
		p.Must(p.B.SetViewport(size[0], size[1]))
		time.Sleep(300 * time.Millisecond) // charts and layout follow the resize
		p.Must(p.B.Screenshot(filepath.Join(p.shots, fmt.Sprintf("console-%s-%dx%d.png", name, size[0], size[1]))))
	}
	p.Must(p.B.SetViewport(1366, 768))
}

func TestConsoleE2E(t *testing.T) {
	exe := browsertest.RequireChromium(t)
	in := startInstance(t, testConfig(t))
	base := in.url
	shots := os.Getenv("INVSYNC_CONSOLE_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(os.TempDir(), "invsync-console-screenshots")
	}
	b := browsertest.Start(t, browsertest.Options{ExecPath: exe, Width: 1366, Height: 768})
	t.Cleanup(func() {
		for _, e := range b.Exceptions() {
			t.Errorf("uncaught exception in the console: %s", e)
		}
	})
	p := &consolePage{Page: &webpage.Page{T: t, B: b, Wait: 30 * time.Second, State: consoleState}, origin: base, shots: shots}
	sup := consoleToken(t, base, "sup-console", "supervisor")
	reader := consoleToken(t, base, "reader-console", "reader")
	cloud := consoleToken(t, base, "cloud-console", "cloud")

	// The console's files carry a CSP without inline script.
	resp, err := http.Get(base + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("console CSP %q", csp)
	}

	// A supervisor signs in; the overview shows the flow.
	p.Must(b.Navigate(base + "/console/"))
	p.signIn(sup, "sup-console")
	p.WaitJS(`location.hash === "#/overview" && !!document.querySelector("[data-metric=tps]") && !!document.querySelector("[data-partition]")`)
	p.axe("overview")
	p.keyboard("overview")

	// A report opens a discrepancy: it appears without a reload.
	p.goTo("#/discrepancies")
	p.WaitJS(`!!document.querySelector("table[aria-label=Discrepancies]") || document.querySelector("main").textContent.includes("No discrepancies")`)
	p.Must(b.Exec(`window.__sameDocument = true`))
	// The update must come through the change stream: it is connected
	// (so the screen does not poll), and it stays the same connection
	// until the discrepancy shows (a reconnect would re-fetch).
	p.WaitJS(`document.documentElement.dataset.live === "stream"`)
	connects := p.eval(`document.documentElement.dataset.liveConnects`)
	consoleUpload(t, base, map[string]any{"transactionId": "c0ffee01-0000-4000-8000-000000000001", "type": "RECEIPT",
		"itemId": "ITEM-12001", "locationId": "A-01-01", "quantity": 5})
	report := func(id string, loc string, onHand int) string {
		status, data := consoleCall(t, "POST", base+"/v1/reconciliation/reports?wait=compared", cloud, map[string]any{
			"reportId": id, "warehouseId": consoleWH, "complete": false,
			"positions": []any{map[string]any{"itemId": "ITEM-12001", "locationId": loc, "lotNumber": "", "onHand": onHand, "version": 1}}})
		var out api.ReportAnswer
		if status != 200 || json.Unmarshal(data, &out) != nil || len(out.Discrepancies) != 1 {
			t.Fatalf("report %s: %d %s", id, status, data)
		}
		return out.Discrepancies[0]
	}
	opened := time.Now()
	did := report("r-console-1", "A-01-01", 7)
	p.WaitJS(fmt.Sprintf(`!!document.querySelector('[data-discrepancy-id=%q]') && window.__sameDocument === true`, did))
	if live, now := p.eval(`document.documentElement.dataset.live`), p.eval(`document.documentElement.dataset.liveConnects`); live != "stream" || now != connects {
		t.Errorf("the discrepancy showed with live=%s after %s stream connections (%s before): not through the stream", live, now, connects)
	}
	t.Logf("discrepancy %s on screen %s after the report", did, time.Since(opened).Round(time.Millisecond))
	p.axe("discrepancies")
	p.screenshot("discrepancies")

	// Resolved through the screen, with hostile text as the note.
	const hostile = `<img src=x onerror=alert(1)><script>window.__pwned=1</script>`
	p.Must(b.Click(fmt.Sprintf(`[data-discrepancy-id=%q] a`, did)))
	p.WaitJS(`!!document.querySelector("[data-action=resolve]")`)
	p.axe("discrepancy")
	p.keyboard("discrepancy")
	p.Must(b.Exec(fmt.Sprintf(`document.querySelector("select[name=resolution]").value = "WAREHOUSE_CONFIRMED";
	  document.querySelector("textarea[name=note]").value = %q`, hostile)))
	p.Must(b.Click("[data-action=resolve]"))
	p.WaitJS(`document.querySelector("[data-discrepancy-status]")?.dataset.discrepancyStatus === "RESOLVED"`)
	if got := p.eval(`[...document.querySelectorAll("[data-note]")].map(n => n.textContent).join("|")`); !strings.Contains(got, hostile) {
		t.Errorf("the note shows as %q, want the text %q", got, hostile)
	}
	if n := p.eval(`String(document.querySelectorAll("main img, main script").length) + String(window.__pwned || "")`); n != "0" {
		t.Errorf("hostile note became markup: %s", n)
	}
	p.screenshot("discrepancy")
	var d api.Discrepancy
	status, data := consoleCall(t, "GET", base+"/v1/discrepancies/"+did, testAdminToken, nil)
	if status != 200 || json.Unmarshal(data, &d) != nil || d.Status != "RESOLVED" || deref(d.Resolution) != "WAREHOUSE_CONFIRMED" ||
		d.History[len(d.History)-1].By != "sup-console" || d.History[len(d.History)-1].Note != hostile {
		t.Fatalf("the API after resolving on the screen: %d %s", status, data)
	}

	// A held count approved on the screen applies.
	status, data = consoleCall(t, "PUT", base+"/v1/catalog", testAdminToken, map[string]any{"warehouses": []any{},
		"items": []any{map[string]any{"itemId": "ITEM-CONSOLE-A", "description": "A-class item", "abcClass": "A"}}})
	if status != 200 {
		t.Fatalf("catalog: %d %s", status, data)
	}
	consoleUpload(t, base, map[string]any{"transactionId": "c0ffee01-0000-4000-8000-000000000002", "type": "RECEIPT",
		"itemId": "ITEM-CONSOLE-A", "locationId": "A-01-02", "quantity": 100})
	const countID = "c0ffee01-0000-4000-8000-000000000003"
	consoleUpload(t, base, map[string]any{"transactionId": countID, "type": "CYCLE_COUNT",
		"itemId": "ITEM-CONSOLE-A", "locationId": "A-01-02", "quantity": 60})
	p.goTo("#/counts")
	p.WaitJS(fmt.Sprintf(`!!document.querySelector('[data-count-id=%q] [data-action=approve]')`, countID))
	p.axe("counts")
	p.keyboard("counts")
	p.Must(b.Click(fmt.Sprintf(`[data-count-id=%q] [data-action=approve]`, countID)))
	deadline := time.Now().Add(15 * time.Second)
	for {
		var pos api.Positions
		status, data = consoleCall(t, "GET", base+"/v1/positions?warehouseId="+consoleWH+"&itemId=ITEM-CONSOLE-A&locationId=A-01-02", testAdminToken, nil)
		if status == 200 && json.Unmarshal(data, &pos) == nil && pos.Totals.OnHand == 60 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the approved count did not apply: %d %s", status, data)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A scanner with queued scans shows yellow, then green once synced.
	scannerTok := consoleToken(t, base, "SCANNER-CONSOLE", "scanner")
	gate := newConsoleGate(t, base)
	dev := openDevice(t, scanner.Config{URL: gate.url, Token: scannerTok, ScannerID: "SCANNER-CONSOLE", DataDir: t.TempDir(), BatchSize: 1})
	for i := range 3 {
		if _, err := dev.Scan(context.Background(), scanner.Scan{Type: "RECEIPT", WarehouseID: consoleWH, ItemID: "ITEM-12001",
			LocationID: "A-01-01", Quantity: 1, UserID: fmt.Sprintf("u-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	p.goTo("#/scanners")
	p.WaitJS(`!!document.querySelector('[data-scanner-id="SCANNER-CONSOLE"] [data-status="offline"]')`)
	synced := make(chan error, 1)
	go func() { _, err := dev.Sync(context.Background()); synced <- err }()
	p.WaitJS(`!!document.querySelector('[data-scanner-id="SCANNER-CONSOLE"] [data-status="yellow"]')`)
	p.axe("scanners")
	p.screenshot("scanners")
	gate.release()
	if err := <-synced; err != nil {
		t.Fatalf("sync: %v", err)
	}
	p.WaitJS(`!!document.querySelector('[data-scanner-id="SCANNER-CONSOLE"] [data-status="green"]')`)
	// Its detail lists the uploads the server answered.
	p.goTo("#/scanners/SCANNER-CONSOLE")
	p.WaitJS(`document.querySelectorAll('table[aria-label="Recent uploads"] tbody tr').length >= 1`)
	p.axe("scanner detail")
	p.goTo("#/overview")
	p.WaitJS(`!!document.querySelector("[data-status-count=green]") && document.querySelectorAll("#main canvas").length >= 3`)
	time.Sleep(5500 * time.Millisecond) // a second point on the charts
	p.screenshot("overview")

	// A supervisor creates a count task from its form; one the server
	// refuses shows the server's message and adds no row.
	p.goTo("#/count-tasks")
	p.WaitJS(`!!document.querySelector("[data-action=create-count-task]")`)
	p.Must(b.Exec(`document.querySelector("#ct-location").value = "B-01-02"; document.querySelector("#ct-item").value = "NO-SUCH-ITEM"`))
	p.Must(b.Click("[data-action=create-count-task]"))
	p.WaitJS(`document.getElementById("toast").classList.contains("shown") && document.getElementById("toast").textContent.length > 0`)
	refused := p.eval(`document.getElementById("toast").textContent`)
	if n := p.eval(`String(document.querySelectorAll("[data-count-task-id]").length)`); n != "0" {
		t.Errorf("a refused count task (%q) left %s rows", refused, n)
	}
	p.Must(b.Exec(`document.querySelector("#ct-item").value = ""`))
	p.Must(b.Click("[data-action=create-count-task]"))
	p.WaitJS(`[...document.querySelectorAll("tr[data-count-task-id]")].some((r) => r.textContent.includes("B-01-02") && r.textContent.includes("whole location"))`)
	if msg := p.eval(`document.getElementById("toast").textContent`); msg != "Count task created" {
		t.Errorf("after creating a count task the toast says %q", msg)
	}
	t.Logf("count task form: refused with %q, then created", refused)
	p.screenshot("counttasks")

	// A reader sees no action buttons, and the API refuses anyway.
	did2 := report("r-console-2", "B-01-01", 3)
	p.signOut()
	p.signIn(reader, "reader-console")
	for _, route := range []struct{ hash, loaded string }{
		{"#/discrepancies/" + did2, fmt.Sprintf(`!!document.querySelector('dl[data-discrepancy-id=%q]')`, did2)},
		{"#/discrepancies", fmt.Sprintf(`!!document.querySelector('tr[data-discrepancy-id=%q]')`, did2)},
		{"#/counts", `document.querySelector("main").textContent.includes("may not see held counts")`},
		{"#/locks", `document.querySelector("main").textContent.includes("may not see locks")`},
		{"#/count-tasks", `document.querySelector("main").textContent.includes("may not see count tasks")`},
		{"#/scanners", `!!document.querySelector('[data-scanner-id="SCANNER-CONSOLE"]')`},
	} {
		p.goTo(route.hash)
		p.WaitJS(route.loaded)
		if n := p.eval(`String(document.querySelectorAll("main [data-action]").length)`); n != "0" {
			t.Errorf("reader on %s sees %s action buttons", route.hash, n)
		}
	}
	p.goTo("#/discrepancies/" + did2)
	p.WaitJS(fmt.Sprintf(`!!document.querySelector('[data-discrepancy-id=%q]')`, did2))
	p.axe("discrepancy as reader")
	if status, data := consoleCall(t, "PATCH", base+"/v1/discrepancies/"+did2, reader, map[string]any{"status": "RESOLVED", "resolution": "WRITTEN_OFF"}); status != 403 {
		t.Errorf("reader PATCH: %d %s, want 403", status, data)
	}

	// An admin signs in by link (the token leaves the address at once),
	// creates a scanner token, and its enrolment link enrols the scanner app.
	p.signOut()
	p.Must(b.Navigate(base + "/console/#token=" + url.QueryEscape(testAdminToken)))
	p.WaitJS(`(document.querySelector("[data-signed-in-as]")?.textContent || "").startsWith("admin")`)
	if h := p.eval(`location.href`); strings.Contains(h, testAdminToken) {
		t.Errorf("the token stayed in the address: %s", h)
	}
	if h := p.eval(`JSON.stringify(Object.keys(localStorage))`); h != "[]" {
		t.Errorf("localStorage holds %s, want nothing", h)
	}
	p.goTo("#/tokens")
	p.WaitJS(`!!document.querySelector("[data-action=create-token]") && !!document.querySelector("[data-token-id]")`)
	p.axe("tokens")
	p.keyboard("tokens")
	p.Must(b.Exec(`document.querySelector("#tok-name").value = "SCANNER-ENROL"; document.querySelector("#tok-role").value = "scanner";
	  document.querySelector("#tok-warehouses").value = "WH-001"`))
	p.Must(b.Click("[data-action=create-token]"))
	p.WaitJS(`!!document.querySelector("[data-enrolment-link]") && !!document.querySelector("canvas.qr")`)
	p.screenshot("tokens")
	link := p.eval(`document.querySelector("[data-enrolment-link]").textContent`)
	if !strings.HasPrefix(link, base+"/scanner/#token=") {
		t.Fatalf("enrolment link %q", link)
	}
	p.Must(b.Navigate(link))
	p.WaitJS(`!document.querySelector("#work")?.hidden && document.querySelector("#status")?.dataset.status === "green"`)
	var me api.Me
	tok, _ := url.QueryUnescape(strings.TrimPrefix(link, base+"/scanner/#token="))
	if status, data := consoleCall(t, "GET", base+"/v1/me", tok, nil); status != 200 || json.Unmarshal(data, &me) != nil || me.Name != "SCANNER-ENROL" || me.Role != "scanner" {
		t.Fatalf("the enrolled token: %d %s", status, data)
	}
	// The enrolled app reports to the fleet view (its heartbeat after a sync pass).
	deadline = time.Now().Add(45 * time.Second)
	for {
		var sc api.Scanner
		status, data = consoleCall(t, "GET", base+"/v1/scanners/SCANNER-ENROL", testAdminToken, nil)
		if status == 200 && json.Unmarshal(data, &sc) == nil && sc.LastSeenAt != nil && sc.AppVersion != nil &&
			strings.HasPrefix(*sc.AppVersion, "invsync-scanner-web") && sc.Status == "green" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the enrolled scanner app never reported: %d %s", status, data)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Back in the console the tab is still signed in (sessionStorage);
	// a revoked token sends it back to sign-in.
	p.Must(b.Navigate(base + "/console/"))
	p.WaitJS(`(document.querySelector("[data-signed-in-as]")?.textContent || "").startsWith("admin")`)
	p.signOut()
	p.signIn(sup, "sup-console")
	status, data = consoleCall(t, "GET", base+"/v1/tokens", testAdminToken, nil)
	var list api.TokenList
	if status != 200 || json.Unmarshal(data, &list) != nil {
		t.Fatalf("tokens: %d %s", status, data)
	}
	for _, tk := range list.Tokens {
		if tk.Name == "sup-console" {
			consoleCall(t, "DELETE", base+"/v1/tokens/"+tk.TokenID, testAdminToken, nil)
		}
	}
	p.goTo("#/scanners")
	p.WaitJS(`!!document.querySelector("#token") && document.querySelector(".signin .error")?.textContent.includes("Sign in again")`)
}

// consoleGate is a proxy in front of the server that lets a device's first
// upload through and holds the others until released, so the console can
// be seen while the device still holds scans.
type consoleGate struct {
	url     string
	mu      sync.Mutex
	uploads int
	open    chan struct{}
}

func newConsoleGate(t *testing.T, target string) *consoleGate {
	g := &consoleGate{open: make(chan struct{})}
	proxy := reverseProxy(t, target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/transactions" {
			g.mu.Lock()
			g.uploads++
			n := g.uploads
			g.mu.Unlock()
			if n > 1 {
				<-g.open
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	g.url = srv.URL
	return g
}

func (g *consoleGate) release() { close(g.open) }
