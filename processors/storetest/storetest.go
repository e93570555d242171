// Package storetest is the conformance suite of processors.Store: one set of
// tests that every implementation must pass, the in-memory store of the
// processors tests and the Pebble batch (state.Batch) alike.
//
// The contract the suite holds implementations to:
//
//   - Keys are non-empty byte strings of any bytes (0x00 and 0xff included),
//     ordered bytewise as by bytes.Compare. Values are any byte strings; an
//     empty value is a value.
//   - Get returns (value, true, nil) for a key that is present and
//     (nil, false, nil) for one that is not. A key set to an empty value is
//     present: (empty, true, nil). The returned slice is the caller's: changing
//     it, appending to it, or later writes to the store do not affect the other.
//   - Set stores value at key, replacing any earlier value. The store keeps its
//     own copies: the caller may reuse key and value once Set returns. A nil
//     value is the empty value, not a deletion.
//   - Delete removes key; deleting a key that is absent is not an error.
//   - Scan calls fn once for each present key k with lo <= k < hi, in
//     increasing key order. A nil or empty lo means from the first key; a nil
//     hi means no upper bound; a non-nil hi, even an empty one, is an
//     exclusive bound, so a range with lo >= hi is empty. Scan sees the
//     store's own writes and deletes made before it was called, over whatever
//     state the store started from (the committed state beneath a batch).
//     k and v are only valid during the call and may be overwritten by the
//     next one: callers copy what they keep. fn must not write to the store;
//     what a scan then sees is unspecified (a Pebble batch scans a snapshot
//     taken when the scan starts, the in-memory store resumes after the last
//     key visited). When fn returns an error, the scan stops at once and Scan
//     returns that error (callers test it with errors.Is); the store stays
//     usable.
//   - A Store is not safe for concurrent use.
//
// Errors of the store itself (a failed read or write) are not part of the
// suite: a caller that gets one discards the batch.
package storetest

import (
	"bytes"
	"slices"
	"testing"

	"github.com/invsync/invsync/processors"
)

// KV is one key and its value.
type KV struct {
	Key, Value []byte
}

// Opener returns a new Store for one test, independent of every other store
// it returned, whose state is prior (distinct keys, in any order; nil for an
// empty store). An implementation that layers its writes over committed
// state, as a batch does, must put prior in that committed state, so the
// suite checks reads that merge the two. The Opener releases what it opened
// when t ends (t.Cleanup).
type Opener func(t *testing.T, prior []KV) processors.Store

// Run runs the suite against the stores open returns, each case in its own
// subtest.
func Run(t *testing.T, open Opener) {
	t.Helper()
	for _, c := range []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"GetAbsent", testGetAbsent},
		{"SetGet", testSetGet},
		{"Overwrite", testOverwrite},
		{"EmptyValueIsPresent", testEmptyValue},
		{"DeleteAbsentKey", testDeleteAbsent},
		{"DeleteThenGet", testDeleteThenGet},
		{"ScanOrder", testScanOrder},
		{"ScanBounds", testScanBounds},
		{"ScanSeesOwnWritesAndDeletes", testScanSeesOwnWrites},
		{"GetValueIsTheCallers", testGetValueIsTheCallers},
		{"SetKeepsItsOwnCopies", testSetKeepsCopies},
		{"ScanCallbackErrorStops", testScanErrorStops},
		{"BinaryKeys", testBinaryKeys},
		{"ManyKeys", testManyKeys},
		{"RandomOperations", testRandomOperations},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open) })
	}
}

// inBothLayouts runs fn on a store holding entries twice: once with
// entries as the store's prior state, once with them written through Set
// into an empty store. Each run first checks that the store holds exactly
// entries.
func inBothLayouts(t *testing.T, open Opener, entries []KV, fn func(t *testing.T, s processors.Store)) {
	t.Helper()
	want := sortedCopy(entries)
	t.Run("prior", func(t *testing.T) {
		s := open(t, cloneKVs(entries))
		expectScan(t, s, nil, nil, want)
		fn(t, s)
	})
	t.Run("written", func(t *testing.T) {
		s := open(t, nil)
		for _, e := range entries {
			mustSet(t, s, e.Key, e.Value)
		}
		expectScan(t, s, nil, nil, want)
		fn(t, s)
	})
}

func mustGet(t testing.TB, s processors.Store, key []byte) ([]byte, bool) {
	t.Helper()
	v, ok, err := s.Get(key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return v, ok
}

func mustSet(t testing.TB, s processors.Store, key, value []byte) {
	t.Helper()
	if err := s.Set(key, value); err != nil {
		t.Fatalf("Set(%q, %q): %v", key, value, err)
	}
}

func mustDelete(t testing.TB, s processors.Store, key []byte) {
	t.Helper()
	if err := s.Delete(key); err != nil {
		t.Fatalf("Delete(%q): %v", key, err)
	}
}

// expectGet fails unless key reads as value (present).
func expectGet(t testing.TB, s processors.Store, key, value []byte) {
	t.Helper()
	v, ok := mustGet(t, s, key)
	if !ok || !bytes.Equal(v, value) {
		t.Errorf("Get(%q) = %q, %v; want %q, true", key, v, ok, value)
	}
}

// expectAbsent fails unless key reads as absent: (nil, false, nil).
func expectAbsent(t testing.TB, s processors.Store, key []byte) {
	t.Helper()
	if v, ok := mustGet(t, s, key); ok || v != nil {
		t.Errorf("Get(%q) = %q, %v; want nil, false (absent)", key, v, ok)
	}
}

// scanAll returns what Scan(lo, hi) visits, copying each key and value as
// it is handed over: the store may reuse its buffers.
func scanAll(t testing.TB, s processors.Store, lo, hi []byte) []KV {
	t.Helper()
	var out []KV
	if err := s.Scan(lo, hi, func(k, v []byte) error {
		out = append(out, KV{bytes.Clone(k), bytes.Clone(v)})
		return nil
	}); err != nil {
		t.Fatalf("Scan(%q, %q): %v", lo, hi, err)
	}
	return out
}

// expectScan fails unless Scan(lo, hi) visits exactly want, in order.
func expectScan(t testing.TB, s processors.Store, lo, hi []byte, want []KV) {
	t.Helper()
	got := scanAll(t, s, lo, hi)
	if !equalKVs(got, want) {
		t.Errorf("Scan(%s, %s) visits\n  %s\nwant\n  %s", fmtBound(lo), fmtBound(hi), fmtKVs(got), fmtKVs(want))
	}
}

func equalKVs(a, b []KV) bool {
	return slices.EqualFunc(a, b, func(x, y KV) bool {
		return bytes.Equal(x.Key, y.Key) && bytes.Equal(x.Value, y.Value)
	})
}

func sortedCopy(kvs []KV) []KV {
	out := cloneKVs(kvs)
	slices.SortFunc(out, func(a, b KV) int { return bytes.Compare(a.Key, b.Key) })
	return out
}

func cloneKVs(kvs []KV) []KV {
	out := make([]KV, len(kvs))
	for i, e := range kvs {
		out[i] = KV{bytes.Clone(e.Key), bytes.Clone(e.Value)}
	}
	return out
}

// kvs builds entries from alternating keys and values.
func kvs(kv ...string) []KV {
	out := make([]KV, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, KV{[]byte(kv[i]), []byte(kv[i+1])})
	}
	return out
}

func fmtBound(b []byte) string {
	if b == nil {
		return "nil"
	}
	return string(appendQuoted(nil, b))
}

func fmtKVs(kvs []KV) string {
	if len(kvs) == 0 {
		return "(nothing)"
	}
	var b []byte
	for i, e := range kvs {
		if i > 0 {
			b = append(b, ' ')
		}
		b = appendQuoted(b, e.Key)
		b = append(b, '=')
		b = appendQuoted(b, e.Value)
		if i == 40 && len(kvs) > 42 {
			b = append(b, " …"...)
			break
		}
	}
	return string(b)
}

func appendQuoted(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, c := range s {
		if c >= 0x20 && c < 0x7f && c != '"' && c != '\\' {
			b = append(b, c)
			continue
		}
		b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
	}
	return append(b, '"')
}
