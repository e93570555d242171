// Package scannerpage drives the scanner web app (web/scanner) in a
// headless browser, for tests: it waits for the status indicator and its
// counts, types scans as a keyboard wedge does and reads the device's
// queue. The web package's browser tests (against a fake API) and the
// end-to-end tests (against the real server) drive the page through it, so
// both read the page the same way.
package scannerpage

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/invsync/invsync/internal/testkit/webpage"
	"github.com/invsync/invsync/web/browsertest"
)

// State describes the page in failure messages.
const State = `({status: document.querySelector("#status")?.dataset.status,
  text: document.querySelector("#status .st-text")?.textContent.replace(/\s+/g, " ").trim(),
  queued: document.querySelector(".st-queued")?.textContent,
  rejected: document.querySelector(".st-rejected")?.textContent,
  focus: document.activeElement?.id, msg: document.querySelector("#scan-msg")?.textContent,
  enrolMsg: document.querySelector("#enrol-msg")?.textContent,
  lastError: document.querySelector("#dev-error")?.textContent,
  errors: [...document.querySelectorAll(".err")].map(e => e.textContent).filter(Boolean),
  online: navigator.onLine})`

// Page is the scanner app in browser B. Every method fails T on an error
// of the browser or a wait that runs out.
type Page struct {
	webpage.Page
}

// New returns the scanner app in b (which may be set later, as Page.B),
// waiting at most wait each time.
func New(t testing.TB, b *browsertest.Browser, wait time.Duration) *Page {
	return &Page{webpage.Page{T: t, B: b, Wait: wait, State: State}}
}

// CheckNoExceptions fails the test on an uncaught exception of the page,
// and logs what the page logged as errors.
func (p *Page) CheckNoExceptions() {
	p.T.Helper()
	for _, e := range p.B.Exceptions() {
		p.T.Errorf("uncaught exception in the app: %s", e)
	}
	for _, e := range p.B.ConsoleErrors() {
		p.T.Logf("console.error: %s", e)
	}
}

// Relaunch replaces a killed browser with a new one on the same profile.
func (p *Page) Relaunch() {
	p.T.Helper()
	p.CheckNoExceptions()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nb, err := p.B.Relaunch(ctx)
	p.Must(err)
	p.B = nb
}

// WaitStatus waits for the indicator's colour with its text containing
// want.
func (p *Page) WaitStatus(color, want string) {
	p.T.Helper()
	p.WaitJS(fmt.Sprintf(`document.querySelector("#status").dataset.status === %q &&
	  document.querySelector("#status .st-text").textContent.includes(%q)`, color, want))
}

// WaitCounts waits for the indicator's queued and rejected counts.
func (p *Page) WaitCounts(queued, rejected int) {
	p.T.Helper()
	p.WaitJS(fmt.Sprintf(`document.querySelector(".st-queued").textContent === "%d" &&
	  document.querySelector(".st-rejected").textContent === "%d"`, queued, rejected))
}

// WaitTokenRefused waits for the indicator to say the server refused the
// device's token: red with the re-enrol message, queued scans held and
// none rejected; and checks that it offers Re-enrol as its action.
func (p *Page) WaitTokenRefused(queued int) {
	p.T.Helper()
	p.WaitStatus("red", "token refused — re-enrol this device")
	p.WaitCounts(queued, 0)
	if got := p.Text("#st-action"); got != "Re-enrol" {
		p.T.Errorf("the indicator's action is %q, want Re-enrol", got)
	}
}

// Text returns the text of the element css selects, white space folded
// ("" when there is none).
func (p *Page) Text(css string) string {
	p.T.Helper()
	return webpage.Value[string](&p.Page, fmt.Sprintf(`document.querySelector(%q)?.textContent.replace(/\s+/g, " ").trim() ?? ""`, css))
}

// Enrol opens the enrolment link of token on the app at origin and waits
// until the device is enrolled, green, ready for offline use and holding
// its warehouse's catalog (scans are checked on the device from then on).
func (p *Page) Enrol(origin, token string) {
	p.T.Helper()
	p.Must(p.B.Navigate(origin + "/scanner/#token=" + token))
	p.WaitJS(`!document.querySelector("#work").hidden`)
	p.WaitStatus("green", "Synced")
	p.WaitJS(`document.documentElement.dataset.offlineReady === "yes" && !!navigator.serviceWorker.controller`)
	p.WaitJS(`document.querySelector("#dev-catalog").textContent.includes("locations")`)
}

// Wedge types a barcode and Enter into the focused field, once the app
// has put the focus on field, where the scan belongs.
func (p *Page) Wedge(field, value string) {
	p.T.Helper()
	p.WaitJS(fmt.Sprintf(`document.activeElement && document.activeElement.id === "f-%s"`, field))
	p.Must(p.B.Wedge(value))
}

// Scan performs one scan of the current type through the keyboard only:
// location, item, the lot when given (the app must ask for it), quantity,
// then the destination when given (a MOVE); the app queues it and puts the
// focus back on the location, ready for the next scan.
func (p *Page) Scan(loc, item, lot, qty, to string) {
	p.T.Helper()
	p.Wedge("locationId", loc)
	p.Wedge("itemId", item)
	if lot != "" {
		p.Wedge("lotNumber", lot)
	}
	p.Wedge("quantity", qty)
	if to != "" {
		p.Wedge("toLocationId", to)
	}
	p.WaitJS(`document.activeElement && document.activeElement.id === "f-locationId" && document.querySelector("#f-locationId").value === ""`)
}

// QueuedIDs reads the device's queue from IndexedDB: transaction ids in
// upload order.
func (p *Page) QueuedIDs() []string {
	p.T.Helper()
	return webpage.Value[[]string](&p.Page, `import("./js/store.js").then(s => s.scansIn("queued")).then(l => l.map(x => x.tx.transactionId))`)
}

// WatchStatus records every colour the indicator takes from now on, for
// Colours.
func (p *Page) WatchStatus() {
	p.T.Helper()
	p.Must(p.B.Exec(`(() => {
	  const el = document.querySelector("#status");
	  window.__colours = [el.dataset.status];
	  new MutationObserver(() => {
	    const s = el.dataset.status;
	    if (__colours[__colours.length - 1] !== s) __colours.push(s);
	  }).observe(el, {attributes: true, attributeFilter: ["data-status"]});
	})()`))
}

// Colours returns the colours the indicator took since WatchStatus, as
// "green>yellow>green".
func (p *Page) Colours() string {
	p.T.Helper()
	return strings.Join(webpage.Value[[]string](&p.Page, `window.__colours || []`), ">")
}
