package mirror

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary runs a mirror itself when childEnv is set: the child
// process the crash test kills with SIGKILL.
const childEnv = "INVSYNC_MIRROR_TEST_CHILD"

// runChild runs a mirror configured by the environment until SIGTERM.
func runChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	batch, _ := strconv.Atoi(os.Getenv("MIRROR_BATCH"))
	m, err := New(Config{
		Brokers:      strings.Split(os.Getenv("MIRROR_BROKERS"), ","),
		TopicPrefix:  os.Getenv("MIRROR_PREFIX"),
		SQLURL:       os.Getenv("MIRROR_SQL_URL"),
		BatchRecords: batch,
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println("ready")
	if err := m.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := m.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// mirrorChild is a mirror in a child process.
type mirrorChild struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
}

func startChild(t *testing.T, k *testKafka, d testDB, batch int) *mirrorChild {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=1", "MIRROR_BROKERS="+strings.Join(k.brokers, ","),
		"MIRROR_PREFIX="+k.prefix, "MIRROR_SQL_URL="+d.url, "MIRROR_BATCH="+strconv.Itoa(batch))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &mirrorChild{cmd: cmd, stderr: &stderr}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
		}
	})
	// The child says "ready" once it handles SIGTERM and is about to run.
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("mirror child did not start: %q %v\n%s", line, err, stderr.String())
	}
	return c
}

// kill9 kills the child with SIGKILL and waits for it.
func (c *mirrorChild) kill9(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = c.cmd.Wait()
}

// stop ends the child with SIGTERM and fails the test if it did not exit 0.
func (c *mirrorChild) stop(t *testing.T) {
	t.Helper()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("mirror child: %v\n%s", err, c.stderr.String())
	}
}

// TestMirrorKill9 kills a mirror process with SIGKILL at random moments
// while it catches up and while records keep coming. After every kill the
// tables must equal the fold of exactly the records below the stored
// offsets (rows and offsets commit together: nothing lost, nothing
// doubled), and at the end the fold of everything.
func TestMirrorKill9(t *testing.T) {
	forEachDB(t, func(t *testing.T, d testDB) {
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		rnd := rand.New(rand.NewPCG(seed, 7))
		k, w, prod := newTestWorld(t, seed, 3, 2, 30, 4)
		db := openTestDB(t, d)

		const rounds = 8
		killedMidway := 0
		for i := range rounds {
			// A backlog to catch up on, then more records while it runs.
			w.round(t, prod, 2500, 100, 5, 1)
			child := startChild(t, k, d, 20)
			w.round(t, prod, 100, 20, 0, 1)
			time.Sleep(time.Duration(rnd.IntN(250)) * time.Millisecond)
			child.kill9(t)

			stored := checkAtStoredOffsets(t, w, db)
			ends := k.endOffsets(t, k.topics.InventoryEvents, k.topics.AllocationDecisions)
			behind := 0
			for tp, end := range ends {
				if stored[tp] < end {
					behind++
				}
			}
			if behind > 0 {
				killedMidway++
			}
			t.Logf("kill %d: %d of %d partitions not caught up; the tables equal the fold of the records below the stored offsets", i+1, behind, len(ends))
		}
		t.Logf("%d of %d kills landed before the mirror had caught up", killedMidway, rounds)

		child := startChild(t, k, d, 100)
		waitMirrored(t, k, w, db, 60*time.Second)
		child.stop(t)
	})
}
