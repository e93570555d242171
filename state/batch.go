package state

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// Mutation is one change to a partition's state: a Set, or a Delete when
// Value is nil. It is what the changelog carries.
type Mutation struct {
	Key   []byte
	Value []byte
}

// Batch is a set of changes to one partition, readable before it is
// committed (reads see its own writes over the committed state). It records
// its mutations in order for the changelog. Not safe for concurrent use.
//
// The batch keeps its writes itself, the latest per key, and answers reads
// from them before it reads the store; Pebble sees them only at Commit, as
// one sorted batch (commitBatch). An indexed Pebble batch would also give
// reads their own writes, at the cost of a skiplist insert per write and a
// merge with its skiplist on every read (BENCHMARKS.md).
type Batch struct {
	s      *Store
	p      int32
	closed bool // committed, discarded, or opened on a closed store
	muts   []Mutation
	idx    map[string]int // key -> position in muts of its latest mutation
	order  []int32        // positions in muts of its first len(order) keys, in key order (ownIn)
	// key is the scratch store key of Get and commitBatch: Pebble copies
	// what it keeps, so one buffer serves every call.
	key []byte
}

// NewBatch starts a batch on partition p. On a closed store every
// operation of the batch returns ErrClosed.
func (s *Store) NewBatch(p int32) *Batch { return s.NewBatchSized(p, 0) }

// NewBatchSized is NewBatch for a batch expected to write about n keys: its
// index and its list of mutations start at that size instead of growing
// to it (a hint only; any number of keys may be written).
func (s *Store) NewBatchSized(p int32, n int) *Batch {
	n = max(n, 0)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return &Batch{s: s, p: p, closed: s.db == nil, idx: make(map[string]int, n), muts: make([]Mutation, 0, n)}
}

// open holds the store open for a batch operation; release with the
// returned function.
func (b *Batch) open() (func(), error) {
	b.s.mu.RLock()
	if b.s.db == nil || b.closed {
		b.s.mu.RUnlock()
		return nil, ErrClosed
	}
	return b.s.mu.RUnlock, nil
}

// Partition is the partition the batch changes.
func (b *Batch) Partition() int32 { return b.p }

// Get returns a copy of the value at key as the batch sees it.
func (b *Batch) Get(key []byte) ([]byte, bool, error) {
	release, err := b.open()
	if err != nil {
		return nil, false, err
	}
	defer release()
	// The batch's own latest write is the answer when there is one (a
	// transaction rereads the record it just wrote): no Pebble read.
	if i, ok := b.idx[string(key)]; ok {
		if b.muts[i].Value == nil {
			return nil, false, nil
		}
		return bytes.Clone(b.muts[i].Value), true, nil
	}
	b.key = appendPartKey(b.key[:0], b.p, key)
	full := b.key
	if b.s.absent.covers(key) && !b.s.absent.mayContain(full) {
		return nil, false, nil // never committed, and not written here
	}
	// Not written in this batch: the committed value is the answer.
	return b.s.cachedGet(b.s.db, b.p, key, full)
}

// Scan is Reader.Scan over the batch's view: the committed keys in [lo, hi)
// merged with the batch's own writes there, which replace (or, deleted,
// hide) a committed key. Writes made by fn during the scan are not seen by
// it.
func (b *Batch) Scan(lo, hi []byte, fn func(k, v []byte) error) error {
	release, err := b.open()
	if err != nil {
		return err
	}
	defer release()
	own := b.ownIn(lo, hi)
	if len(own) == 0 {
		return scan(b.s.db, b.p, lo, hi, fn)
	}
	// emitBefore calls fn for the batch's writes below k (all of them for
	// k nil), deletions skipped.
	emitBefore := func(k []byte) error {
		for len(own) > 0 && (k == nil || bytes.Compare(own[0].Key, k) < 0) {
			m := own[0]
			own = own[1:]
			if m.Value != nil {
				if err := fn(m.Key, m.Value); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err = scan(b.s.db, b.p, lo, hi, func(k, v []byte) error {
		if err := emitBefore(k); err != nil {
			return err
		}
		if len(own) == 0 || !bytes.Equal(own[0].Key, k) {
			return fn(k, v)
		}
		// The batch's write replaces the committed value, or hides it.
		m := own[0]
		own = own[1:]
		if m.Value == nil {
			return nil
		}
		return fn(m.Key, m.Value)
	})
	if err != nil {
		return err
	}
	return emitBefore(nil)
}

// Set writes value at key. The batch keeps its own copies of both.
func (b *Batch) Set(key, value []byte) error {
	if b.closed {
		return ErrClosed
	}
	if value == nil {
		value = []byte{}
	}
	if i, ok := b.idx[string(key)]; ok {
		b.muts[i].Value = bytes.Clone(value)
		return nil
	}
	// A new key: its copy and its value's share one allocation.
	kv := make([]byte, len(key)+len(value))
	copy(kv, key)
	copy(kv[len(key):], value)
	b.add(kv[:len(key):len(key)], kv[len(key):])
	return nil
}

// Delete removes key.
func (b *Batch) Delete(key []byte) error {
	if b.closed {
		return ErrClosed
	}
	if i, ok := b.idx[string(key)]; ok {
		b.muts[i].Value = nil
		return nil
	}
	b.add(bytes.Clone(key), nil)
	return nil
}

// add records the first mutation of key, which the batch owns. Later ones
// replace its value in place (Set, Delete): the changelog is a table, and
// earlier values of a key within one batch are never observable.
func (b *Batch) add(key, value []byte) {
	b.idx[string(key)] = len(b.muts)
	b.muts = append(b.muts, Mutation{Key: key, Value: value})
}

// Mutations returns the batch's changes, the latest per key, in the order
// each key was first written. The slice is owned by the batch.
func (b *Batch) Mutations() []Mutation { return b.muts }

// Empty reports whether the batch changes nothing.
func (b *Batch) Empty() bool { return len(b.muts) == 0 }

// Commit applies the batch atomically together with the partition's new
// changelog offset (the next offset to replay), then releases the batch.
// Call it only once the same mutations are committed in Kafka.
func (b *Batch) Commit(nextOffset int64) error {
	release, err := b.open()
	if err != nil {
		return err
	}
	defer release()
	w, err := b.commitBatch(nextOffset)
	b.Discard()
	if err != nil {
		return fmt.Errorf("committing partition %d state: %w", b.p, err)
	}
	b.s.noteWritten(b.p, b.muts)
	b.s.hot.writing(b.p)
	err = w.Commit(b.s.writeOpts())
	_ = w.Close()
	if err != nil {
		return fmt.Errorf("committing partition %d state: %w", b.p, err)
	}
	b.s.hot.written(b.p, b.muts)
	return nil
}

// commitBatch is what Commit writes: the latest value of each key, sorted
// by key, then the offset. Pebble inserts a batch into its memtable entry
// by entry in batch order, each insert a skiplist search whose cost is
// memory latency: one entry per key (a record written by several
// transactions of a poll is written once), and sorted entries let each
// search start from the previous one's position instead of the top of the
// list (BENCHMARKS.md).
func (b *Batch) commitBatch(nextOffset int64) (*pebble.Batch, error) {
	size := 0
	for _, m := range b.muts {
		size += len(m.Key) + len(m.Value) + 16
	}
	w := b.s.db.NewBatchWithSize(size + 32)
	b.sortTail()
	for _, i := range b.order {
		m := b.muts[i]
		b.key = appendPartKey(b.key[:0], b.p, m.Key)
		var err error
		if m.Value == nil {
			err = w.Delete(b.key, nil)
		} else {
			err = w.Set(b.key, m.Value, nil)
		}
		if err != nil {
			_ = w.Close()
			return nil, err
		}
	}
	if err := w.Set(offsetKey(b.p), be64(nextOffset), nil); err != nil {
		_ = w.Close()
		return nil, err
	}
	return w, nil
}

// The batch's keys in order, for Scan and Commit: order holds the
// positions in muts of its first len(order) keys (a key, once written,
// keeps its position; later writes change its value in place), sorted by
// key; the keys added since, the tail, are not sorted yet. A Scan reads
// the sorted part by binary search and the tail linearly; the tail is
// sorted into order once it outgrows a sixteenth of it, so each key is
// moved a bounded number of times on average however the batch grows.
// (A processor scans a record's ledger for every count it applies:
// sorting every key on each scan cost more than the scans.)

// ownIn returns copies of the batch's writes in [lo, hi) (hi nil: no upper
// bound), sorted by key: a Scan's callback may write to the batch.
func (b *Batch) ownIn(lo, hi []byte) []Mutation {
	if len(b.muts)-len(b.order) > max(32, len(b.order)/16) {
		b.sortTail()
	}
	in := func(k []byte) bool { return bytes.Compare(k, lo) >= 0 && (hi == nil || bytes.Compare(k, hi) < 0) }
	var own []Mutation
	first, _ := slices.BinarySearchFunc(b.order, lo, func(i int32, k []byte) int { return bytes.Compare(b.muts[i].Key, k) })
	for _, i := range b.order[first:] {
		if !in(b.muts[i].Key) {
			break
		}
		own = append(own, b.muts[i])
	}
	sorted := len(own)
	for _, m := range b.muts[len(b.order):] {
		if in(m.Key) {
			own = append(own, m)
		}
	}
	if len(own) > sorted {
		slices.SortFunc(own, func(x, y Mutation) int { return bytes.Compare(x.Key, y.Key) })
	}
	return own
}

// sortTail merges the tail's keys into order.
func (b *Batch) sortTail() {
	n := len(b.order)
	if n == len(b.muts) {
		return
	}
	byKey := func(x, y int32) int { return bytes.Compare(b.muts[x].Key, b.muts[y].Key) }
	tail := make([]int32, 0, len(b.muts)-n)
	for i := n; i < len(b.muts); i++ {
		tail = append(tail, int32(i))
	}
	slices.SortFunc(tail, byKey)
	merged := make([]int32, 0, len(b.muts))
	i, j := 0, 0
	for i < n && j < len(tail) {
		if byKey(b.order[i], tail[j]) <= 0 {
			merged = append(merged, b.order[i])
			i++
		} else {
			merged = append(merged, tail[j])
			j++
		}
	}
	merged = append(merged, b.order[i:]...)
	b.order = append(merged, tail[j:]...)
}

// Discard drops the batch without applying it. Safe to call twice.
func (b *Batch) Discard() {
	b.closed = true
}

// noteWritten adds the filtered keys muts sets to the absent filter. It is
// called before the write is committed, so the filter never answers
// "absent" for a key a reader could see.
func (s *Store) noteWritten(p int32, muts []Mutation) {
	if s.absent == nil {
		return
	}
	for _, m := range muts {
		if m.Value != nil && s.absent.covers(m.Key) {
			s.absent.add(partKey(p, m.Key))
		}
	}
}
