package web

import (
	"context"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/web/browsertest"
)

// updateScreenshots writes the screenshots into testdata/screenshots (the
// committed ones, to be looked at); without it they go to a temporary
// directory, so a test run leaves the tree as it was.
var updateScreenshots = flag.Bool("update-screenshots", false, "write the screenshots into web/testdata/screenshots")

// screenshotDir keeps the screenshots the tests take, to be looked at.
var screenshotDir = filepath.Join(os.TempDir(), "invsync-web-screenshots")

const waitLong = 20 * time.Second

// scannerToken is SCANNER-08's token in WH-001.
const scannerToken = "tok-scanner-08-0123456789abcdef0123456789"

// appHarness is one scenario: the fake API serving the app, and a browser.
type appHarness struct {
	t   *testing.T
	api *fakeAPI
	srv *httptest.Server
	b   *browsertest.Browser
}

func newAppHarness(t *testing.T) *appHarness {
	t.Helper()
	exe := browsertest.RequireChromium(t)
	api := newFakeAPI(t)
	api.addToken(scannerToken, "SCANNER-08", "WH-001")
	h := &appHarness{t: t, api: api, srv: api.serve()}
	h.b = browsertest.Start(t, browsertest.Options{ExecPath: exe})
	t.Cleanup(func() {
		h.checkNoExceptions()
		h.b.Close() // a relaunched browser is not Start's to close
	})
	return h
}

func (h *appHarness) url(path string) string { return h.srv.URL + path }

// checkNoExceptions fails the test on any uncaught exception of the page.
func (h *appHarness) checkNoExceptions() {
	h.t.Helper()
	for _, e := range h.b.Exceptions() {
		h.t.Errorf("uncaught exception in the app: %s", e)
	}
	for _, e := range h.b.ConsoleErrors() {
		h.t.Logf("console.error: %s", e)
	}
}

// relaunch replaces a killed browser with a new one on its profile.
func (h *appHarness) relaunch() {
	h.t.Helper()
	h.checkNoExceptions()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nb, err := h.b.Relaunch(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	h.b = nb
}

// pageState describes the page for failure messages.
const pageState = `({status: document.querySelector("#status")?.dataset.status,
  text: document.querySelector("#status .st-text")?.textContent.replace(/\s+/g, " ").trim(),
  queued: document.querySelector(".st-queued")?.textContent,
  rejected: document.querySelector(".st-rejected")?.textContent,
  focus: document.activeElement?.id, msg: document.querySelector("#scan-msg")?.textContent,
  enrolMsg: document.querySelector("#enrol-msg")?.textContent,
  errors: [...document.querySelectorAll(".err")].map(e => e.textContent).filter(Boolean),
  online: navigator.onLine})`

func (h *appHarness) waitJS(expr string) {
	h.t.Helper()
	if err := h.b.WaitUntil(expr, waitLong, pageState); err != nil {
		h.t.Fatal(err)
	}
}

// waitStatus waits for the indicator's colour with text containing want.
func (h *appHarness) waitStatus(color, want string) {
	h.t.Helper()
	h.waitJS(fmt.Sprintf(`document.querySelector("#status").dataset.status === %q &&
	  document.querySelector("#status .st-text").textContent.includes(%q)`, color, want))
}

// waitCounts waits for the indicator's queued and rejected counts.
func (h *appHarness) waitCounts(queued, rejected int) {
	h.t.Helper()
	h.waitJS(fmt.Sprintf(`document.querySelector(".st-queued").textContent === "%d" &&
	  document.querySelector(".st-rejected").textContent === "%d"`, queued, rejected))
}

// waitAccepted waits until the server has accepted n transactions.
func (h *appHarness) waitAccepted(n int) fakeState {
	h.t.Helper()
	var s fakeState
	err := testkit.Within(waitLong, func() error {
		if s = h.api.state(); len(s.order) < n {
			return testkit.Not("the server accepted %d transactions, want %d", len(s.order), n)
		}
		return nil
	})
	if err != nil {
		h.t.Fatalf("%v; page: %v", err, h.eval(pageState))
	}
	return s
}

func (h *appHarness) text(css string) string {
	h.t.Helper()
	s, err := browsertest.Eval[string](h.b, fmt.Sprintf(`document.querySelector(%q)?.textContent.replace(/\s+/g, " ").trim() ?? ""`, css))
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *appHarness) eval(expr string) any {
	h.t.Helper()
	v, err := browsertest.Eval[any](h.b, expr)
	if err != nil {
		h.t.Fatal(err)
	}
	return v
}

// enrolByLink opens the enrolment link and waits until the device is
// enrolled, green and ready for offline use.
func (h *appHarness) enrolByLink(token string) {
	h.t.Helper()
	if err := h.b.Navigate(h.url("/scanner/#token=" + token)); err != nil {
		h.t.Fatal(err)
	}
	h.waitJS(`!document.querySelector("#work").hidden`)
	h.waitStatus("green", "Synced")
	h.waitJS(`document.documentElement.dataset.offlineReady === "yes" && !!navigator.serviceWorker.controller`)
	// The catalog is on the device: scans are checked locally from here on.
	h.waitJS(`document.querySelector("#dev-catalog").textContent.includes("locations")`)
}

// wedge types a barcode and Enter into the focused field, first checking
// the app put the focus where the scan belongs.
func (h *appHarness) wedge(field, value string) {
	h.t.Helper()
	h.waitJS(fmt.Sprintf(`document.activeElement && document.activeElement.id === "f-%s"`, field))
	if err := h.b.Wedge(value); err != nil {
		h.t.Fatal(err)
	}
}

// scan performs one scan of the current type through the keyboard only:
// location, item, lot (when given: the app must show the field), quantity,
// then for a MOVE the destination.
func (h *appHarness) scan(loc, item, lot, qty, to string) {
	h.t.Helper()
	h.wedge("locationId", loc)
	h.wedge("itemId", item)
	if lot != "" {
		h.wedge("lotNumber", lot)
	}
	h.wedge("quantity", qty)
	if to != "" {
		h.wedge("toLocationId", to)
	}
	// Back on the first field, ready for the next scan.
	h.waitJS(`document.activeElement && document.activeElement.id === "f-locationId" && document.querySelector("#f-locationId").value === ""`)
}

func (h *appHarness) chooseType(typ string) {
	h.t.Helper()
	if err := h.b.Click(fmt.Sprintf(`.types [data-type=%q]`, typ)); err != nil {
		h.t.Fatal(err)
	}
}

// queuedIDs reads the device's queue from IndexedDB: transaction ids in
// upload order.
func (h *appHarness) queuedIDs() []string {
	h.t.Helper()
	ids, err := browsertest.Eval[[]string](h.b, `import("./js/store.js").then(s => s.scansIn("queued")).then(l => l.map(x => x.tx.transactionId))`)
	if err != nil {
		h.t.Fatal(err)
	}
	return ids
}

// screenshot saves the viewport, after checking nothing overflows it
// sideways (at 360 px, a handheld's width, too).
func (h *appHarness) screenshot(name string) {
	h.t.Helper()
	wide, err := browsertest.Eval[[]string](h.b, `[...document.querySelectorAll("body *")].filter(e => {
	  const r = e.getBoundingClientRect();
	  return r.width > 0 && (r.right > innerWidth + 0.5 || e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === "visible" && e.clientWidth > 0);
	}).map(e => e.tagName + (e.id ? "#" + e.id : "") + "." + e.className)`)
	if err != nil {
		h.t.Fatal(err)
	}
	if len(wide) > 0 {
		h.t.Errorf("%s: elements overflow the %s viewport: %v", name, "page's", wide)
	}
	p := filepath.Join(screenshotDir, name)
	if err := h.b.Screenshot(p); err != nil {
		h.t.Fatal(err)
	}
	h.t.Logf("screenshot: %s", p)
}

// watchStatus records every colour the indicator takes from now on.
func (h *appHarness) watchStatus() {
	h.t.Helper()
	err := h.b.Exec(`(() => {
	  const el = document.querySelector("#status");
	  window.__statusLog = [el.dataset.status];
	  new MutationObserver(() => {
	    const s = el.dataset.status;
	    if (__statusLog[__statusLog.length - 1] !== s) __statusLog.push(s);
	  }).observe(el, {attributes: true, attributeFilter: ["data-status"]});
	})()`)
	if err != nil {
		h.t.Fatal(err)
	}
}

func (h *appHarness) statusLog() string {
	h.t.Helper()
	l, err := browsertest.Eval[[]string](h.b, `window.__statusLog || []`)
	if err != nil {
		h.t.Fatal(err)
	}
	return strings.Join(l, ">")
}

func TestMain(m *testing.M) {
	flag.Parse()
	if *updateScreenshots {
		screenshotDir = filepath.Join("testdata", "screenshots")
	}
	os.MkdirAll(screenshotDir, 0o755)
	os.Exit(m.Run())
}
