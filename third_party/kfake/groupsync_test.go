package kfake

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// slowSyncFS is a memFS whose syncs take a while, as a disk's do, and are
// counted.
type slowSyncFS struct {
	*memFS
	syncs atomic.Int64
}

type slowSyncFile struct {
	file
	fs *slowSyncFS
}

func (s *slowSyncFS) OpenFile(name string, flag int, perm os.FileMode) (file, error) {
	f, err := s.memFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &slowSyncFile{f, s}, nil
}

func (f *slowSyncFile) Sync() error {
	f.fs.syncs.Add(1)
	time.Sleep(2 * time.Millisecond)
	return f.file.Sync()
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
	t.Logf("%d syncs for %d batches", syncs, batches)
}
