package state_test

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/processors/storetest"
	"github.com/invsync/invsync/state"
)

// TestBatchConformance holds state.Batch, the Store the processors write in
// production, to the processors.Store contract. The suite's prior state is
// committed beneath the batch, so every read merges the batch's writes with
// committed data; neighbouring partitions hold keys at the edges of the key
// space (0x00, 0xff), so a scan that leaks across a partition boundary
// shows.
func TestBatchConformance(t *testing.T) {
	for _, v := range []struct {
		name   string
		absent []byte // Options.AbsentPrefix
		flush  bool   // prior state flushed to sstables rather than in the memtable
	}{
		{"plain", nil, false},
		{"absent filter on a, flushed", []byte("a"), true},
		{"absent filter on 0x00", []byte{0}, false},
	} {
		t.Run(v.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, prior []storetest.KV) processors.Store {
				return openBatch(t, state.Options{FS: vfs.NewMem(), CacheBytes: 1 << 20, AbsentPrefix: v.absent}, prior, v.flush)
			})
		})
	}
}

// conformancePartition is the partition the suite's batches write; its
// neighbours hold noise.
const conformancePartition = 7

// openBatch opens a store, commits prior to conformancePartition and noise
// to the partitions either side, and returns a new batch on
// conformancePartition. The batch is discarded and the store closed when
// the test ends.
func openBatch(t *testing.T, opts state.Options, prior []storetest.KV, flush bool) *state.Batch {
	t.Helper()
	s, err := state.Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("closing the store: %v", err)
		}
	})
	for _, p := range []int32{conformancePartition - 1, conformancePartition + 1} {
		b := s.NewBatch(p)
		for _, k := range []string{"\x00", "\x00\x00", "a", "k", "\xff", "\xff\xff\xff\xff\xff\xff"} {
			if err := b.Set([]byte(k), []byte("noise of another partition")); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Commit(1); err != nil {
			t.Fatal(err)
		}
	}
	b := s.NewBatch(conformancePartition)
	for _, e := range prior {
		if err := b.Set(e.Key, e.Value); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(1); err != nil {
		t.Fatal(err)
	}
	if flush {
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	b = s.NewBatch(conformancePartition)
	t.Cleanup(b.Discard) // runs before the store's Close
	return b
}
