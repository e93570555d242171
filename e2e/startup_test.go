package e2e

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/internal/testkit"
)

// startServe runs `invsync serve` with args as a child process, its output
// in the returned buffer (read it once the process has exited).
func startServe(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(buildBinary(t), append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), "INVSYNC_ADMIN_TOKEN="+testAdminToken)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, &out
}

// exitWithin waits for cmd to exit and returns its exit code.
func exitWithin(t *testing.T, cmd *exec.Cmd, d time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			return 0
		}
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		t.Fatalf("waiting for invsync: %v", err)
	case <-time.After(d):
		_ = cmd.Process.Kill()
		t.Fatalf("invsync did not exit within %s", d)
	}
	return -1
}

// occupy listens on a free loopback port until the test ends.
func occupy(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// assertOneClearLine checks the output names the cause and the fix, in one
// line, and shows no panic.
func assertOneClearLine(t *testing.T, out string, wants ...string) {
	t.Helper()
	if strings.Contains(out, "panic") || strings.Contains(out, "goroutine ") {
		t.Fatalf("start-up failure panicked:\n%s", out)
	}
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "invsync serve:") {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no 'invsync serve:' error line in:\n%s", out)
	}
	for _, w := range wants {
		if !strings.Contains(line, w) {
			t.Errorf("error line %q does not mention %q", line, w)
		}
	}
}

func TestStartupFailsClearlyWhenHTTPPortInUse(t *testing.T) {
	busy := occupy(t)
	cmd, out := startServe(t, "--data-dir", t.TempDir(), "--http-addr", busy, "--brokers", "127.0.0.1:1")
	if code := exitWithin(t, cmd, 30*time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1; output:\n%s", code, out)
	}
	assertOneClearLine(t, out.String(), "--http-addr "+busy, "in use", "choose another with --http-addr")
}

func TestStartupFailsClearlyWhenEmbeddedKafkaPortInUse(t *testing.T) {
	busy := occupy(t)
	for _, inProcess := range []bool{false, true} {
		args := []string{"--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0", "--embedded-kafka-addr", busy}
		if inProcess {
			args = append(args, "--embedded-kafka-in-process")
		}
		cmd, out := startServe(t, args...)
		if code := exitWithin(t, cmd, 30*time.Second); code != 1 {
			t.Fatalf("in-process %v: exit code %d, want 1; output:\n%s", inProcess, code, out)
		}
		assertOneClearLine(t, out.String(), "--embedded-kafka-addr "+busy, "in use", "choose another address")
	}
}

// TestStartupWaitsForKafkaVisibly: with no Kafka there, the HTTP port
// answers /healthz at once and /readyz 503 with the reason, the API
// answers 503 STARTING, and SIGTERM ends it cleanly (exit 0, no panic).
func TestStartupWaitsForKafkaVisibly(t *testing.T) {
	dead := occupy(t) // accepts connections but speaks no Kafka
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := ln.Addr().String()
	ln.Close() // nothing listens: connection refused
	for _, brokers := range []string{refused, dead} {
		httpAddr := freeAddr(t)
		cmd, out := startServe(t, "--data-dir", t.TempDir(), "--http-addr", httpAddr, "--brokers", brokers)
		base := "http://" + httpAddr
		waitStatus(t, base+"/healthz", http.StatusOK, 20*time.Second)
		var ready api.ErrorBody
		testkit.Eventually(t, 30*time.Second, func() error {
			if code := getJSON(t, base+"/readyz", &ready); code != http.StatusServiceUnavailable {
				t.Fatalf("/readyz answered %d while Kafka is missing", code)
			}
			if !strings.Contains(ready.Error.Message, "waiting for Kafka at "+brokers) {
				return testkit.Not("/readyz does not name the Kafka it waits for: %+v", ready)
			}
			return nil
		})
		var starting api.ErrorBody
		if code := getJSON(t, base+"/v1/catalog", &starting); code != http.StatusServiceUnavailable || starting.Error.Code != "STARTING" {
			t.Errorf("/v1/catalog while starting: %d %+v, want 503 STARTING", code, starting)
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := exitWithin(t, cmd, 30*time.Second); code != 0 {
			t.Fatalf("SIGTERM while waiting for Kafka: exit code %d, want 0; output:\n%s", code, out)
		}
		if s := out.String(); strings.Contains(s, "panic") {
			t.Fatalf("panicked:\n%s", s)
		}
	}
}

// TestStartupRefusesSecondServeOnSameDataDir: two serves on one data dir
// would share the broker and the state; the second says so and exits.
func TestStartupRefusesSecondServeOnSameDataDir(t *testing.T) {
	dir := t.TempDir()
	first, out1 := startServe(t, "--data-dir", dir, "--http-addr", freeAddr(t), "--embedded-kafka-addr", freeAddr(t), "--partitions", "2")
	t.Cleanup(func() { _ = first.Process.Signal(syscall.SIGTERM); _ = first.Wait(); stopBroker(dir) })
	testkit.Eventually(t, 60*time.Second, func() error {
		if brokerPID(dir) == 0 {
			return testkit.Not("first serve has not started its broker:\n%s", out1)
		}
		return nil
	})
	second, out2 := startServe(t, "--data-dir", dir, "--http-addr", freeAddr(t), "--embedded-kafka-addr", freeAddr(t), "--partitions", "2")
	if code := exitWithin(t, second, 30*time.Second); code != 1 {
		t.Fatalf("second serve: exit code %d, want 1; output:\n%s", code, out2)
	}
	assertOneClearLine(t, out2.String(), "another invsync serve", filepath.Base(dir))
}

func waitStatus(t *testing.T, url string, want int, timeout time.Duration) {
	t.Helper()
	testkit.Eventually(t, timeout, func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			return testkit.Not("%s answered %d, want %d", url, resp.StatusCode, want)
		}
		return nil
	})
}

func getJSON(t *testing.T, url string, out any) int {
	t.Helper()
	status, _, b := testkit.Call(t, "GET", url, "", nil)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("GET %s: decoding %q: %v", url, b, err)
	}
	return status
}
