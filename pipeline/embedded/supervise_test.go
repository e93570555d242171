package embedded

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The test binary doubles as the broker process: run with
// INVSYNC_TEST_BROKER_DIR set, it runs RunProcess on that dir and exits.
func TestMain(m *testing.M) {
	if dir := os.Getenv("INVSYNC_TEST_BROKER_DIR"); dir != "" {
		flag.Parse()
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		orphan, _ := time.ParseDuration(os.Getenv("INVSYNC_TEST_BROKER_ORPHAN"))
		err := RunProcess(ctx, ProcessConfig{Config: Config{Addr: os.Getenv("INVSYNC_TEST_BROKER_ADDR"), DataDir: dir, NoSync: true},
			Supervised: true, OrphanTimeout: orphan})
		if err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func superviseCfg(t *testing.T, dir, addr string, orphan time.Duration) SuperviseConfig {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return SuperviseConfig{DataDir: dir, Addr: addr, Command: []string{exe, "-test.run=^$"},
		Env:          []string{"INVSYNC_TEST_BROKER_DIR=" + dir, "INVSYNC_TEST_BROKER_ADDR=" + addr, "INVSYNC_TEST_BROKER_ORPHAN=" + orphan.String()},
		StartTimeout: 30 * time.Second}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// produceAndCount writes one record to topic and returns how many records
// the topic holds.
func produceAndCount(t *testing.T, addr, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, _ = kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic) // exists after the first call
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("producing to the broker at %s: %v", addr, err)
	}
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// TestSupervisedBrokerOutlivesItsSupervisor: a supervisor that dies without
// stopping its broker (as a kill -9 does: its owner lock goes with it)
// leaves the broker running with its data; the next supervisor reuses it,
// and a clean Stop ends it.
func TestSupervisedBrokerOutlivesItsSupervisor(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	ctx := context.Background()
	first, err := Supervise(ctx, superviseCfg(t, dir, addr, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(first.PID(), syscall.SIGKILL) })
	if first.Reused() || first.Addr() != addr {
		t.Fatalf("first supervisor: reused %v addr %s, want a new broker on %s", first.Reused(), first.Addr(), addr)
	}
	if n := produceAndCount(t, addr, "t1"); n != 1 {
		t.Fatalf("topic holds %d records, want 1", n)
	}
	// The supervisor dies: its lock is released, the broker is not told.
	first.owner.release()

	second, err := Supervise(ctx, superviseCfg(t, dir, addr, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !second.Reused() || second.PID() != first.PID() {
		t.Fatalf("second supervisor: reused %v pid %d, want the running broker %d", second.Reused(), second.PID(), first.PID())
	}
	if n := produceAndCount(t, addr, "t1"); n != 2 {
		t.Fatalf("topic holds %d records after the takeover, want 2 (the broker kept its data)", n)
	}
	if err := second.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	if running, _ := held(filepath.Join(dir, brokerLockFile)); running {
		t.Fatal("broker still holds its lock after Stop")
	}
	<-first.Exited()
	// A third supervisor starts a new broker that finds the log on disk.
	third, err := Supervise(ctx, superviseCfg(t, dir, addr, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer third.Stop(20 * time.Second)
	if third.Reused() {
		t.Fatal("third supervisor reused a broker that was stopped")
	}
	if n := produceAndCount(t, addr, "t1"); n != 3 {
		t.Fatalf("topic holds %d records after a restart from disk, want 3", n)
	}
}

// TestOrphanedBrokerStops: a broker nobody supervises stops after its
// orphan timeout, flushing its log.
func TestOrphanedBrokerStops(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	p, err := Supervise(context.Background(), superviseCfg(t, dir, addr, 2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	p.owner.release()
	select {
	case <-p.Exited():
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(p.PID(), syscall.SIGKILL)
		t.Fatal("orphaned broker still running after 20 s (orphan timeout 2 s)")
	}
	if _, err := os.Stat(filepath.Join(dir, stateFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("state file left behind by a clean stop: %v", err)
	}
}

// TestSuperviseRefusals: a second supervisor of the same data dir, and a
// running broker on another address than asked, are refused clearly.
func TestSuperviseRefusals(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	p, err := Supervise(context.Background(), superviseCfg(t, dir, addr, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(20 * time.Second)
	if _, err := Supervise(context.Background(), superviseCfg(t, dir, addr, time.Minute)); !errors.Is(err, ErrOwned) {
		t.Fatalf("second supervisor: %v, want ErrOwned", err)
	}
	p.owner.release()
	other := freeAddr(t)
	if _, err := Supervise(context.Background(), superviseCfg(t, dir, other, time.Minute)); !errors.Is(err, ErrAddrMismatch) {
		t.Fatalf("supervisor asking for %s while the broker listens on %s: %v, want ErrAddrMismatch", other, addr, err)
	}
	// Take the owner lock back so the deferred Stop is a supervisor's.
	if p.owner, err = lockOwner(context.Background(), filepath.Join(dir, ownerLockFile)); err != nil {
		t.Fatal(err)
	}
}

// TestBrokerPortInUse: a busy port is reported as such, by Start and by
// Supervise, before any process is started.
func TestBrokerPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().String()
	if _, err := Start(Config{Addr: busy, DataDir: t.TempDir()}); !errors.Is(err, ErrAddrInUse) {
		t.Fatalf("Start on a busy port: %v, want ErrAddrInUse", err)
	}
	if _, err := Supervise(context.Background(), superviseCfg(t, t.TempDir(), busy, time.Minute)); !errors.Is(err, ErrAddrInUse) {
		t.Fatalf("Supervise on a busy port: %v, want ErrAddrInUse", err)
	}
}

// TestNonLoopbackNeedsSASL: a broker reachable from the network must
// authenticate its clients.
func TestNonLoopbackNeedsSASL(t *testing.T) {
	err := Config{Addr: "0.0.0.0:0", DataDir: t.TempDir()}.Validate()
	if !errors.Is(err, ErrNonLoopbackWithoutSASL) {
		t.Fatalf("0.0.0.0 without SASL: %v, want ErrNonLoopbackWithoutSASL", err)
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:9092", "[::1]:9092"} {
		if err := (Config{Addr: addr, DataDir: "d"}).Validate(); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
	sasl := &SASLUser{Mechanism: "SCRAM-SHA-256", User: "u", Password: "p"}
	if err := (Config{Addr: "0.0.0.0:0", DataDir: "d", SASL: sasl}).Validate(); err != nil {
		t.Errorf("0.0.0.0 with SASL: %v", err)
	}
	if err := (Config{Addr: "127.0.0.1:0", DataDir: "d", SASL: &SASLUser{Mechanism: "GSSAPI", User: "u"}}).Validate(); err == nil {
		t.Error("an unknown mechanism and a missing password were accepted")
	}
}

// TestBrokerStopsWhenItsDataDirIsRemoved: a broker whose data dir is removed
// under it (a test's temporary dir, an ephemeral volume) stops, saying why,
// and frees its port, well before its orphan timeout; before, its owner-lock
// check failed every second and it ran on.
func TestBrokerStopsWhenItsDataDirIsRemoved(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kafka")
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- RunProcess(context.Background(), ProcessConfig{
			Config:     Config{Addr: "127.0.0.1:0", DataDir: dir, NoSync: true},
			Supervised: true, OrphanTimeout: time.Hour,
			Ready: func(addr string) { ready <- addr },
		})
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("broker did not start: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("broker did not start within 20 s")
	}
	if n := produceAndCount(t, addr, "t1"); n != 1 {
		t.Fatalf("topic holds %d records, want 1", n)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrDataDirGone) {
			t.Fatalf("broker stopped with %v, want ErrDataDirGone", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("broker still running 10 s after its data dir was removed")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the stopped broker still holds its port %s: %v", addr, err)
	}
	_ = ln.Close()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the stopping broker recreated its removed data dir: %v", err)
	}
}

// TestWatchEndsWhenTheBrokerStops: a broker that stopped by itself (after a
// failed fsync) ends the process's watch with ErrBrokerStopped and the
// reason, so `invsync broker` exits non-zero and its supervisor sees it go,
// instead of the process running on with a broker that answers nothing.
func TestWatchEndsWhenTheBrokerStops(t *testing.T) {
	dir := t.TempDir()
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	close(stopped)
	why := errors.New("fsync of 0.dat failed: input/output error")
	done := make(chan error, 1)
	go func() {
		done <- watch(context.Background(), ProcessConfig{Config: Config{DataDir: dir}}, info, stopped, func() error { return why }, slog.New(slog.DiscardHandler))
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrBrokerStopped) || !errors.Is(err, why) {
			t.Fatalf("watch returned %v, want ErrBrokerStopped with the reason", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch went on after the broker stopped")
	}
}
