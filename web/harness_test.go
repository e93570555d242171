package web

import (
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/internal/testkit/scannerpage"
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
	*scannerpage.Page
	api *fakeAPI
	srv *httptest.Server
}

func newAppHarness(t *testing.T) *appHarness {
	t.Helper()
	exe := browsertest.RequireChromium(t)
	api := newFakeAPI(t)
	api.addToken(scannerToken, "SCANNER-08", "WH-001")
	h := &appHarness{Page: scannerpage.New(t, nil, waitLong), api: api, srv: api.serve()}
	h.B = browsertest.Start(t, browsertest.Options{ExecPath: exe})
	t.Cleanup(func() {
		h.CheckNoExceptions()
		h.B.Close() // a relaunched browser is not Start's to close
	})
	return h
}

func (h *appHarness) url(path string) string { return h.srv.URL + path }

// waitAccepted waits until the server has accepted n transactions.
func (h *appHarness) waitAccepted(n int) fakeState {
	h.T.Helper()
	var s fakeState
	err := testkit.Within(waitLong, func() error {
		if s = h.api.state(); len(s.order) < n {
			return testkit.Not("the server accepted %d transactions, want %d", len(s.order), n)
		}
		return nil
	})
	if err != nil {
		h.T.Fatalf("%v; page: %v", err, h.Eval(scannerpage.State))
	}
	return s
}

func (h *appHarness) chooseType(typ string) {
	h.T.Helper()
	h.Must(h.B.Click(fmt.Sprintf(`.types [data-type=%q]`, typ)))
}

// screenshot saves the viewport, after checking nothing overflows it
// sideways (at 360 px, a handheld's width, too).
func (h *appHarness) screenshot(name string) {
	h.T.Helper()
	wide, err := browsertest.Eval[[]string](h.B, `[...document.querySelectorAll("body *")].filter(e => {
	  const r = e.getBoundingClientRect();
	  return r.width > 0 && (r.right > innerWidth + 0.5 || e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === "visible" && e.clientWidth > 0);
	}).map(e => e.tagName + (e.id ? "#" + e.id : "") + "." + e.className)`)
	h.Must(err)
	if len(wide) > 0 {
		h.T.Errorf("%s: elements overflow the %s viewport: %v", name, "page's", wide)
	}
	p := filepath.Join(screenshotDir, name)
	h.Must(h.B.Screenshot(p))
	h.T.Logf("screenshot: %s", p)
}

func TestMain(m *testing.M) {
	flag.Parse()
	if *updateScreenshots {
		screenshotDir = filepath.Join("testdata", "screenshots")
	}
	os.MkdirAll(screenshotDir, 0o755)
	os.Exit(m.Run())
}
