package kfake

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// failSyncFS is a memFS whose segment files' syncs fail once armed, as a
// disk's do when it cannot write back the pages.
type failSyncFS struct {
	*memFS
	armed atomic.Bool
	fails atomic.Int64
}

type failSyncFile struct {
	file
	fs      *failSyncFS
	name    string
	segment bool
}

func (s *failSyncFS) OpenFile(name string, flag int, perm os.FileMode) (file, error) {
	f, err := s.memFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &failSyncFile{f, s, name, filepath.Ext(name) == ".dat"}, nil
}

func (f *failSyncFile) Name() string { return f.name }

func (f *failSyncFile) Sync() error {
	if f.segment && f.fs.armed.Load() {
		f.fs.fails.Add(1)
		return &os.PathError{Op: "fsync", Path: f.name, Err: syscall.EIO}
	}
	return f.file.Sync()
}

// errorLogger collects the cluster's error-level log lines.
type errorLogger struct {
	t     *testing.T
	lines chan string
}

func (l errorLogger) Logf(level LogLevel, msg string, args ...any) {
	if level != LogLevelError {
		return
	}
	line := fmt.Sprintf(msg, args...)
	l.t.Log(line)
	select {
	case l.lines <- line:
	default:
	}
}

// TestFailedSyncStopsBroker: once the sync of a segment fails, the produce
// that waited for it is not acknowledged, the broker stops (fail-stop)
// saying why, and a restart on the same data recovers every record
// acknowledged before the failure.
func TestFailedSyncStopsBroker(t *testing.T) {
	t.Parallel()
	ffs := &failSyncFS{memFS: newMemFS()}
	logs := errorLogger{t, make(chan string, 16)}
	c, err := NewCluster(DataDir("/data"), withFS(ffs), SyncWrites(), NumBrokers(1), SeedTopics(1, "fs"), WithLogger(logs))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("fs"),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	acked := []string{"one", "two", "three"}
	for _, v := range acked {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce %q before the failure: %v", v, err)
		}
	}

	ffs.armed.Store(true)
	answer := make(chan error, 1)
	cl.Produce(ctx, &kgo.Record{Value: []byte("unsynced")}, func(_ *kgo.Record, err error) { answer <- err })
	select {
	case err := <-answer:
		if err == nil {
			t.Fatal("a produce whose segment sync failed was acknowledged")
		}
		t.Logf("produce after the failed sync: %v", err)
	case <-time.After(8 * time.Second):
		t.Log("produce after the failed sync: not answered in 8 s")
	}
	if ffs.fails.Load() == 0 {
		t.Fatal("no segment sync failed")
	}

	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the broker did not stop after a failed sync")
	}
	if err := c.Err(); err == nil || !errors.Is(err, syscall.EIO) {
		t.Fatalf("Err() = %v, want the failed sync's EIO", err)
	}
	var said bool
	for len(logs.lines) > 0 && !said {
		line := <-logs.lines
		said = strings.Contains(line, "fsync of /data/") && strings.Contains(line, "stopping so nothing unsynced is acknowledged")
	}
	if !said {
		t.Error("no error log line says which fsync failed and that the broker stops")
	}
	cl.Close()
	c.Close()

	// Restart on the same data, syncs working again.
	ffs.armed.Store(false)
	c2 := newCluster(t, DataDir("/data"), withFS(ffs), SyncWrites(), NumBrokers(1))
	rc := newPlainClient(t, c2, kgo.ConsumeTopics("fs"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	for len(got) < len(acked) {
		fs := rc.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("after the restart read %q, want %q first: %v", got, acked, err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	for i, v := range acked {
		if got[i] != v {
			t.Fatalf("after the restart read %q, want %q first", got, acked)
		}
	}
}
