package state

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
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

// BenchmarkPollCommit measures a poll's state work as the processors do it,
// 100 transactions per batch over 10,000 records: each reads a random
// record, scans its ledger one time in 20 (the share of counts in the
// bench's mix, which scan it), writes the record twice (its
// delta, then its new version), appends a ledger entry and writes an
// outcome under a new key; then the batch commits. Reported per
// transaction.
func BenchmarkPollCommit(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const records, txs = 10_000, 100
	rng := rand.New(rand.NewPCG(1, 2))
	value := make([]byte, 120)
	var key, lo, hi []byte
	tx, off := 0, int64(0)
	b.ReportAllocs()
	for b.Loop() {
		batch := s.NewBatchSized(0, 3*txs)
		for range txs {
			r := rng.IntN(records)
			key = fmt.Appendf(key[:0], "r/WH-%02d/ITEM-%06d/LOC-%04d/", r%8, r, r%97)
			if _, _, err := batch.Get(key); err != nil {
				b.Fatal(err)
			}
			lo = fmt.Appendf(lo[:0], "l/WH-%02d/ITEM-%06d/LOC-%04d/", r%8, r, r%97)
			hi = append(append(hi[:0], lo[:len(lo)-1]...), '/'+1)
			if tx%20 == 0 {
				if err := batch.Scan(lo, hi, func(_, _ []byte) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
			if err := batch.Set(key, value[:110]); err != nil {
				b.Fatal(err)
			}
			if err := batch.Set(key, value); err != nil {
				b.Fatal(err)
			}
			key = fmt.Appendf(key[:0], "l/WH-%02d/ITEM-%06d/LOC-%04d/%012d", r%8, r, r%97, tx)
			if err := batch.Set(key, value[:40]); err != nil {
				b.Fatal(err)
			}
			key = fmt.Appendf(key[:0], "o/bench-tx-%012d", tx)
			if err := batch.Set(key, value[:60]); err != nil {
				b.Fatal(err)
			}
			tx++
		}
		off += 3 * txs
		if err := batch.Commit(off); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*txs), "ns/tx")
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

var (
	scaleRecords = flag.Int("scale-records", 200_000, "stock records BenchmarkReadAtScale loads")
	scaleCache   = flag.Int64("scale-cache", DefaultCacheBytes>>20, "BenchmarkReadAtScale's block cache, MiB")
)

// BenchmarkReadAtScale measures the reads a transaction makes on a store far
// larger than its block cache: one existing record (uniformly chosen, as the
// bench's load is) and one key that was never written beside it (the open
// discrepancy or held-count index of that record). The store holds
// -scale-records records with two ledger entries and two outcomes each, in 12
// partitions, with the default cache (48 MiB; -scale-cache to vary it).
// Loading and the compactions after it are not timed; they take about ten
// seconds per million records.
//
//	go test ./state/ -run '^$' -bench ReadAtScale -scale-records 3000000 -benchtime 200000x
func BenchmarkReadAtScale(b *testing.B) {
	s, err := Open(b.TempDir(), Options{CacheBytes: *scaleCache << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()

	n := *scaleRecords
	recordKey := func(i int) []byte {
		return fmt.Appendf(nil, "r\x00WH-%03d\x00ITEM-%07d\x00LOC-%05d\x00", i%8, i, i%9973)
	}
	record := make([]byte, 250)
	entry := make([]byte, 50)
	outcome := make([]byte, 80)
	const perBatch = 2000
	for p := range int32(12) {
		var off int64
		for lo := int(p); lo < n; lo += 12 * perBatch {
			batch := s.NewBatchSized(p, 5*perBatch)
			for i := lo; i < min(lo+12*perBatch, n); i += 12 {
				k := recordKey(i)
				must(b, batch.Set(k, record))
				for j := range 2 {
					must(b, batch.Set(fmt.Appendf(append([]byte("l"), k...), "%016d", j), entry))
					must(b, batch.Set(fmt.Appendf(nil, "o\x00%08x-%04x-4000-8000-%012x", i, j, i*7+j), outcome))
				}
			}
			off++
			must(b, batch.Commit(off))
		}
	}
	must(b, s.Flush())
	// Reads after the load's compactions, as a store that has been running
	// is read, not one still digesting a bulk load.
	for idle := 0; idle < 20; {
		if s.db.Metrics().Compact.NumInProgress > 0 {
			idle = 0
		} else {
			idle++
		}
		time.Sleep(100 * time.Millisecond)
	}
	before := s.db.Metrics().BlockCache

	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	for b.Loop() {
		i := rng.IntN(n)
		r := s.Partition(int32(i % 12))
		k := recordKey(i)
		if _, ok, err := r.Get(k); err != nil || !ok {
			b.Fatalf("record %d: found %v, %v", i, ok, err)
		}
		if _, ok, err := r.Get(append([]byte("d"), k...)); err != nil || ok {
			b.Fatalf("absent key of record %d: found %v, %v", i, ok, err)
		}
	}
	after := s.db.Metrics().BlockCache
	if misses := after.Misses - before.Misses; misses+after.Hits-before.Hits > 0 {
		b.ReportMetric(float64(misses)/float64(b.N), "block-misses/op")
	}
	if testing.Verbose() {
		b.Logf("Pebble after the reads:\n%s", s.db.Metrics())
	}
}
