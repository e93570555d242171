package state

import (
	"bytes"
	"fmt"

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
type Batch struct {
	s    *Store
	p    int32
	b    *pebble.Batch
	muts []Mutation
	idx  map[string]int // key -> position in muts of its latest mutation
	// key is the scratch store key of Get, Set and Delete: Pebble copies
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
	b := &Batch{s: s, p: p, idx: make(map[string]int, n), muts: make([]Mutation, 0, n)}
	if s.db != nil {
		b.b = s.db.NewIndexedBatch()
	}
	return b
}

// open holds the store open for a batch operation; release with the
// returned function.
func (b *Batch) open() (func(), error) {
	b.s.mu.RLock()
	if b.s.db == nil || b.b == nil {
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
	return b.s.cachedGet(b.b, b.p, key, full)
}

// Scan is Reader.Scan over the batch's view.
func (b *Batch) Scan(lo, hi []byte, fn func(k, v []byte) error) error {
	release, err := b.open()
	if err != nil {
		return err
	}
	defer release()
	return scan(b.b, b.p, lo, hi, fn)
}

// Set writes value at key. The batch keeps its own copies of both.
func (b *Batch) Set(key, value []byte) error {
	if b.b == nil {
		return ErrClosed
	}
	if value == nil {
		value = []byte{}
	}
	b.key = appendPartKey(b.key[:0], b.p, key)
	if err := b.b.Set(b.key, value, nil); err != nil {
		return err
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
	if b.b == nil {
		return ErrClosed
	}
	b.key = appendPartKey(b.key[:0], b.p, key)
	if err := b.b.Delete(b.key, nil); err != nil {
		return err
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
	if err := b.b.Set(offsetKey(b.p), be64(nextOffset), nil); err != nil {
		b.Discard()
		return err
	}
	b.s.noteWritten(b.p, b.muts)
	b.s.hot.writing(b.p)
	err = b.b.Commit(b.s.writeOpts())
	b.Discard()
	if err != nil {
		return fmt.Errorf("committing partition %d state: %w", b.p, err)
	}
	b.s.hot.written(b.p, b.muts)
	return nil
}

// Discard drops the batch without applying it. Safe to call twice.
func (b *Batch) Discard() {
	if b.b != nil {
		_ = b.b.Close()
		b.b = nil
	}
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
