package browsertest

import (
	"fmt"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// consoleLog keeps the page's uncaught exceptions and console errors.
type consoleLog struct {
	mu         sync.Mutex
	exceptions []string
	errors     []string
}

// listen starts collecting from the tab; it must run before the page
// loads to see its start.
func (b *Browser) listen() error {
	b.console = &consoleLog{}
	c := b.console
	return chromedp.Listen(b.tabCtx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg = d.Exception.Description
			}
			c.mu.Lock()
			c.exceptions = append(c.exceptions, fmt.Sprintf("%s (%s:%d:%d)", msg, d.URL, d.LineNumber+1, d.ColumnNumber+1))
			c.mu.Unlock()
		case *runtime.EventConsoleAPICalled:
			if ev.Type != runtime.ConsoleAPICalledTypeError {
				return
			}
			var parts []string
			for _, a := range ev.Args {
				switch {
				case a.Description != "":
					parts = append(parts, a.Description)
				case len(a.Value) > 0:
					parts = append(parts, string(a.Value))
				}
			}
			c.mu.Lock()
			c.errors = append(c.errors, strings.Join(parts, " "))
			c.mu.Unlock()
		}
	})
}

// Exceptions are the page's uncaught JavaScript exceptions so far, each
// with its location.
func (b *Browser) Exceptions() []string {
	b.console.mu.Lock()
	defer b.console.mu.Unlock()
	return append([]string(nil), b.console.exceptions...)
}

// ConsoleErrors are the page's console.error calls so far.
func (b *Browser) ConsoleErrors() []string {
	b.console.mu.Lock()
	defer b.console.mu.Unlock()
	return append([]string(nil), b.console.errors...)
}
