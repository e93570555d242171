package state

import (
	"bytes"
	"sync"

	"github.com/bits-and-blooms/bloom/v3"
)

// absentFilter remembers, in memory, every key (with its partition prefix)
// ever written under one key prefix, in layered bloom filters, so that a
// point read of a key that was never written, the common case for an
// idempotency key, is answered without touching Pebble. It only ever says
// "certainly absent" or "maybe present"; "maybe" falls back to Pebble, so
// a false positive costs a read and nothing else. Keys are added before
// they become visible in Pebble, so it never says "absent" for a key a
// reader could find. Keys are never removed (a dropped partition's keys
// stay as harmless positives).
type absentFilter struct {
	prefix []byte
	mu     sync.RWMutex
	layers []*bloom.BloomFilter
	room   uint // keys the newest layer takes before the next is added
	last   uint // the newest layer's capacity
}

// absentFilterFPR is each layer's false-positive rate at capacity.
const absentFilterFPR = 0.01

func newAbsentFilter(prefix []byte, expect uint) *absentFilter {
	f := &absentFilter{prefix: bytes.Clone(prefix)}
	f.grow(max(expect*2, 1<<20))
	return f
}

func (f *absentFilter) grow(capacity uint) {
	f.layers = append(f.layers, bloom.NewWithEstimates(capacity, absentFilterFPR))
	f.room, f.last = capacity, capacity
}

// covers reports whether key (without partition prefix) is under the
// filtered prefix.
func (f *absentFilter) covers(key []byte) bool {
	return f != nil && bytes.HasPrefix(key, f.prefix)
}

// add records a full key (partition prefix included).
func (f *absentFilter) add(full []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.room == 0 {
		// Each layer doubles the last, so lookups test O(log n) layers.
		f.grow(f.last * 2)
	}
	f.layers[len(f.layers)-1].Add(full)
	f.room--
}

// mayContain reports whether full may have been added.
func (f *absentFilter) mayContain(full []byte) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, l := range f.layers {
		if l.Test(full) {
			return true
		}
	}
	return false
}
