package browsertest

import (
	"context"
	"fmt"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Wedge types text then Enter into whatever element has the focus, key
// event by key event, the way a keyboard-wedge scan engine (the Zebra
// TC52's DataWedge in keystroke mode) delivers a barcode. It does not move
// the focus: the page under test must have put it in the right field.
func (b *Browser) Wedge(text string) error {
	return b.Type(text + kb.Enter)
}

// Type sends the key events of every rune of s to the focused element; "\r"
// (kb.Enter) is the Enter key, kb.Tab the Tab key.
//
// Each key is a keyDown that carries its text, then a keyUp, as a hardware
// keyboard's keys reach Chrome: the page sees keydown, keypress and input,
// and a keydown handler that calls preventDefault suppresses the rest (with
// a separate "char" event, as chromedp.KeyEvent sends, Chrome types the
// character even then, which no keyboard does).
func (b *Browser) Type(s string) error {
	return b.do(fmt.Sprintf("typing %q", s), chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, r := range s {
			for _, k := range keyEvents(r) {
				if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, *k); err != nil {
					return err
				}
			}
		}
		return nil
	}))
}

// keyEvents folds kb.Encode's keyDown, char, keyUp into keyDown-with-text
// and keyUp.
func keyEvents(r rune) []*input.DispatchKeyEventParams {
	var down, up *input.DispatchKeyEventParams
	var text, unmodified string
	for _, k := range kb.Encode(r) {
		switch k.Type {
		case kb.KeyDown, kb.KeyRawDown:
			down = k
		case kb.KeyChar:
			text, unmodified = k.Text, k.UnmodifiedText
		case kb.KeyUp:
			up = k
		}
	}
	if down == nil || up == nil {
		return kb.Encode(r)
	}
	d := *down
	d.Type = kb.KeyDown
	d.Text, d.UnmodifiedText = text, unmodified
	return []*input.DispatchKeyEventParams{&d, up}
}

// PressEnter sends the Enter key alone (an operator confirming a field).
func (b *Browser) PressEnter() error { return b.Type(kb.Enter) }
