package testkit

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestWithinReturnsOnceTheConditionHolds(t *testing.T) {
	calls := 0
	err := Within(time.Second, func() error {
		if calls++; calls < 3 {
			return Not("call %d", calls)
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("Within: %v after %d calls, want nil after 3", err, calls)
	}
}

func TestWithinGivesTheLastReason(t *testing.T) {
	calls := 0
	err := Within(3*PollInterval, func() error { calls++; return Not("reason %d", calls) })
	if err == nil || !strings.Contains(err.Error(), "reason") || calls < 2 {
		t.Fatalf("Within: %v after %d calls, want the last reason after several", err, calls)
	}
	if want := Not("reason %d", calls).Error(); !strings.HasSuffix(err.Error(), want) {
		t.Errorf("Within: %q does not end with the last reason %q", err, want)
	}
}

func TestWithinStopsOnErrStop(t *testing.T) {
	calls := 0
	start := time.Now()
	err := Within(time.Minute, func() error { calls++; return errors.Join(ErrStop, errors.New("rejected")) })
	if !errors.Is(err, ErrStop) || calls != 1 || time.Since(start) > time.Second {
		t.Fatalf("Within: %v after %d calls in %s, want ErrStop at once", err, calls, time.Since(start))
	}
}

func TestFreeAddrIsFreeLoopback(t *testing.T) {
	addr := FreeAddr(t)
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("FreeAddr: %s", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening on the free address %s: %v", addr, err)
	}
	ln.Close()
	if a, b := RandomName("x"), RandomName("x"); a == b || len(a) != 9 {
		t.Errorf("RandomName: %q and %q", a, b)
	}
}

func TestDoAndExpect(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" && r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"UNAUTHENTICATED"}}`))
			return
		}
		_, _ = w.Write([]byte(`{"answer":42}`))
	}))
	defer srv.Close()
	var out struct{ Answer int }
	if code := Do(t, "GET", srv.URL, "tok", nil, &out); code != 200 || out.Answer != 42 {
		t.Errorf("Do: %d %+v", code, out)
	}
	if code := Do(t, "GET", srv.URL, "", nil, nil); code != 401 {
		t.Errorf("Do without a token: %d", code)
	}
	Expect(t, 200, "POST", srv.URL, "tok", map[string]int{"a": 1}, &out)
	if err := Ready(nil, srv.URL)(); err != nil {
		t.Errorf("Ready on a server answering 200: %v", err)
	}
}

func TestProcessKillAndRestart(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command:", err)
	}
	p := &Process{Bin: sleep, Args: []string{"60"}, Log: filepath.Join(t.TempDir(), "log")}
	p.Start(t)
	pid := p.PID()
	if pid == 0 || !Alive(pid) {
		t.Fatalf("started process %d not alive", pid)
	}
	p.Kill()
	if p.PID() != 0 {
		t.Errorf("PID after Kill: %d", p.PID())
	}
	Eventually(t, 5*time.Second, True(func() bool { return !Alive(pid) }, "the killed process still runs"))
	p.Start(t)
	if !p.Signal(syscall.SIGTERM, 5*time.Second) {
		t.Error("SIGTERM did not end sleep")
	}
	if _, err := os.Stat(p.Log); err != nil {
		t.Errorf("the log: %v", err)
	}
}
