package processors

import (
	"fmt"
	"testing"
	"time"
)

// benchBatch is how many transactions run against one copy of the base
// state before it is restored (untimed): the store does not grow with b.N.
const benchBatch = 1024

// benchApply applies txs[i%benchBatch] for each iteration, restoring the
// base state before every batch.
func benchApply(b *testing.B, base *memStore, txs []*Transaction) {
	p := New(Config{})
	now := t0.Add(2 * time.Hour)
	var s *memStore
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%benchBatch == 0 {
			b.StopTimer()
			s = base.Clone()
			b.StartTimer()
		}
		res, err := p.Apply(s, txs[i%benchBatch], now)
		if err != nil || res.Duplicate || res.Outcome.Status != StatusApplied {
			b.Fatalf("%+v, %v", res.Outcome, err)
		}
	}
}

// BenchmarkApplyPick: a PICK on an existing record (no count): one ledger
// entry, the record and the outcome written.
func BenchmarkApplyPick(b *testing.B) {
	p := New(Config{})
	base := newMemStore()
	mustApply(b, p, base, receipt("r0", 0, locA, 1e9), t0.Add(time.Hour))
	txs := make([]*Transaction, benchBatch)
	for i := range txs {
		txs[i] = pick(fmt.Sprintf("pick-%06d", i), 10+i, locA, 1)
	}
	benchApply(b, base, txs)
}

// BenchmarkApplyCount: a late CYCLE_COUNT rebased on a ledger of 100
// deltas after it. Each count is later than the one before (so none is
// superseded) and earlier than every delta (so none is dropped).
func BenchmarkApplyCount(b *testing.B) {
	p := New(Config{})
	base := newMemStore()
	mustApply(b, p, base, count("c0", 0, locA, 0), t0.Add(time.Hour))
	for i := range 100 {
		mustApply(b, p, base, receipt(fmt.Sprintf("r%03d", i), 2000+i, locA, 1), t0.Add(time.Hour))
	}
	if n := ledgerLen(base, testItem, locA, ""); n != 100 {
		b.Fatalf("ledger holds %d entries, want 100", n)
	}
	txs := make([]*Transaction, benchBatch)
	for i := range txs {
		txs[i] = count(fmt.Sprintf("count-%06d", i), 1+i, locA, 50)
	}
	benchApply(b, base, txs)
}
