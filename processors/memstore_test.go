package processors

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// memStore is an in-memory Store for tests: keys kept sorted, values copied
// in and out, so a test sees exactly what a Pebble batch would hold.
//
// Scan hands fn its key and value in buffers that are overwritten by the
// next call, as a Pebble iterator does: code that keeps them without
// copying reads garbage in tests instead of only in production. And fn
// must not write to the store (the Store contract; a Pebble batch would
// scan on over a snapshot): a Set or Delete during a Scan fails with
// errWriteDuringScan, so code that does it fails in tests.
type memStore struct {
	entries  []memEntry // sorted by key
	scanning int        // Scans in progress
}

// errWriteDuringScan: a Set or Delete from inside a Scan's callback.
var errWriteDuringScan = errors.New("memStore: write during Scan")

type memEntry struct {
	key, value []byte
}

var _ Store = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{} }

func (m *memStore) find(key []byte) (int, bool) {
	return slices.BinarySearchFunc(m.entries, key, func(e memEntry, k []byte) int {
		return bytes.Compare(e.key, k)
	})
}

// Get returns a copy of the value stored at key.
func (m *memStore) Get(key []byte) ([]byte, bool, error) {
	i, ok := m.find(key)
	if !ok {
		return nil, false, nil
	}
	return bytes.Clone(m.entries[i].value), true, nil
}

// Set stores a copy of value at a copy of key.
func (m *memStore) Set(key, value []byte) error {
	if m.scanning > 0 {
		return fmt.Errorf("setting %q: %w", key, errWriteDuringScan)
	}
	v := append([]byte{}, value...) // never nil: an empty value is still present
	i, ok := m.find(key)
	if ok {
		m.entries[i].value = v
		return nil
	}
	m.entries = slices.Insert(m.entries, i, memEntry{key: bytes.Clone(key), value: v})
	return nil
}

// Delete removes key; deleting an absent key is not an error.
func (m *memStore) Delete(key []byte) error {
	if m.scanning > 0 {
		return fmt.Errorf("deleting %q: %w", key, errWriteDuringScan)
	}
	if i, ok := m.find(key); ok {
		m.entries = slices.Delete(m.entries, i, i+1)
	}
	return nil
}

// Scan calls fn in key order for every key in [lo, hi); a nil hi means no
// upper bound (what PrefixEnd returns for an all-0xff prefix).
func (m *memStore) Scan(lo, hi []byte, fn func(k, v []byte) error) error {
	m.scanning++
	defer func() { m.scanning-- }()
	var kbuf, vbuf []byte
	for i, _ := m.find(lo); i < len(m.entries); i++ {
		e := m.entries[i]
		if hi != nil && bytes.Compare(e.key, hi) >= 0 {
			break
		}
		kbuf = append(kbuf[:0], e.key...)
		vbuf = append(vbuf[:0], e.value...)
		if err := fn(kbuf, vbuf); err != nil {
			return err
		}
	}
	return nil
}

// Len is the number of keys stored.
func (m *memStore) Len() int { return len(m.entries) }

// Clone returns an independent copy.
func (m *memStore) Clone() *memStore {
	c := &memStore{entries: make([]memEntry, len(m.entries))}
	for i, e := range m.entries {
		c.entries[i] = memEntry{key: bytes.Clone(e.key), value: bytes.Clone(e.value)}
	}
	return c
}

// Dump renders every key and value, one per line, for comparing whole
// states.
func (m *memStore) Dump() string {
	var b strings.Builder
	for _, e := range m.entries {
		fmt.Fprintf(&b, "%q = %x\n", e.key, e.value)
	}
	return b.String()
}

// countPrefix counts the keys starting with p.
func (m *memStore) countPrefix(p []byte) int {
	n := 0
	_ = m.Scan(p, PrefixEnd(p), func(_, _ []byte) error { n++; return nil })
	return n
}

func TestMemStore(t *testing.T) {
	m := newMemStore()
	for _, k := range []string{"c", "a", "b", "d", "a"} {
		if err := m.Set([]byte(k), []byte("v"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if m.Len() != 4 {
		t.Fatalf("Len = %d, want 4 (a set twice)", m.Len())
	}

	var got []string
	if err := m.Scan([]byte("b"), []byte("d"), func(k, v []byte) error {
		got = append(got, string(k)+"="+string(v))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"b=vb", "c=vc"}; !slices.Equal(got, want) {
		t.Errorf("Scan[b,d) = %v, want %v", got, want)
	}

	got = nil
	_ = m.Scan([]byte("bb"), nil, func(k, _ []byte) error { got = append(got, string(k)); return nil })
	if want := []string{"c", "d"}; !slices.Equal(got, want) {
		t.Errorf("Scan[bb,nil) = %v, want %v", got, want)
	}

	// Values are copies in both directions.
	in := []byte("x")
	_ = m.Set([]byte("e"), in)
	in[0] = 'y'
	v, ok, _ := m.Get([]byte("e"))
	if !ok || string(v) != "x" {
		t.Errorf("Get(e) = %q, %v; the store must copy what Set is given", v, ok)
	}
	v[0] = 'z'
	if v2, _, _ := m.Get([]byte("e")); string(v2) != "x" {
		t.Errorf("Get(e) = %q after changing an earlier Get's result; Get must return a copy", v2)
	}

	if err := m.Delete([]byte("b")); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := m.Get([]byte("b")); ok {
		t.Error("b still present after Delete")
	}
	if err := m.Delete([]byte("nope")); err != nil {
		t.Errorf("Delete of an absent key: %v", err)
	}

	// An empty value is present, not absent.
	_ = m.Set([]byte("empty"), nil)
	if _, ok, _ := m.Get([]byte("empty")); !ok {
		t.Error("a key set to an empty value reads as absent")
	}

	// fn must not write to the store: the write fails, the scan stops
	// with its error, and the store is unchanged.
	before := m.Dump()
	err := m.Scan(nil, nil, func(k, _ []byte) error { return m.Delete(k) })
	if !errors.Is(err, errWriteDuringScan) {
		t.Errorf("Delete during a Scan: %v, want errWriteDuringScan", err)
	}
	err = m.Scan(nil, nil, func(k, _ []byte) error { return m.Set(k, nil) })
	if !errors.Is(err, errWriteDuringScan) {
		t.Errorf("Set during a Scan: %v, want errWriteDuringScan", err)
	}
	if after := m.Dump(); after != before {
		t.Errorf("writes during a Scan changed the store:\n%s\nthen\n%s", before, after)
	}
	// After the scans, writes work again.
	if err := m.Delete([]byte("a")); err != nil {
		t.Errorf("Delete after a Scan: %v", err)
	}
}
