package browsertest

import (
	"context"
	"fmt"

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
	if err == nil {
		b.offline = offline
	}
	return err
}

// Offline reports what SetOffline last set.
func (b *Browser) Offline() bool { return b.offline }
