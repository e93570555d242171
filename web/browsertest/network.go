package browsertest

import (
	"context"
	"fmt"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// SetOffline takes the tab's network away (offline true) or gives it back,
// through the DevTools network domain: every request of the page and of
// its service worker fails as with no WiFi, navigator.onLine follows, and
// the page gets its offline/online event. It lasts across reloads of the
// tab, not across Relaunch.
func (b *Browser) SetOffline(offline bool) error {
	what := "going online"
	if offline {
		what = "going offline"
	}
	err := b.do(what, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return fmt.Errorf("enabling the network domain: %w", err)
		}
		rule := &network.Conditions{Offline: offline, DownloadThroughput: -1, UploadThroughput: -1}
		if _, err := cdp.Call(ctx, t, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			EmulateOfflineServiceWorker: &offline,
			MatchedNetworkConditions:    []*network.Conditions{rule},
		}); err != nil {
			return fmt.Errorf("emulating network conditions: %w", err)
		}
		if _, err := cdp.Call(ctx, t, network.OverrideNetworkState, network.OverrideNetworkStateParams{
			Offline: offline, DownloadThroughput: -1, UploadThroughput: -1,
		}); err != nil {
			return fmt.Errorf("overriding the network state: %w", err)
		}
		return nil
	}))
	if err != nil {
		return err
	}
	b.offline = offline
	if err := b.settleNetwork(offline); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// settleNetwork waits until the page sees the state SetOffline asked for.
// The DevTools answer can come back before the browser's network service
// has the new conditions (they travel on a channel of their own), so a
// request the page makes right after could still go out, or still fail. It
// probes with a request of its own to the page's origin, at a root path
// outside the scanner app's service worker scope (/scanner/), until that
// request fails (offline) or gets any answer (online), and navigator.onLine
// agrees. A page with no http(s) origin has nothing to probe and is taken
// as settled.
func (b *Browser) settleNetwork(offline bool) error {
	probe := fmt.Sprintf(`(async (online) => {
		if (navigator.onLine !== online) return false;
		if (!/^https?:$/.test(location.protocol)) return true;
		try {
			await fetch(location.origin + "/.browsertest-network-probe?" + Math.random(), {cache: "no-store"});
			return online;
		} catch (e) {
			return !online;
		}
	})(%t)`, !offline)
	if err := b.WaitUntil(probe, settleTimeout, "[location.href, navigator.onLine]"); err != nil {
		return fmt.Errorf("the page did not see the change: %w", err)
	}
	return nil
}

// settleTimeout bounds settleNetwork's wait.
const settleTimeout = 10 * time.Second

// Offline reports what SetOffline last set.
func (b *Browser) Offline() bool { return b.offline }
