package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/invsync/invsync/scanner"
	"github.com/invsync/invsync/scanner/internal/fakeapi"
)

// The kill -9 tests run the scanner as a child process: the invsync binary
// when cmd/invsync builds and has the scanner command wired, else
// internal/scannermain (the same Main).
var (
	binOnce   sync.Once
	binPath   string
	binPrefix []string
	binErr    error
)

func scannerBinary(t *testing.T) (string, []string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and kills child processes; skipped with -short")
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "scanner-crash-bin")
		if err != nil {
			binErr = err
			return
		}
		goBin, err := exec.LookPath("go")
		if err != nil {
			binErr = err
			return
		}
		full := filepath.Join(dir, "invsync")
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		build := exec.CommandContext(ctx, goBin, "build", "-o", full, "../../cmd/invsync")
		if out, err := build.CombinedOutput(); err == nil {
			if exec.Command(full, "scanner", "--help").Run() == nil {
				binPath, binPrefix = full, []string{"scanner"}
				return
			}
		} else {
			fmt.Fprintf(os.Stderr, "cmd/invsync does not build now; the crash tests use internal/scannermain:\n%s", firstLines(out, 3))
		}
		small := filepath.Join(dir, "scannermain")
		if out, err := exec.Command(goBin, "build", "-o", small, "./internal/scannermain").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("building internal/scannermain: %v\n%s", err, out)
			return
		}
		binPath = small
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	t.Logf("child binary: %s %v", binPath, binPrefix)
	return binPath, binPrefix
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(string(b), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n") + "\n"
}

// child is one scanner process fed lines on stdin, its acknowledgements
// collected from stdout.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr bytes.Buffer

	mu   sync.Mutex
	acks map[int]string // line number in this process -> transactionId
	done chan struct{}  // stdout closed
}

func startChild(t *testing.T, bin string, args []string, token string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(bin, args...), acks: map[int]string{}, done: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), "INVSYNC_SCANNER_TOKEN="+token)
	c.cmd.Stderr = &c.stderr
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var a ack
			if json.Unmarshal(sc.Bytes(), &a) == nil && a.Status == "queued" {
				c.mu.Lock()
				c.acks[a.Line] = a.TransactionID
				c.mu.Unlock()
			}
		}
	}()
	return c
}

// waitExit requires the child to exit cleanly within d; past d it is
// killed and the test fails.
func (c *child) waitExit(t *testing.T, d time.Duration, what string) {
	t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- c.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("%s: exit %v\n%s", what, err, c.stderr.String())
		}
	case <-time.After(d):
		c.cmd.Process.Kill()
		t.Fatalf("%s: no exit within %v\n%s", what, d, c.stderr.String())
	}
}

func (c *child) ackCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.acks)
}

func TestKill9NeitherLosesNorDoublesAcknowledgedScans(t *testing.T) {
	bin, prefix := scannerBinary(t)
	srv := fakeapi.New(t)
	srv.Delay = 15 * time.Millisecond // a wide window between writing and answering
	dir := t.TempDir()
	args := append(append([]string{}, prefix...), "--url", srv.URL(), "--scanner-id", "SCANNER-1", "--data-dir", dir,
		"--sync-every", "50ms", "--batch-size", "20", "--log-level", "error")
	// Each round feeds up to perRound lines in bursts while the child
	// syncs, and kills it at a random moment.
	const rounds, perRound = 12, 100
	const total = rounds * perRound
	line := func(i int) string {
		return fmt.Sprintf(`{"type":"ADJUSTMENT","warehouseId":"WH-001","itemId":"ITEM-1","locationId":"A-05-02","quantity":%d,"userId":"k-%d"}`+"\n", i%7+1, i)
	}
	rng := rand.New(rand.NewPCG(42, 42))
	acked := map[int]string{} // global line -> transactionId
	fedUnacked := 0
	next := 0
	kills := 0
	for round := 0; round < rounds || (round < 3*rounds && srv.DupCount() == 0); round++ {
		c := startChild(t, bin, args, "tok-1")
		first := next
		stop := make(chan struct{})
		feedRng := rand.New(rand.NewPCG(rng.Uint64(), 1))
		fed := make(chan int, 1)
		go func() { // feed lines in small bursts until stopped
			n, last := next, min(next+perRound, total)
			defer func() { fed <- n }()
			for n < last {
				select {
				case <-stop:
					return
				default:
				}
				burst := min(1+feedRng.IntN(8), last-n)
				var b strings.Builder
				for k := 0; k < burst; k++ {
					b.WriteString(line(n + k))
				}
				if _, err := io.WriteString(c.stdin, b.String()); err != nil {
					return
				}
				n += burst
				time.Sleep(time.Duration(feedRng.IntN(8)) * time.Millisecond)
			}
		}()
		time.Sleep(time.Duration(20+rng.IntN(200)) * time.Millisecond)
		c.cmd.Process.Signal(syscall.SIGKILL)
		close(stop)
		c.cmd.Wait()
		<-c.done
		end := <-fed
		kills++
		c.mu.Lock()
		for ln, id := range c.acks {
			acked[first+ln-1] = id
		}
		c.mu.Unlock()
		fedUnacked += end - first - c.ackCount()
		next = end
	}
	// A last run feeds the rest, closes stdin and must end with nothing
	// queued.
	finalStart := time.Now()
	c := startChild(t, bin, args, "tok-1")
	first := next
	for i := next; i < total; i++ {
		io.WriteString(c.stdin, line(i))
	}
	c.stdin.Close()
	c.waitExit(t, 30*time.Second, "final run (draining the queue)")
	<-c.done
	t.Logf("final run took %v", time.Since(finalStart))
	for ln, id := range c.acks {
		acked[first+ln-1] = id
	}

	byUser := srv.WritesByUser()
	srv.Mu.Lock()
	writes := srv.Writes
	srv.Mu.Unlock()
	for i, id := range acked {
		if n := writes[id]; n != 1 {
			t.Errorf("line %d acknowledged as %s: written %d times at the server, want once", i, id, n)
		}
	}
	notAcked := 0
	for user, n := range byUser {
		if n != 1 {
			t.Errorf("scan %s written %d times", user, n)
		}
		var i int
		fmt.Sscanf(user, "k-%d", &i)
		if _, ok := acked[i]; !ok {
			notAcked++
		}
	}
	if notAcked > fedUnacked {
		t.Errorf("%d scans at the server were never acknowledged, but only %d lines went unacknowledged", notAcked, fedUnacked)
	}
	t.Logf("%d kill -9s; %d lines acknowledged, %d fed but unacknowledged (%d of those were queued before the kill and synced); %d answered duplicate after restarts",
		kills, len(acked), fedUnacked, notAcked, srv.DupCount())
	if srv.DupCount() == 0 {
		t.Error("no kill landed between the server writing a batch and the scanner recording it: the resend-after-crash path went untested")
	}
	if s := cliStatus(t, dir); s.Status != scanner.Green || s.Queued != 0 {
		t.Errorf("final status %+v", s)
	}
	if t.Failed() {
		t.Logf("final run's stderr:\n%s", c.stderr.String())
	}
}

func TestSIGTERMExitsCleanlyWithTheQueueKept(t *testing.T) {
	bin, prefix := scannerBinary(t)
	srv := fakeapi.New(t)
	url := srv.URL()
	srv.HTTP.Close()
	dir := t.TempDir()
	c := startChild(t, bin, append(append([]string{}, prefix...), "--url", url, "--scanner-id", "SCANNER-1", "--data-dir", dir), "tok-1")
	io.WriteString(c.stdin, lineCount+"\n"+lineMove+"\n")
	waitFor(t, func() bool { return c.ackCount() == 2 }, "two acknowledgements")
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.waitExit(t, 5*time.Second, "after SIGTERM")
	if s := cliStatus(t, dir); s.Queued != 2 {
		t.Fatalf("status after SIGTERM %+v, want 2 queued", s)
	}
}
