package state

import (
	"fmt"
	"testing"
)

// BenchmarkBatchCommit measures one processing step's write: a batch of 500
// sets of ~80-byte values over one partition, committed with its offset
// without sync (the default), on the real file system.
func BenchmarkBatchCommit(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()

	const sets, keySpace = 500, 100_000
	keys := make([][]byte, keySpace)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "item-%06d/loc-%03d", i, i%997)
	}
	value := make([]byte, 80)
	for i := range value {
		value[i] = byte('a' + i%26)
	}

	b.ReportAllocs()
	b.SetBytes(sets * int64(len(value)))
	next := 0
	var off int64
	for b.Loop() {
		batch := s.NewBatch(0)
		for range sets {
			if err := batch.Set(keys[next], value); err != nil {
				b.Fatal(err)
			}
			next = (next + 1) % keySpace
		}
		off += sets
		if err := batch.Commit(off); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*sets), "ns/set")
}

// BenchmarkBatchGet measures a read of an existing key through an indexed
// batch that has writes of its own, as processing reads before it writes.
func BenchmarkBatchGet(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()

	const n = 10_000
	keys := make([][]byte, n)
	value := make([]byte, 80)
	batch := s.NewBatch(0)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "item-%06d", i)
		if err := batch.Set(keys[i], value); err != nil {
			b.Fatal(err)
		}
	}
	if err := batch.Commit(1); err != nil {
		b.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}

	batch = s.NewBatch(0)
	defer batch.Discard()
	for i := 0; i < 100; i++ { // the batch's own writes, mixed with committed keys
		if err := batch.Set(keys[i*97%n], value[:40]); err != nil {
			b.Fatal(err)
		}
	}

	b.ReportAllocs()
	i := 0
	for b.Loop() {
		v, ok, err := batch.Get(keys[i])
		if err != nil || !ok || len(v) == 0 {
			b.Fatalf("Get(%q) = %d bytes, %v, %v", keys[i], len(v), ok, err)
		}
		i = (i + 7919) % n
	}
}
