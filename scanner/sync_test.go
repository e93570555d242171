package scanner

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/scanner/internal/fakeapi"
)

func TestUnansweredRequestIsResentWithIdenticalTransactions(t *testing.T) {
	for _, mode := range []string{"503", "500-after", "drop-before", "drop-after", "garbage-after"} {
		t.Run(mode, func(t *testing.T) {
			srv, clk, d := onFake(t)
			srv.Fail = fakeapi.FailFirst(mode)
			qs := queueN(t, d, clk, 0, 5)
			_, err := d.Sync(context.Background())
			var ue *UploadError
			if !errors.As(err, &ue) || !errors.Is(err, ErrUnanswered) {
				t.Fatalf("first Sync: %v, want an unanswered *UploadError", err)
			}
			wantStatus(t, d, Yellow, 5, 0)
			clk.Advance(30 * time.Second)
			rep, err := d.Sync(context.Background())
			if err != nil {
				t.Fatalf("second Sync: %v", err)
			}
			reqs := srv.Requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2", len(reqs))
			}
			if mode != "drop-before" { // a request dropped unread was not recorded
				if len(reqs[0].Txs) != 5 || len(reqs[1].Txs) != 5 {
					t.Fatalf("requests carried %d and %d transactions, want 5 and 5", len(reqs[0].Txs), len(reqs[1].Txs))
				}
				for i := range reqs[0].Txs {
					if !bytes.Equal(reqs[0].Txs[i], reqs[1].Txs[i]) {
						t.Fatalf("transaction %d resent changed:\n%s\n%s", i, reqs[0].Txs[i], reqs[1].Txs[i])
					}
				}
				if reqs[0].SentAt == reqs[1].SentAt {
					t.Fatalf("sentAt %s reused: it must be the clock when each request is sent", reqs[0].SentAt)
				}
			}
			wantDup := 0
			if mode == "drop-after" || mode == "500-after" || mode == "garbage-after" {
				wantDup = 5 // the server had written them before the answer was lost
			}
			if rep.Duplicate != wantDup || rep.Accepted != 5-wantDup {
				t.Fatalf("second sync %+v, want %d duplicate and %d accepted", rep, wantDup, 5-wantDup)
			}
			srv.AssertWrittenOnce(t, ids(qs))
			st := wantStatus(t, d, Green, 0, 0)
			if st.LastSyncAt == nil || !st.LastSyncAt.Equal(clk.Now()) {
				t.Fatalf("lastSyncAt %v, want %v", st.LastSyncAt, clk.Now())
			}
		})
	}
}

func TestOfflineIsYellowAndNeverRed(t *testing.T) {
	srv := fakeapi.New(t)
	url := srv.URL()
	srv.HTTP.Close() // nothing listens there now
	clk := newClock()
	d := openT(t, testConfig(t, url, clk))
	queueN(t, d, clk, 0, 2)
	for range 3 {
		if _, err := d.Sync(context.Background()); !errors.Is(err, ErrOffline) {
			t.Fatalf("Sync with nothing listening: %v, want ErrOffline", err)
		}
		clk.Advance(10 * time.Minute)
	}
	st := wantStatus(t, d, Yellow, 2, 0)
	if st.Online || st.LastSyncAt != nil {
		t.Fatalf("status %+v: want offline and never synced", st)
	}
}

func TestThroughAFaultyNetworkNothingIsLostOrDoubled(t *testing.T) {
	srv := fakeapi.New(t)
	srv.Delay = 5 * time.Millisecond
	link := testkit.NewFaultyLink(t, srv.HTTP.Listener.Addr().String(), rand.New(rand.NewPCG(7, 1)),
		testkit.LinkOdds{Cut: 0.2, Lose: 0.25, Stall: 0.15, StallFor: 400 * time.Millisecond})
	clk := newClock()
	cfg := testConfig(t, link.URL(), clk)
	cfg.BatchSize = 40
	cfg.RequestTimeout = 250 * time.Millisecond
	cfg.HTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	d := openT(t, cfg)
	var all []Queued
	var failures int
	for round := 0; round < 200 && (len(all) < 600 || mustStatus(t, d).Queued > 0); round++ {
		if len(all) < 600 {
			all = append(all, queueN(t, d, clk, len(all), 60)...)
		}
		if _, err := d.Sync(context.Background()); err != nil {
			if !errors.Is(err, ErrUnanswered) && !errors.Is(err, ErrOffline) {
				t.Fatalf("Sync: %v", err)
			}
			failures++
		}
		clk.Advance(time.Second)
	}
	if link.Faults() == 0 || failures == 0 {
		t.Fatal("the link injected no fault: the test tests nothing")
	}
	wantStatus(t, d, Green, 0, 0)
	srv.AssertWrittenOnce(t, ids(all))
	for user, n := range srv.WritesByUser() {
		if n != 1 {
			t.Errorf("scan %s written %d times", user, n)
		}
	}
	var dups int
	d.db.QueryRow(`SELECT COUNT(*) FROM history WHERE result = 'duplicate'`).Scan(&dups)
	t.Logf("%d scans through %d injected faults, %d failed syncs, %d answered duplicate", len(all), link.Faults(), failures, dups)
	if dups == 0 {
		t.Error("no scan was answered duplicate: no request was lost after the server wrote it, so the resend path went untested")
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	srv, clk, d := onFake(t)
	srv.Fail = fakeapi.FailFirst("429:60")
	queueN(t, d, clk, 0, 1)
	if _, err := d.Sync(context.Background()); !errors.Is(err, ErrUnanswered) {
		t.Fatalf("Sync answered 429: %v", err)
	}
	clk.Advance(30 * time.Second)
	var ue *UploadError
	if _, err := d.Sync(context.Background()); !errors.Is(err, ErrDeferred) || !errors.As(err, &ue) || ue.RetryAfter != 30*time.Second {
		t.Fatalf("Sync within Retry-After: %v, want ErrDeferred with 30s left", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Fatalf("%d requests: nothing may be sent before Retry-After passes", n)
	}
	if w := d.nextWait(); w != 30*time.Second {
		t.Fatalf("Run would wait %s, want the 30s Retry-After leaves", w)
	}
	clk.Advance(31 * time.Second)
	if rep, err := d.Sync(context.Background()); err != nil || rep.Accepted != 1 {
		t.Fatalf("Sync after Retry-After: %+v %v", rep, err)
	}
}

func TestFiveMinutesWithoutASuccessfulSyncWhileOnlineIsRed(t *testing.T) {
	srv, clk, d := onFake(t)
	failing := true
	srv.Fail = func(int) string {
		if failing {
			return "503"
		}
		return ""
	}
	queueN(t, d, clk, 0, 1)
	d.Sync(context.Background())
	wantStatus(t, d, Yellow, 1, 0)
	for range 9 {
		clk.Advance(30 * time.Second)
		d.Sync(context.Background())
	}
	clk.Advance(29 * time.Second) // 4m59s after the first failure
	wantStatus(t, d, Yellow, 1, 0)
	clk.Advance(time.Second)
	st := wantStatus(t, d, Red, 1, 0)
	if !bytes.Contains([]byte(st.Message), []byte("no successful sync for 5m0s")) {
		t.Fatalf("red message %q does not say why", st.Message)
	}
	srv.Mu.Lock()
	failing = false
	srv.Mu.Unlock()
	mustSync(t, d)
	wantStatus(t, d, Green, 0, 0)
}

func TestRefusedTokenStopsSyncingAndTurnsRed(t *testing.T) {
	srv, clk, d := onFake(t, func(c *Config) { c.Token = "revoked" })
	queueN(t, d, clk, 0, 2)
	if _, err := d.Sync(context.Background()); !errors.Is(err, ErrTokenRefused) {
		t.Fatalf("Sync with a refused token: %v", err)
	}
	st := wantStatus(t, d, Red, 2, 0)
	for _, want := range []string{"re-enrol", "new scanner token", "401"} {
		if !bytes.Contains([]byte(st.Message), []byte(want)) {
			t.Errorf("red message %q lacks %q", st.Message, want)
		}
	}
	if _, err := d.Sync(context.Background()); !errors.Is(err, ErrTokenRefused) {
		t.Fatalf("second Sync: %v", err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("%d uploads reached the upload handler; a refused token must stop syncing", n)
	}
	// The operator view in another process sees red too.
	view := openT(t, Config{DataDir: d.cfg.DataDir})
	if s := mustStatus(t, view); s.Status != Red {
		t.Fatalf("operator view status %s", s.Status)
	}
	if err := d.SetToken("tok-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Sync(context.Background()); err != nil {
		t.Fatalf("Sync with the new token: %v", err)
	}
	wantStatus(t, d, Green, 0, 0)
}

func TestTokenOfAnotherScannerIs403Red(t *testing.T) {
	srv, clk, d := onFake(t, func(c *Config) { c.Token = "tok-2" })
	srv.Tokens["tok-2"] = "SCANNER-2"
	queueN(t, d, clk, 0, 1)
	var ue *UploadError
	if _, err := d.Sync(context.Background()); !errors.As(err, &ue) || ue.StatusCode != 403 || ue.Code != "SCANNER_MISMATCH" {
		t.Fatalf("Sync as another scanner: %v, want 403 SCANNER_MISMATCH", err)
	}
	st := wantStatus(t, d, Red, 1, 0)
	if !bytes.Contains([]byte(st.Message), []byte("SCANNER_MISMATCH")) {
		t.Fatalf("message %q does not name the refusal", st.Message)
	}
	d.Close()
	// Reopened with the right token, it syncs: the refusal was the old token's.
	cfg := d.cfg
	cfg.Token = "tok-1"
	d2 := openT(t, cfg)
	if s := mustStatus(t, d2); s.Status != Yellow {
		t.Fatalf("after reopening with another token the status is %s (%s), want yellow", s.Status, s.Message)
	}
	if _, err := d2.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, d2, Green, 0, 0)
}

func TestBadRequestIsRed(t *testing.T) {
	_, clk, d := onFake(t, func(c *Config) { c.URL += "/wrong-prefix" })
	queueN(t, d, clk, 0, 1)
	if _, err := d.Sync(context.Background()); !errors.Is(err, ErrRequestRefused) {
		t.Fatalf("Sync to a wrong path: %v, want ErrRequestRefused", err)
	}
	st := wantStatus(t, d, Red, 1, 0)
	if !bytes.Contains([]byte(st.Message), []byte("404")) {
		t.Fatalf("message %q does not carry the answer", st.Message)
	}
}
