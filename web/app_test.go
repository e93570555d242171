package web

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/internal/testkit/scannerpage"
	"github.com/invsync/invsync/web/browsertest"
)

// The locations and items the keyboard scans cycle through; ITEM-LOT is
// lot-tracked, so every fifth scan also needs its lot field.
var scanPlan = []struct{ loc, item, lot string }{
	{"A-01-01", "ITEM-100", ""},
	{"A-01-02", "ITEM-200", ""},
	{"B-01-01", "ITEM-300", ""},
	{"B-02-03", "ITEM-100", ""},
	{"C-07-01", "ITEM-LOT", "LOT-2024-089"},
}

// scanQueued scans n entries of scanPlan in turn, with the quantities
// first, first+1, …, and waits until the app shows the n scans queued.
func (h *appHarness) scanQueued(n, first int) {
	for i := range n {
		p := scanPlan[i%len(scanPlan)]
		h.Scan(p.loc, p.item, p.lot, fmt.Sprint(first+i), "")
	}
	h.WaitCounts(n, 0)
}

func TestEnrolByLinkStoresTheDeviceAndCleansTheURL(t *testing.T) {
	h := newAppHarness(t)
	h.Enrol(h.srv.URL, scannerToken)
	if got := h.Eval(`location.href`).(string); strings.Contains(got, "token") || strings.Contains(got, "#") {
		t.Errorf("the token is still in the address bar: %s", got)
	}
	if n := h.Eval(`history.length`).(float64); n != 2 {
		// about:blank and the app: replaceState left no entry with the
		// token to go back to.
		t.Errorf("history has %v entries, want 2", n)
	}
	dev := h.Eval(`import("./js/store.js").then(s => s.get("device"))`).(map[string]any)
	if dev["token"] != scannerToken || dev["scannerId"] != "SCANNER-08" || dev["warehouseId"] != "WH-001" {
		t.Errorf("stored device = %v", dev)
	}
	if got := h.Text("#who-scanner") + " " + h.Text("#who-wh"); got != "SCANNER-08 WH-001" {
		t.Errorf("identity line = %q", got)
	}
	if s := h.api.state(); s.count("GET /v1/me") < 1 || s.count("GET /v1/catalog") < 1 {
		t.Errorf("enrolment made these requests: %v", s.requests)
	}
	// No count-task endpoint on this server (404): no list.
	h.WaitJS(`document.querySelector("#tasks").hidden`)
	h.screenshot("status-green.png")

	// Made for gloves and screen readers: every field labelled, every
	// visible control at least 48 px tall, the indicator announced.
	a11y, err := browsertest.Eval[map[string][]string](h.B, `(() => {
	  document.querySelectorAll("details").forEach(d => d.open = true);
	  const shown = (e) => e.getClientRects().length > 0;
	  const out = {unlabelled: [], small: [], live: []};
	  for (const i of document.querySelectorAll("input")) if (!i.labels.length && !i.getAttribute("aria-label")) out.unlabelled.push(i.id);
	  for (const e of document.querySelectorAll("button, input, summary")) {
	    if (!shown(e)) continue;
	    const target = e.type === "checkbox" ? e.closest("label") : e;
	    if (target.getBoundingClientRect().height < 48) out.small.push((e.id || e.textContent.trim()) + ":" + target.getBoundingClientRect().height);
	  }
	  for (const e of document.querySelectorAll("#status [aria-live]")) out.live.push(e.getAttribute("aria-live"));
	  document.querySelectorAll("details").forEach(d => d.open = false);
	  return out; })()`)
	if err != nil {
		t.Fatal(err)
	}
	if len(a11y["unlabelled"]) > 0 || len(a11y["small"]) > 0 || len(a11y["live"]) == 0 {
		t.Errorf("accessibility: unlabelled %v, under 48 px %v, live regions in the indicator %v", a11y["unlabelled"], a11y["small"], a11y["live"])
	}

	// The operator is remembered across a reload and goes with each scan.
	if err := h.B.Click("#device summary"); err != nil {
		t.Fatal(err)
	}
	if err := h.B.Focus("#f-user"); err != nil {
		t.Fatal(err)
	}
	if err := h.B.Wedge("warehouse_user_23"); err != nil {
		t.Fatal(err)
	}
	h.WaitJS(`document.querySelector("#who-user").textContent === "operator warehouse_user_23"`)
	if err := h.B.Reload(); err != nil {
		t.Fatal(err)
	}
	h.WaitJS(`document.querySelector("#f-user").value === "warehouse_user_23"`)
	h.Scan("A-01-01", "ITEM-100", "", "1", "")
	s := h.waitAccepted(1)
	if u := s.txs[s.order[0]]["userId"]; u != "warehouse_user_23" {
		t.Errorf("the scan's userId is %v", u)
	}
	// The catalog is revalidated with its ETag: unchanged, a 304.
	if err := h.B.Click("#sync-now"); err != nil {
		t.Fatal(err)
	}
	if err := testkit.Within(waitLong, testkit.True(func() bool { return h.api.state().notModified > 0 },
		"no conditional catalog request")); err != nil {
		t.Errorf("the catalog was never revalidated with If-None-Match: %v", err)
	}

	// The same app on a desktop screen.
	if err := h.B.SetViewport(1280, 800); err != nil {
		t.Fatal(err)
	}
	if w := h.Eval(`document.documentElement.scrollWidth`).(float64); w > 1280 {
		t.Errorf("page is %v px wide at 1280", w)
	}
	h.screenshot("desktop.png")
}

func TestOfflineScansSurviveAReloadAndSyncExactlyOnce(t *testing.T) {
	start := time.Now()
	h := newAppHarness(t)
	h.Enrol(h.srv.URL, scannerToken)
	h.screenshot("scan-screen.png")
	before := h.api.state()

	if err := h.B.SetOffline(true); err != nil {
		t.Fatal(err)
	}
	h.WaitStatus("yellow", "Offline")
	const scans = 50
	h.scanQueued(scans, 1)
	h.WaitStatus("yellow", "50 scans queued")
	if err := h.B.Click("#queue summary"); err != nil {
		t.Fatal(err)
	}
	if err := h.B.Exec(`window.scrollTo(0, 0)`); err != nil {
		t.Fatal(err)
	}
	h.screenshot("status-yellow.png")
	queued := h.QueuedIDs()
	if len(queued) != scans {
		t.Fatalf("device queue holds %d scans, want %d", len(queued), scans)
	}

	// Reload with no network: the service worker serves the app, the queue
	// is still there.
	if err := h.B.Reload(); err != nil {
		t.Fatal(err)
	}
	h.WaitJS(`!document.querySelector("#work").hidden`)
	h.WaitCounts(scans, 0)
	h.WaitStatus("yellow", "Offline")
	if got := h.QueuedIDs(); !slices.Equal(got, queued) {
		t.Fatalf("after an offline reload the queue is %d scans, want the same %d", len(got), len(queued))
	}
	if got := h.Text("#queue-n"); got != fmt.Sprint(scans) {
		t.Errorf("queue list says %s", got)
	}
	offline := h.api.state()
	if n := len(offline.requests) - len(before.requests); n != 0 {
		t.Fatalf("the server saw %d requests while the device was offline: %v", n, offline.requests[len(before.requests):])
	}

	h.WatchStatus()
	if err := h.B.SetOffline(false); err != nil {
		t.Fatal(err)
	}
	h.WaitStatus("green", "Synced")
	h.WaitCounts(0, 0)
	if log := h.Colours(); log != "yellow>green" {
		t.Errorf("indicator went %s, want yellow>green", log)
	}

	s := h.api.state()
	if !slices.Equal(s.order, queued) {
		t.Fatalf("server accepted %d transactions (in this order) but the device queued %d: lost or reordered", len(s.order), len(queued))
	}
	for id, n := range s.applied {
		if n != 1 {
			t.Errorf("transaction %s applied %d times", id, n)
		}
	}
	if s.duplicates != 0 {
		t.Errorf("%d duplicates: a scan was sent twice with no reason", s.duplicates)
	}
	// Each request carries a W3C traceparent of its own trace, which
	// the server continues (README, "Observability").
	traceparent := regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`)
	traces := map[string]bool{}
	for i, u := range s.uploads {
		if !traceparent.MatchString(u.traceparent) {
			t.Errorf("upload %d: traceparent %q", i, u.traceparent)
		} else if traces[u.traceparent[3:35]] {
			t.Errorf("upload %d reuses trace %s", i, u.traceparent[3:35])
		} else {
			traces[u.traceparent[3:35]] = true
		}
	}
	// Each scan carries its scan time, set before the upload; each request
	// its own sentAt.
	for _, u := range s.uploads {
		for _, id := range u.ids {
			ts, err := time.Parse(time.RFC3339Nano, s.txs[id]["timestamp"].(string))
			if err != nil || ts.After(u.sentAt) || ts.Before(start) {
				t.Errorf("transaction %s: timestamp %v, request sentAt %v", id, s.txs[id]["timestamp"], u.sentAt)
			}
		}
	}
	uuidV4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	lots := 0
	for id, tx := range s.txs {
		if !uuidV4.MatchString(id) {
			t.Errorf("transactionId %q is not a UUID v4", id)
		}
		if tx["itemId"] == "ITEM-LOT" {
			lots++
			if tx["lotNumber"] != "LOT-2024-089" {
				t.Errorf("lot-tracked scan without its lot: %v", tx)
			}
		} else if _, has := tx["lotNumber"]; has {
			t.Errorf("lot number on an item that is not lot-tracked: %v", tx)
		}
	}
	if lots != scans/len(scanPlan) {
		t.Errorf("%d lot-tracked scans reached the server, want %d", lots, scans/len(scanPlan))
	}
	t.Logf("scans=%d accepted=%d applied-twice=0 duplicates=%d uploads=%d", scans, len(s.order), s.duplicates, len(s.uploads))
}

func TestKilledBrowserLosesNothingAndDoublesNothing(t *testing.T) {
	h := newAppHarness(t)
	h.Enrol(h.srv.URL, scannerToken)
	if err := h.B.SetOffline(true); err != nil {
		t.Fatal(err)
	}
	const scans = 20
	h.scanQueued(scans, 100)
	queued := h.QueuedIDs()

	// Kill 1: the battery is pulled while offline, right after the last
	// scan said "queued". Relaunch offline: the app opens from the
	// service worker's cache, every scan still queued.
	if err := h.B.Kill(); err != nil {
		t.Fatal(err)
	}
	h.Relaunch()
	if err := h.B.SetOffline(true); err != nil {
		t.Fatal(err)
	}
	if err := h.B.Navigate(h.url("/scanner/")); err != nil {
		t.Fatal(err)
	}
	h.WaitCounts(scans, 0)
	if got := h.QueuedIDs(); !slices.Equal(got, queued) {
		t.Fatalf("after a kill the queue is %v, want %v", got, queued)
	}
	if s := h.api.state(); len(s.uploads) != 0 {
		t.Fatalf("%d uploads reached the server while offline", len(s.uploads))
	}

	// Kill 2: in the middle of the upload. The server has accepted the
	// whole batch, but its answer never reaches the device.
	hang, hung := make(chan bool), make(chan bool, 1)
	h.api.mu.Lock()
	h.api.hangAfter, h.api.hung = hang, hung
	h.api.mu.Unlock()
	defer close(hang)
	if err := h.B.SetOffline(false); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hung:
	case <-time.After(waitLong):
		t.Fatalf("no upload reached the server; page: %v", h.Eval(scannerpage.State))
	}
	if err := h.B.Kill(); err != nil {
		t.Fatal(err)
	}
	if s := h.api.state(); len(s.order) != scans {
		t.Fatalf("server holds %d accepted scans before the resend, want %d", len(s.order), scans)
	}

	h.Relaunch()
	if err := h.B.Navigate(h.url("/scanner/")); err != nil {
		t.Fatal(err)
	}
	h.WaitStatus("green", "Synced")
	h.WaitCounts(0, 0)

	s := h.api.state()
	if !slices.Equal(s.order, queued) {
		t.Fatalf("server accepted %v, want exactly the device's %v", s.order, queued)
	}
	for id, n := range s.applied {
		if n != 1 {
			t.Errorf("transaction %s applied %d times", id, n)
		}
	}
	if s.duplicates != scans {
		t.Errorf("the resend after the kill was answered %d duplicates, want %d (was it resent?)", s.duplicates, scans)
	}
	if len(s.uploads) != 2 {
		t.Errorf("%d uploads, want 2 (the unanswered one and its resend)", len(s.uploads))
	} else if !slices.Equal(s.uploads[0].ids, s.uploads[1].ids) {
		t.Errorf("the resend carried other transactions than the unanswered upload")
	}
	lost := len(queued) - len(s.order)
	t.Logf("scans=%d lost=%d doubled=0 duplicates-answered=%d", scans, lost, s.duplicates)
}

func TestRejectedScanTurnsRedUntilDismissedOrCorrected(t *testing.T) {
	h := newAppHarness(t)
	h.Enrol(h.srv.URL, scannerToken)

	// Local validation first: an unknown item never reaches the queue.
	h.Wedge("locationId", "A-01-01")
	h.Wedge("itemId", "ITEM-NOPE")
	h.WaitJS(`document.querySelector("#e-itemId").textContent.includes("Unknown item ITEM-NOPE")`)
	if got := h.Eval(`document.activeElement.id`); got != "f-itemId" {
		t.Errorf("after an invalid item the focus is on %v", got)
	}
	if err := h.B.Wedge("ITEM-200"); err != nil { // the operator rescans; the field was selected
		t.Fatal(err)
	}
	h.Wedge("quantity", "501") // over ITEM-200's limit of 500
	h.WaitJS(`document.querySelector("#e-quantity").textContent.includes("limit of 500")`)
	if err := h.B.Wedge("5"); err != nil {
		t.Fatal(err)
	}
	if s := h.waitAccepted(1); len(s.order) != 1 || fmt.Sprintf("%v %v", s.txs[s.order[0]]["itemId"], s.txs[s.order[0]]["quantity"]) != "ITEM-200 5" {
		t.Fatalf("server holds %v", s.txs)
	}
	h.WaitStatus("green", "Synced")

	// The location was retired on the server after the device cached the
	// catalog: the server rejects the scan.
	h.api.mu.Lock()
	h.api.retired["Z-99-99"] = true
	h.api.mu.Unlock()
	h.Scan("Z-99-99", "ITEM-100", "", "7", "")
	h.WaitStatus("red", "1 scan rejected")
	h.WaitCounts(0, 1)
	card := h.Text("#rejected-list li")
	if !strings.Contains(card, "UNKNOWN_LOCATION") || !strings.Contains(card, `location "Z-99-99" is not a location of warehouse WH-001`) {
		t.Errorf("rejection card = %q", card)
	}
	// "Review" in the indicator brings the card into view.
	if err := h.B.Click("#st-action"); err != nil {
		t.Fatal(err)
	}
	h.screenshot("status-red.png")

	if err := h.B.Click("#rejected-list li .dismiss"); err != nil {
		t.Fatal(err)
	}
	h.WaitStatus("green", "Synced")
	h.WaitCounts(0, 0)

	// Rejected again, then corrected: the edit queues a new scan with a
	// new transactionId in place of the rejected one.
	h.Scan("Z-99-99", "ITEM-100", "", "9", "")
	h.WaitStatus("red", "1 scan rejected")
	rejectedID := h.api.state().uploads[len(h.api.state().uploads)-1].ids[0]
	if err := h.B.Click("#rejected-list li .edit"); err != nil {
		t.Fatal(err)
	}
	h.WaitJS(`document.querySelector("#f-locationId").value === "Z-99-99" && document.activeElement.id === "f-locationId"`)
	if err := h.B.Wedge("A-05-02"); err != nil {
		t.Fatal(err)
	}
	h.Wedge("itemId", "ITEM-100")
	h.Wedge("quantity", "9")
	s := h.waitAccepted(2) // the first receipt and the correction; the rejected ones never were
	h.WaitStatus("green", "Synced")
	h.WaitCounts(0, 0)
	last := s.txs[s.order[len(s.order)-1]]
	if last["locationId"] != "A-05-02" || last["transactionId"] == rejectedID {
		t.Errorf("the correction reached the server as %v (rejected id %s)", last, rejectedID)
	}
}

func TestRefusedTokenTurnsRedUntilReenrolled(t *testing.T) {
	h := newAppHarness(t)
	h.Enrol(h.srv.URL, scannerToken)
	h.api.mu.Lock()
	h.api.revoked[scannerToken] = true
	h.api.mu.Unlock()

	h.Scan("A-01-01", "ITEM-100", "", "3", "")
	h.WaitTokenRefused(1)
	h.screenshot("status-red-token.png")
	queued := h.QueuedIDs()

	// Re-enrol with a new token, typed as a wedge types it: the queued
	// scan survives and uploads under the new identity.
	const newToken = "tok-scanner-08b-abcdefabcdefabcdefabcdef"
	h.api.addToken(newToken, "SCANNER-08B", "WH-001")
	if err := h.B.Click("#st-action"); err != nil {
		t.Fatal(err)
	}
	h.WaitJS(`document.activeElement.id === "reenrol" && document.activeElement.textContent.includes("1 queued scans stay")`)
	if err := h.B.Click("#reenrol"); err != nil {
		t.Fatal(err)
	}
	h.WaitJS(`!document.querySelector("#enrol").hidden && document.activeElement.id === "token"`)
	if err := h.B.Wedge(newToken); err != nil {
		t.Fatal(err)
	}
	s := h.waitAccepted(1)
	h.WaitStatus("green", "Synced")
	if !slices.Equal(s.order, queued) {
		t.Fatalf("server accepted %v, want %v", s.order, queued)
	}
	if u := s.uploads[len(s.uploads)-1]; u.scannerID != "SCANNER-08B" {
		t.Errorf("uploaded as %s", u.scannerID)
	}
}

func TestVersionConflictRetriesWithTheFreshVersion(t *testing.T) {
	h := newAppHarness(t)
	h.Enrol(h.srv.URL, scannerToken)
	// Three receipts move the record to version 3.
	for i := range 3 {
		h.Scan("A-05-02", "ITEM-300", "", fmt.Sprint(10+i), "")
	}
	h.waitAccepted(3)
	h.WaitStatus("green", "Synced")
	// A count made against version 1 (as another client would send it).
	err := h.B.Exec(`import("./js/store.js").then(s => s.addScan({transactionId: crypto.randomUUID(), type: "CYCLE_COUNT",
	  timestamp: "2026-01-02T03:04:05.678Z", warehouseId: "WH-001", itemId: "ITEM-300", locationId: "A-05-02",
	  quantity: 30, expectedVersion: 1}))`)
	if err != nil {
		t.Fatal(err)
	}
	// The operator's "Sync now", in the device panel.
	if err := h.B.Click("#device summary"); err != nil {
		t.Fatal(err)
	}
	if err := h.B.Click("#sync-now"); err != nil {
		t.Fatal(err)
	}
	h.WaitStatus("red", "1 scan rejected")
	card := h.Text("#rejected-list li")
	if !strings.Contains(card, "VERSION_CONFLICT") || !strings.Contains(card, "Retry with the fresh version") {
		t.Fatalf("card = %q", card)
	}
	conflicted := h.api.state().order[3]
	if err := h.B.Click("#rejected-list li .retry"); err != nil {
		t.Fatal(err)
	}
	h.WaitStatus("green", "Synced")
	h.WaitCounts(0, 0)
	s := h.api.state()
	if len(s.order) != 5 {
		t.Fatalf("server accepted %d transactions, want 5", len(s.order))
	}
	retry := s.txs[s.order[4]]
	if retry["transactionId"] == conflicted || fmt.Sprint(retry["expectedVersion"]) != "3" ||
		retry["timestamp"] != "2026-01-02T03:04:05.678Z" || fmt.Sprint(retry["quantity"]) != "30" {
		t.Errorf("the retry was %v", retry)
	}
	if o := s.outcomes[s.order[4]]; o["status"] != "applied" || fmt.Sprint(o["resultingOnHand"]) != "30" {
		t.Errorf("the retry's outcome was %v", o)
	}
	if s.count("GET /v1/positions") != 1 {
		t.Errorf("positions read %d times", s.count("GET /v1/positions"))
	}
}

func TestCycleCountTakesTheLockAndCompletesItsTask(t *testing.T) {
	h := newAppHarness(t)
	h.api.mu.Lock()
	h.api.countTasks = []map[string]any{
		{"countTaskId": "ct-1", "warehouseId": "WH-001", "locationId": "A-01-02", "itemId": "ITEM-100", "reason": "MISMATCH", "status": "OPEN"},
	}
	// Another scanner is counting B-01-01.
	h.api.locks["lock-x"] = &lock{id: "lock-x", wh: "WH-001", loc: "B-01-01", scanner: "SCANNER-03", expires: time.Now().Add(20 * time.Minute)}
	h.api.mu.Unlock()
	h.Enrol(h.srv.URL, scannerToken)

	h.WaitJS(`!document.querySelector("#tasks").hidden && document.querySelector("#task-list").textContent.includes("A-01-02")`)
	if err := h.B.Click(`#task-list [data-task="ct-1"] button`); err != nil {
		t.Fatal(err)
	}
	// Location and item come from the task: the counted quantity is next.
	h.WaitJS(`document.querySelector("#lock-text").textContent.includes("locked for your count")`)
	h.Wedge("quantity", "42")
	s := h.waitAccepted(1)
	h.WaitStatus("green", "Synced")
	h.WaitJS(`document.querySelector("#tasks").hidden`)
	tx := s.txs[s.order[0]]
	if tx["type"] != "CYCLE_COUNT" || tx["countTaskId"] != "ct-1" || tx["locationId"] != "A-01-02" || fmt.Sprint(tx["quantity"]) != "42" {
		t.Errorf("count reached the server as %v", tx)
	}
	_ = testkit.Within(waitLong, testkit.True(func() bool { return len(h.api.state().released) > 0 }, "no lock released"))
	if r := h.api.state().released; len(r) != 1 || r[0] == "lock-x" {
		t.Errorf("released locks %v, want the count's own", r)
	}

	// A location locked by someone else: a clear warning naming the
	// holder; the operator overrides.
	h.chooseType("CYCLE_COUNT")
	h.Wedge("locationId", "B-01-01")
	h.WaitJS(`document.querySelector("#lock-text").textContent.includes("being counted by SCANNER-03")`)
	h.screenshot("count-lock-conflict.png")
	if err := h.B.Click("#f-override"); err != nil {
		t.Fatal(err)
	}
	if err := h.B.Focus("#f-itemId"); err != nil {
		t.Fatal(err)
	}
	h.Wedge("itemId", "ITEM-100")
	h.Wedge("quantity", "8")
	s = h.waitAccepted(2)
	h.WaitStatus("green", "Synced")
	over := s.txs[s.order[1]]
	if over["override"] != true || s.outcomes[s.order[1]]["status"] != "applied" {
		t.Errorf("override count %v → %v", over, s.outcomes[s.order[1]])
	}
}

func TestUploadWithoutAnAnswerIsResentHonouringRetryAfter(t *testing.T) {
	h := newAppHarness(t)
	h.Enrol(h.srv.URL, scannerToken)
	h.api.mu.Lock()
	h.api.failNext = []int{503, 429}
	h.api.retryAfter = "1"
	h.api.mu.Unlock()
	before := h.api.state().count("POST /v1/transactions")
	start := time.Now()
	h.Scan("A-01-01", "ITEM-100", "", "4", "")
	h.WaitStatus("yellow", "1 scan waiting to sync")
	s := h.waitAccepted(1)
	took := time.Since(start)
	h.WaitStatus("green", "Synced")
	if n := s.count("POST /v1/transactions") - before; n != 3 {
		t.Errorf("%d upload requests, want 3 (503, 429, then accepted)", n)
	}
	if took < 1800*time.Millisecond {
		t.Errorf("the two resends came after %v: Retry-After: 1 (twice) was not honoured", took)
	}
	if s.duplicates != 0 || s.applied[s.order[0]] != 1 {
		t.Errorf("duplicates %d, applied %d", s.duplicates, s.applied[s.order[0]])
	}
}

func TestTwoTabsNeverUploadTheSameQueueTwice(t *testing.T) {
	h := newAppHarness(t)
	h.Enrol(h.srv.URL, scannerToken)
	first := h.B
	second, err := first.NewTab()
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := second.Navigate(h.url("/scanner/")); err != nil {
		t.Fatal(err)
	}
	for _, b := range []*browsertest.Browser{first, second} {
		if err := b.SetOffline(true); err != nil {
			t.Fatal(err)
		}
	}
	const scans = 30
	h.scanQueued(scans, 200)
	// The other tab shows the same queue.
	h.B = second
	h.WaitCounts(scans, 0)
	h.B = first

	// Both tabs come online together and both try to upload; a slow server
	// keeps the first upload open while the other tab tries.
	h.api.mu.Lock()
	h.api.uploadDelay = 700 * time.Millisecond
	h.api.mu.Unlock()
	errs := make(chan error, 2)
	for _, b := range []*browsertest.Browser{first, second} {
		go func() { errs <- b.SetOffline(false) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	s := h.waitAccepted(scans)
	h.WaitStatus("green", "Synced")
	h.B = second
	h.WaitStatus("green", "Synced")
	h.CheckNoExceptions()
	h.B = first
	s = h.api.state()
	if s.duplicates != 0 || len(s.uploads) != 1 {
		t.Errorf("%d uploads with %d duplicates: the two tabs both uploaded the queue", len(s.uploads), s.duplicates)
	}
	if len(s.order) != scans {
		t.Errorf("server accepted %d, want %d", len(s.order), scans)
	}
}

// TestAppRules runs the app's pure rule modules in the browser: local
// validation, the indicator's colours, Retry-After parsing.
func TestAppRules(t *testing.T) {
	h := newAppHarness(t)
	if err := h.B.Navigate(h.url("/scanner/")); err != nil {
		t.Fatal(err)
	}
	h.WaitJS(`!document.querySelector("#enrol").hidden && document.activeElement.id === "token"`)
	h.WaitStatus("yellow", "Not enrolled")
	h.screenshot("enrol.png")
	got, err := browsertest.Eval[map[string]string](h.B, `(async () => {
	  const v = await import("./js/validate.js");
	  const st = await import("./js/status.js");
	  const api = await import("./js/api.js");
	  const cat = {warehouseKnown: true, locations: new Set(["A-1", "B-2"]), items: new Map([
	    ["I", {itemId: "I", lotTracked: false, maxTransactionQuantity: 100}],
	    ["L", {itemId: "L", lotTracked: true, maxTransactionQuantity: 0}]])};
	  const d = (o) => ({type: "RECEIPT", warehouseId: "WH", locationId: "A-1", itemId: "I", lotNumber: "", quantity: "5", ...o});
	  const errs = (o, c = cat) => Object.keys(v.validate(d(o), c).errors).sort().join(",") || "ok";
	  const s = (o) => { const r = st.compute({enrolled: true, tokenRefused: false, queued: 0, rejected: 0, online: true,
	    lastSuccessAt: 1000, lastError: null, now: 1000 + 60000, ...o}); return r.color + ":" + r.title; };
	  return {
	    receiptOK: errs({}), receiptZero: errs({quantity: "0"}), pickNegative: errs({type: "PICK", quantity: "-1"}),
	    moveSame: errs({type: "MOVE", toLocationId: "A-1"}), moveOK: errs({type: "MOVE", toLocationId: "B-2"}),
	    moveUnknownTo: errs({type: "MOVE", toLocationId: "Q-9"}),
	    adjustZero: errs({type: "ADJUSTMENT", quantity: "0"}), adjustNegative: errs({type: "ADJUSTMENT", quantity: "-3"}),
	    adjustMinusSign: errs({type: "ADJUSTMENT", quantity: "\u22123"}),
	    countZero: errs({type: "CYCLE_COUNT", quantity: "0"}), countNegative: errs({type: "CYCLE_COUNT", quantity: "-1"}),
	    notInteger: errs({quantity: "2.5"}), overMax: errs({quantity: "101"}), atMax: errs({quantity: "100"}),
	    defaultMax: errs({itemId: "L", lotNumber: "X", quantity: "100001"}), lotMissing: errs({itemId: "L"}),
	    unknownItem: errs({itemId: "NOPE"}), unknownLocation: errs({locationId: "Z"}), empty: errs({locationId: "", itemId: "", quantity: ""}),
	    noCatalog: errs({itemId: "NOPE", locationId: "Z"}, null),
	    green: s({}), queued: s({queued: 3}), offline: s({online: false}), offlineEmpty: s({online: false, queued: 0}),
	    rejected: s({rejected: 1, queued: 2}), refused: s({tokenRefused: true, rejected: 1}),
	    stale: s({now: 1000 + 5 * 60000 + 1}), staleOffline: s({now: 1000 + 10 * 60000, online: false, queued: 1}),
	    retrying: s({lastError: "NETWORK"}), notEnrolled: s({enrolled: false}),
	    retrySeconds: String(api.retryAfterMs("7")), retryDate: String(api.retryAfterMs(new Date(61000).toUTCString(), 1000)),
	    retryJunk: String(api.retryAfterMs("soon")),
	  };
	})()`)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"receiptOK": "ok", "receiptZero": "quantity", "pickNegative": "quantity",
		"moveSame": "toLocationId", "moveOK": "ok", "moveUnknownTo": "toLocationId",
		"adjustZero": "quantity", "adjustNegative": "ok", "adjustMinusSign": "ok",
		"countZero": "ok", "countNegative": "quantity",
		"notInteger": "quantity", "overMax": "quantity", "atMax": "ok",
		"defaultMax": "quantity", "lotMissing": "lotNumber",
		"unknownItem": "itemId", "unknownLocation": "locationId", "empty": "itemId,locationId,quantity",
		"noCatalog": "ok",
		"green":     "green:Synced", "queued": "yellow:Queued", "offline": "yellow:Offline", "offlineEmpty": "yellow:Offline",
		"rejected": "red:Attention", "refused": "red:Attention", "stale": "red:No sync", "staleOffline": "yellow:Offline",
		"retrying": "yellow:Retrying", "notEnrolled": "yellow:Not enrolled",
		"retrySeconds": "7000", "retryDate": "60000", "retryJunk": "null",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
}

func TestLargeBacklogUploadsOldestFirstInRequestsOfAtMost1000(t *testing.T) {
	h := newAppHarness(t)
	h.Enrol(h.srv.URL, scannerToken)
	if err := h.B.SetOffline(true); err != nil {
		t.Fatal(err)
	}
	// A day in a dead zone: 1,005 scans (stored through the app's own
	// queue module; typing them would take minutes).
	err := h.B.Exec(`import("./js/store.js").then(async (s) => {
	  const t0 = Date.now() - 8 * 3600e3;
	  for (let i = 0; i < 1005; i++) {
	    await s.addScan({transactionId: crypto.randomUUID(), type: "RECEIPT", timestamp: new Date(t0 + i * 1000).toISOString(),
	      warehouseId: "WH-001", itemId: "ITEM-100", locationId: "A-01-01", quantity: 1});
	  }
	})`)
	if err != nil {
		t.Fatal(err)
	}
	queued := h.QueuedIDs()
	if err := h.B.SetOffline(false); err != nil {
		t.Fatal(err)
	}
	s := h.waitAccepted(1005)
	h.WaitStatus("green", "Synced")
	if len(s.uploads) != 2 || len(s.uploads[0].ids) != 1000 || len(s.uploads[1].ids) != 5 {
		sizes := []int{}
		for _, u := range s.uploads {
			sizes = append(sizes, len(u.ids))
		}
		t.Errorf("upload sizes %v, want [1000 5]", sizes)
	}
	if !slices.Equal(s.order, queued) {
		t.Error("the backlog was not uploaded oldest first")
	}
}

func TestEveryScanTypeThroughTheKeyboard(t *testing.T) {
	h := newAppHarness(t)
	h.Enrol(h.srv.URL, scannerToken)

	h.Scan("A-01-01", "ITEM-100", "", "40", "") // RECEIPT is the default
	h.chooseType("PICK")
	h.Scan("A-01-01", "ITEM-100", "", "5", "")
	h.chooseType("MOVE")
	h.WaitJS(`document.querySelector("#l-locationId").textContent === "From location" && !document.querySelector('[data-field="toLocationId"]').hidden`)
	h.Wedge("locationId", "A-01-01")
	h.Wedge("itemId", "ITEM-100")
	h.Wedge("quantity", "10")
	h.WaitJS(`document.activeElement.id === "f-toLocationId"`)
	h.screenshot("move-screen.png")
	h.Wedge("toLocationId", "B-02-03")
	h.chooseType("ADJUSTMENT")
	h.Scan("B-02-03", "ITEM-100", "", "-2", "")
	// The ± key turns a typed 3 into −3.
	h.Wedge("locationId", "B-02-03")
	h.Wedge("itemId", "ITEM-100")
	h.WaitJS(`document.activeElement.id === "f-quantity"`)
	if err := h.B.Type("3"); err != nil {
		t.Fatal(err)
	}
	if err := h.B.Click("#sign"); err != nil {
		t.Fatal(err)
	}
	h.screenshot("adjust-screen.png")
	h.Wedge("quantity", "")
	h.waitAccepted(5)

	// A count with no network: no lock, a note says so; it syncs later.
	if err := h.B.SetOffline(true); err != nil {
		t.Fatal(err)
	}
	h.chooseType("CYCLE_COUNT")
	h.Wedge("locationId", "A-01-01")
	h.WaitJS(`document.querySelector("#lock-text").textContent.includes("Offline: the location is not locked")`)
	h.Wedge("itemId", "ITEM-100")
	h.Wedge("quantity", "25")
	h.WaitCounts(1, 0)
	if err := h.B.SetOffline(false); err != nil {
		t.Fatal(err)
	}
	s := h.waitAccepted(6)
	h.WaitStatus("green", "Synced")

	var got []string
	for _, id := range s.order {
		tx := s.txs[id]
		line := fmt.Sprintf("%v %v %v %v", tx["type"], tx["locationId"], tx["itemId"], tx["quantity"])
		if to, ok := tx["toLocationId"]; ok {
			line += fmt.Sprintf(" to %v", to)
		}
		got = append(got, line)
	}
	want := []string{
		"RECEIPT A-01-01 ITEM-100 40",
		"PICK A-01-01 ITEM-100 5",
		"MOVE A-01-01 ITEM-100 10 to B-02-03",
		"ADJUSTMENT B-02-03 ITEM-100 -2",
		"ADJUSTMENT B-02-03 ITEM-100 -3",
		"CYCLE_COUNT A-01-01 ITEM-100 25",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the server received\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if o := s.outcomes[s.order[5]]; fmt.Sprint(o["resultingOnHand"]) != "25" {
		t.Errorf("count outcome %v", o)
	}
	if s.count("POST /v1/locks") != 0 {
		t.Errorf("a lock was asked for while offline")
	}
}
