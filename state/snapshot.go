package state

import (
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// Snapshot is a point-in-time view of one partition's committed state: it
// reads what was committed when it was taken, whatever is committed after.
// It is for long reads (a reconciliation snapshot of a large partition)
// that must not hold the partition's writers. Close it when done, before
// the store is closed.
type Snapshot struct {
	s    *Store
	p    int32
	once sync.Once
	snap *pebble.Snapshot
}

// Snapshot takes a point-in-time view of partition p's committed state.
func (s *Store) Snapshot(p int32) (*Snapshot, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return nil, ErrClosed
	}
	return &Snapshot{s: s, p: p, snap: s.db.NewSnapshot()}, nil
}

// Partition is the partition the snapshot is of.
func (v *Snapshot) Partition() int32 { return v.p }

// Get returns a copy of the value at key as of the snapshot.
func (v *Snapshot) Get(key []byte) ([]byte, bool, error) {
	v.s.mu.RLock()
	defer v.s.mu.RUnlock()
	if v.s.db == nil {
		return nil, false, ErrClosed
	}
	return get(v.snap, partKey(v.p, key))
}

// Scan calls fn, in key order, for each key in [lo, hi) as of the
// snapshot; hi nil means the end of the partition. k and v are only valid
// during the call. The store cannot be closed while a scan runs.
func (v *Snapshot) Scan(lo, hi []byte, fn func(k, val []byte) error) error {
	v.s.mu.RLock()
	defer v.s.mu.RUnlock()
	if v.s.db == nil {
		return ErrClosed
	}
	return scan(v.snap, v.p, lo, hi, fn)
}

// Close releases the snapshot. It is safe to call more than once, and
// after the store was closed (the store's Close then reported it leaked).
func (v *Snapshot) Close() error {
	var err error
	v.once.Do(func() {
		v.s.mu.RLock()
		defer v.s.mu.RUnlock()
		if v.s.db != nil {
			err = v.snap.Close()
		}
	})
	return err
}
