// Package webpage drives a page of invsync's web apps (the scanner app,
// the console) in a test's headless browser: waits that say what the page
// showed when they run out, and values read from the page. Package
// scannerpage builds the scanner app's driver on it.
package webpage

import (
	"testing"
	"time"

	"github.com/invsync/invsync/web/browsertest"
)

// Page is a page in browser B. Every method fails T on an error of the
// browser or a wait that runs out.
type Page struct {
	T testing.TB
	B *browsertest.Browser
	// Wait bounds each wait for the page.
	Wait time.Duration
	// State is a JavaScript expression describing the page, for failure
	// messages.
	State string
}

// Must fails the test on err.
func (p *Page) Must(err error) {
	p.T.Helper()
	if err != nil {
		p.T.Fatal(err)
	}
}

// WaitJS waits until the JavaScript expression expr is true.
func (p *Page) WaitJS(expr string) {
	p.T.Helper()
	p.Must(p.B.WaitUntil(expr, p.Wait, p.State))
}

// Eval returns the value of the JavaScript expression expr.
func (p *Page) Eval(expr string) any {
	p.T.Helper()
	return Value[any](p, expr)
}

// Value returns the value of the JavaScript expression expr as a V.
func Value[V any](p *Page, expr string) V {
	p.T.Helper()
	v, err := browsertest.Eval[V](p.B, expr)
	p.Must(err)
	return v
}
