package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// ActionTimeout bounds each single step (navigate, evaluate, key press).
const ActionTimeout = 30 * time.Second

func (b *Browser) do(what string, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(b.tabCtx, ActionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Navigate loads url in the tab and waits for its load event.
func (b *Browser) Navigate(url string) error {
	return b.do("navigating to "+url, chromedp.Navigate(url))
}

// Reload reloads the page, as the operator's pull-to-refresh would, and
// waits for the load event.
func (b *Browser) Reload() error {
	ctx, cancel := context.WithTimeout(b.tabCtx, ActionTimeout)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil,
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, page.Reload, page.ReloadParams{})
			return err
		})))
	if err != nil {
		return fmt.Errorf("reloading: %w", err)
	}
	return nil
}

// Eval evaluates a JavaScript expression in the page and decodes its
// JSON value into T. A promise is awaited.
func Eval[T any](b *Browser, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(b.tabCtx, ActionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		return v, fmt.Errorf("evaluating %q: %w", abbreviate(expr), err)
	}
	return v, nil
}

// Exec evaluates a JavaScript expression for its effect (a promise is
// awaited).
func (b *Browser) Exec(expr string) error {
	_, err := Eval[chromedp.Void](b, expr)
	return err
}

// WaitUntil polls a JavaScript expression every 50 ms until it is truthy,
// or fails after timeout with the last value of describe (a JavaScript
// expression that explains the page's state; may be empty).
func (b *Browser) WaitUntil(expr string, timeout time.Duration, describe string) error {
	deadline := time.Now().Add(timeout)
	check := "(async () => !!(" + expr + "))()"
	var lastErr error
	for {
		ok, err := Eval[bool](b, check)
		if err == nil && ok {
			return nil
		}
		lastErr = err
		if b.tabCtx.Err() != nil {
			return fmt.Errorf("waiting for %q: the browser is gone: %w", abbreviate(expr), b.tabCtx.Err())
		}
		if time.Now().After(deadline) {
			state := ""
			if describe != "" {
				if raw, derr := Eval[json.RawMessage](b, describe); derr == nil {
					state = "; page state: " + string(raw)
				}
			}
			if lastErr != nil {
				return fmt.Errorf("waiting %v for %q (last error: %v)%s", timeout, abbreviate(expr), lastErr, state)
			}
			return fmt.Errorf("waiting %v for %q%s", timeout, abbreviate(expr), state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Click clicks the first element the CSS selector finds, once visible.
func (b *Browser) Click(css string) error {
	return b.do("clicking "+css, chromedp.Click(chromedp.CSS(css), chromedp.NodeVisible))
}

// Focus focuses the first element the CSS selector finds.
func (b *Browser) Focus(css string) error {
	return b.do("focusing "+css, chromedp.Focus(chromedp.CSS(css)))
}

// SetViewport resizes the tab's viewport (CSS pixels), as turning a device
// or using a desktop would.
func (b *Browser) SetViewport(width, height int) error {
	return b.do(fmt.Sprintf("setting the viewport to %dx%d", width, height),
		chromedp.EmulateViewport(int64(width), int64(height)))
}

// Screenshot writes a PNG of the viewport to path, making its directory.
func (b *Browser) Screenshot(path string) error {
	ctx, cancel := context.WithTimeout(b.tabCtx, ActionTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return fmt.Errorf("taking a screenshot: %w", err)
	}
	if len(png) == 0 {
		return errors.New("taking a screenshot: the browser returned no image")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("saving a screenshot: %w", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return fmt.Errorf("saving a screenshot: %w", err)
	}
	return nil
}

func abbreviate(s string) string {
	if len(s) > 120 {
		return s[:117] + "..."
	}
	return s
}
