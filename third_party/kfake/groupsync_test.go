package kfake

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// slowSyncFS is a memFS whose syncs take a while, as a disk's do, and are
// counted.
type slowSyncFS struct {
	*memFS
	syncs     atomic.Int64
	pidsSyncs atomic.Int64 // of pids.log
	idxSyncs  atomic.Int64 // of segment indexes
}

type slowSyncFile struct {
	file
	fs   *slowSyncFS
	pids bool
	idx  bool
}

func (s *slowSyncFS) OpenFile(name string, flag int, perm os.FileMode) (file, error) {
	f, err := s.memFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &slowSyncFile{f, s, filepath.Base(name) == "pids.log", filepath.Ext(name) == ".idx"}, nil
}

func (f *slowSyncFile) Sync() error {
	f.fs.syncs.Add(1)
	if f.pids {
		f.fs.pidsSyncs.Add(1)
	}
	if f.idx {
		f.fs.idxSyncs.Add(1)
	}
	time.Sleep(2 * time.Millisecond)
	return f.file.Sync()
}

// TestGroupCommitSharesDecisionSyncs: commit decisions (pids.log
// "prepare" entries) of concurrent transactions are synced by shared
// group-commit rounds, not one fsync per commit on the request loop; every
// commit is still whole and readable.
func TestGroupCommitSharesDecisionSyncs(t *testing.T) {
	t.Parallel()
	const producers, each = 8, 15
	sfs := &slowSyncFS{memFS: newMemFS()}
	c := newCluster(t, DataDir("/data"), withFS(sfs), SyncWrites(), NumBrokers(1), SeedTopics(producers, "gd"))
	var cls []*kgo.Client
	for p := range producers {
		cls = append(cls, newPlainClient(t, c,
			kgo.DefaultProduceTopic("gd"),
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.TransactionalID(fmt.Sprintf("gd-%d", p)),
			kgo.ProducerLinger(0),
		))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	before := sfs.pidsSyncs.Load()
	var wg sync.WaitGroup
	for p, cl := range cls {
		wg.Go(func() {
			for i := range each {
				if err := cl.BeginTransaction(); err != nil {
					t.Error(err)
					return
				}
				r := &kgo.Record{Partition: int32(p), Value: fmt.Appendf(nil, "%d-%d", p, i)}
				if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
					t.Error(err)
					return
				}
				if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	syncs := sfs.pidsSyncs.Load() - before
	commits := int64(producers * each)
	// Synced inline, each decision costs pids.log one fsync of its own,
	// and the rounds sync the end entries besides.
	if syncs >= commits {
		t.Fatalf("%d pids.log syncs for %d commits from %d concurrent producers; want fewer than one per commit", syncs, commits, producers)
	}
	t.Logf("%d pids.log syncs for %d commits", syncs, commits)

	rc := newPlainClient(t, c, kgo.ConsumeTopics("gd"), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	seen := make(map[string]bool)
	for len(seen) < int(commits) {
		fs := rc.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d committed records: %v", len(seen), commits, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if seen[string(r.Value)] {
				t.Errorf("record %s read twice", r.Value)
			}
			seen[string(r.Value)] = true
		})
	}
}

// TestGroupCommitSharesSyncs: produces to one partition that arrive while a
// sync runs are covered by one later sync of its segment and index instead
// of two syncs per batch, one batch after the other; every produce is still
// answered only after a sync.
func TestGroupCommitSharesSyncs(t *testing.T) {
	t.Parallel()
	const producers, each = 8, 25
	sfs := &slowSyncFS{memFS: newMemFS()}
	c := newCluster(t, DataDir("/data"), withFS(sfs), SyncWrites(), NumBrokers(1), SeedTopics(1, "gc"))
	var cls []*kgo.Client
	for range producers {
		cls = append(cls, newPlainClient(t, c, kgo.DefaultProduceTopic("gc"), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	before := sfs.syncs.Load()
	var wg sync.WaitGroup
	for p, cl := range cls {
		wg.Go(func() {
			for i := range each {
				r := &kgo.Record{Value: fmt.Appendf(nil, "%d-%d", p, i)}
				if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	syncs := sfs.syncs.Load() - before
	batches := int64(producers * each)
	// Without group commit: a segment and an index sync per batch.
	if syncs >= batches {
		t.Fatalf("%d syncs for %d batches from %d concurrent producers; want fewer than one per batch", syncs, batches, producers)
	}
	// The index is rebuilt from the segment after a crash: syncing it
	// too would double the fsyncs of every round.
	if n := sfs.idxSyncs.Load(); n > 0 {
		t.Fatalf("%d index syncs; want none before the segment rolls", n)
	}
	t.Logf("%d syncs for %d batches", syncs, batches)
}

// gatedSyncFS is a memFS whose syncs wait while the gate is closed.
type gatedSyncFS struct {
	*memFS
	closed atomic.Bool
	open   chan struct{}
}

type gatedSyncFile struct {
	file
	fs *gatedSyncFS
}

func (g *gatedSyncFS) OpenFile(name string, flag int, perm os.FileMode) (file, error) {
	f, err := g.memFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &gatedSyncFile{f, g}, nil
}

func (f *gatedSyncFile) Sync() error {
	if f.fs.closed.Load() {
		<-f.fs.open
	}
	return f.file.Sync()
}

// TestGroupCommitDoesNotHoldTxnBookkeeping: AddOffsetsToTxn and
// TxnOffsetCommit store nothing (the offsets are stored with the commit
// decision), so they are answered while a round is syncing other writes,
// instead of waiting behind it; the produce that round covers is not.
func TestGroupCommitDoesNotHoldTxnBookkeeping(t *testing.T) {
	t.Parallel()
	gfs := &gatedSyncFS{memFS: newMemFS(), open: make(chan struct{})}
	c := newCluster(t, DataDir("/data"), withFS(gfs), SyncWrites(), NumBrokers(1), SeedTopics(1, "gb"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	raw := newPlainClient(t, c)
	init := kmsg.NewPtrInitProducerIDRequest()
	txid := "gb"
	init.TransactionalID, init.TransactionTimeoutMillis = &txid, 60000
	initResp, err := init.RequestWith(ctx, raw)
	if err == nil {
		err = kerr.ErrorForCode(initResp.ErrorCode)
	}
	if err != nil {
		t.Fatal(err)
	}
	pid, epoch := initResp.ProducerID, initResp.ProducerEpoch

	// A produce from another client starts a round that cannot finish.
	gfs.closed.Store(true)
	var opened sync.Once
	openGate := func() {
		opened.Do(func() {
			gfs.closed.Store(false)
			close(gfs.open)
		})
	}
	defer openGate()
	other := newPlainClient(t, c, kgo.DefaultProduceTopic("gb"))
	acked := make(chan error, 1)
	other.Produce(ctx, &kgo.Record{Value: []byte("waits for its sync")}, func(_ *kgo.Record, err error) { acked <- err })
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-acked:
		t.Fatalf("a produce was answered before its sync: %v", err)
	default:
	}

	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = "gb", pid, epoch, "gb-group"
	commit := kmsg.NewPtrTxnOffsetCommitRequest()
	commit.TransactionalID, commit.Group, commit.ProducerID, commit.ProducerEpoch = "gb", "gb-group", pid, epoch
	commit.Generation, commit.MemberID = -1, ""
	ct := kmsg.NewTxnOffsetCommitRequestTopic()
	ct.Topic = "gb"
	cp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	cp.Offset = 1
	ct.Partitions = append(ct.Partitions, cp)
	commit.Topics = append(commit.Topics, ct)
	for _, req := range []kmsg.Request{add, commit} {
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := raw.Request(rctx, req)
		rcancel()
		if err != nil {
			t.Fatalf("%s while a round was syncing: %v; want it answered without waiting", kmsg.NameForKey(req.Key()), err)
		}
	}
	openGate()
	if err := <-acked; err != nil {
		t.Fatal(err)
	}
}
