package browsertest

import (
	"context"
	"errors"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/invsync/invsync/internal/testkit"
)

// page is a page that records the keys it receives, in the field that has
// the focus, and moves the focus on Enter, as a scan form does.
const testPage = `<!doctype html><html><head><title>t</title></head><body>
<form id="f"><input id="a"><input id="b"><input id="c"></form>
<script>
window.keys = [];
window.net = [];
window.submits = 0;
document.getElementById("f").addEventListener("submit", e => { e.preventDefault(); submits++; });
addEventListener("online", () => net.push("online"));
addEventListener("offline", () => net.push("offline"));
for (const el of document.querySelectorAll("#a, #b")) {
  el.addEventListener("keydown", e => {
    keys.push(el.id + ":" + e.key);
    if (e.key === "Enter") { e.preventDefault(); document.getElementById("b").focus(); }
  });
}
// c swallows every key, as a page that handles keys itself does.
document.getElementById("c").addEventListener("keydown", e => { keys.push("c:" + e.key); e.preventDefault(); });
document.getElementById("a").focus();
</script></body></html>`

// newTestServer serves testPage at / and counts the requests to /ping.
func newTestServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte(testPage))
		case "/throw":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte(`<!doctype html><script>console.error("logged", 42); setTimeout(() => { throw new Error("boom") });</script>`))
		case "/ping":
			hits.Add(1)
			w.Write([]byte("pong"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestWedgeTypesIntoTheFocusedFieldThenEnter(t *testing.T) {
	srv, _ := newTestServer(t)
	b := Start(t, Options{})
	if err := b.Navigate(srv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	if err := b.Wedge("A-1"); err != nil {
		t.Fatal(err)
	}
	if err := b.Wedge("x"); err != nil {
		t.Fatal(err)
	}
	got, err := Eval[[]string](b, "keys")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a:A", "a:-", "a:1", "a:Enter", "b:x", "b:Enter"}
	if len(got) != len(want) {
		t.Fatalf("keys = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("keys = %q, want %q", got, want)
		}
	}
	vals, err := Eval[[]string](b, `[a.value, b.value]`)
	if err != nil {
		t.Fatal(err)
	}
	if vals[0] != "A-1" || vals[1] != "x" {
		t.Fatalf("field values = %q, want [A-1 x]", vals)
	}
	// A keydown handler's preventDefault stops the character and the
	// Enter's implicit form submission, as on a hardware keyboard.
	if err := b.Focus("#c"); err != nil {
		t.Fatal(err)
	}
	if err := b.Wedge("zz"); err != nil {
		t.Fatal(err)
	}
	got2, err := Eval[[]any](b, `[c.value, submits, keys.slice(-3).join()]`)
	if err != nil {
		t.Fatal(err)
	}
	if got2[0] != "" || got2[1] != float64(0) || got2[2] != "c:z,c:z,c:Enter" {
		t.Fatalf("prevented keys: value %q, %v submits, keys %v", got2[0], got2[1], got2[2])
	}
}

func TestSetOfflineCutsThePageOffAndBack(t *testing.T) {
	srv, hits := newTestServer(t)
	b := Start(t, Options{})
	if err := b.Navigate(srv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	fetchPing := `fetch("/ping").then(r => r.text()).catch(e => "failed: " + e.name)`
	if err := b.SetOffline(true); err != nil {
		t.Fatal(err)
	}
	before := hits.Load()
	got, err := Eval[string](b, fetchPing)
	if err != nil {
		t.Fatal(err)
	}
	if got == "pong" || hits.Load() != before {
		t.Fatalf("offline fetch answered %q and reached the server %d times", got, hits.Load()-before)
	}
	if onLine, _ := Eval[bool](b, "navigator.onLine"); onLine {
		t.Fatal("navigator.onLine is true while offline")
	}
	if err := b.SetOffline(false); err != nil {
		t.Fatal(err)
	}
	if got, _ := Eval[string](b, fetchPing); got != "pong" {
		t.Fatalf("online fetch answered %q", got)
	}
	if err := b.WaitUntil(`net.join() === "offline,online"`, 5*time.Second, "net"); err != nil {
		t.Fatal(err)
	}
}

func TestKillAndRelaunchKeepTheProfile(t *testing.T) {
	srv, _ := newTestServer(t)
	b := Start(t, Options{})
	if err := b.Navigate(srv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	// IndexedDB with strict durability: what a committed transaction
	// wrote must survive a SIGKILL of the whole browser.
	write := `new Promise((ok, fail) => {
	  const r = indexedDB.open("t", 1);
	  r.onupgradeneeded = () => r.result.createObjectStore("s");
	  r.onsuccess = () => {
	    const tx = r.result.transaction("s", "readwrite", {durability: "strict"});
	    tx.objectStore("s").put("kept", "k");
	    tx.oncomplete = () => ok(true); tx.onerror = () => fail(tx.error);
	  };
	})`
	if err := b.Exec(write); err != nil {
		t.Fatal(err)
	}
	pid := b.PID()
	if err := b.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(b.UserDataDir(), "Default")); err != nil {
		t.Fatalf("profile gone after Kill: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nb, err := b.Relaunch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nb.Close() })
	if nb.PID() == pid {
		t.Fatalf("relaunched browser has the killed one's pid %d", pid)
	}
	if err := nb.Navigate(srv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	read := `new Promise((ok, fail) => {
	  const r = indexedDB.open("t", 1);
	  r.onsuccess = () => {
	    const g = r.result.transaction("s").objectStore("s").get("k");
	    g.onsuccess = () => ok(g.result ?? "missing"); g.onerror = () => fail(g.error);
	  };
	})`
	got, err := Eval[string](nb, read)
	if err != nil {
		t.Fatal(err)
	}
	if got != "kept" {
		t.Fatalf("after kill and relaunch the stored value is %q, want kept", got)
	}
}

func TestScreenshotIsAPNGOfTheViewport(t *testing.T) {
	srv, _ := newTestServer(t)
	b := Start(t, Options{Width: 360, Height: 640})
	if err := b.Navigate(srv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "shot.png")
	if err := b.Screenshot(path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if cfg.Width != 360 || cfg.Height != 640 {
		t.Fatalf("screenshot is %dx%d, want 360x640", cfg.Width, cfg.Height)
	}
}

func TestNewTabSharesTheProfileAndClosesAlone(t *testing.T) {
	srv, _ := newTestServer(t)
	b := Start(t, Options{})
	if err := b.Navigate(srv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	if err := b.Exec(`localStorage.setItem("k", "shared")`); err != nil {
		t.Fatal(err)
	}
	tab, err := b.NewTab()
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.Navigate(srv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	if got, err := Eval[string](tab, `localStorage.getItem("k")`); err != nil || got != "shared" {
		t.Fatalf("second tab reads %q (%v)", got, err)
	}
	if err := tab.Kill(); err == nil {
		t.Fatal("Kill on a secondary tab succeeded")
	}
	if err := tab.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := Eval[string](b, `localStorage.getItem("k")`); err != nil || got != "shared" {
		t.Fatalf("after closing the second tab the first reads %q (%v)", got, err)
	}
}

func TestExceptionsAndConsoleErrorsAreCollected(t *testing.T) {
	srv, _ := newTestServer(t)
	b := Start(t, Options{})
	if err := b.Navigate(srv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	if e := b.Exceptions(); len(e) != 0 {
		t.Fatalf("a clean page reported exceptions %v", e)
	}
	if err := b.Navigate(srv.URL + "/throw"); err != nil {
		t.Fatal(err)
	}
	// The check below says what arrived, if anything, once the wait is over.
	_ = testkit.Within(5*time.Second, testkit.True(func() bool { return len(b.Exceptions()) > 0 }, "no exception reported"))
	if e := b.Exceptions(); len(e) != 1 || !strings.Contains(e[0], "boom") {
		t.Errorf("exceptions = %q", e)
	}
	if c := b.ConsoleErrors(); len(c) != 1 || !strings.Contains(c[0], "logged") || !strings.Contains(c[0], "42") {
		t.Errorf("console errors = %q", c)
	}
}

// TestFlagsMatchTheScript keeps the flags here and in scripts/chromium.sh,
// which developers use to start the same browser by hand, the same.
func TestFlagsMatchTheScript(t *testing.T) {
	out, err := exec.Command("bash", "../../scripts/chromium.sh", "flags").Output()
	if err != nil {
		t.Fatalf("scripts/chromium.sh flags: %v", err)
	}
	var want []string
	for _, f := range Flags {
		want = append(want, "--"+f)
	}
	if got := strings.Fields(string(out)); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("scripts/chromium.sh flags prints %v, browsertest.Flags is %v", got, want)
	}
}

// TestLaunchWithoutTempDirSaysSo: an unusable TMPDIR is ErrNoTempDir, on
// which Start skips rather than fails.
func TestLaunchWithoutTempDirSaysSo(t *testing.T) {
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
	_, err := Launch(context.Background(), Options{ExecPath: "/bin/true"})
	if !errors.Is(err, ErrNoTempDir) {
		t.Fatalf("Launch with a missing TMPDIR: %v, want ErrNoTempDir", err)
	}
}
