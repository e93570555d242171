package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/invsync/invsync/processors"
)

func testGetAbsent(t *testing.T, open Opener) {
	t.Run("empty store", func(t *testing.T) {
		s := open(t, nil)
		for _, k := range []string{"k", "\x00", "\xff", "a\x00b"} {
			expectAbsent(t, s, []byte(k))
		}
	})
	// Neighbours, prefixes and extensions of present keys are absent.
	inBothLayouts(t, open, kvs("a", "1", "a\x00\x01", "2", "c", "3"), func(t *testing.T, s processors.Store) {
		for _, k := range []string{"b", "a\x00", "a\x00\x01\x00", "a\x01", "\x00", "\xff", "c\x00", "C"} {
			expectAbsent(t, s, []byte(k))
		}
		expectGet(t, s, []byte("a"), []byte("1"))
	})
}

func testSetGet(t *testing.T, open Opener) {
	entries := kvs(
		"k", "v",
		"item/one", "a longer value with spaces",
		"\x00bin", "\x00\x01\x02\xff",
		"\xffhigh", "\xff",
	)
	inBothLayouts(t, open, entries, func(t *testing.T, s processors.Store) {
		for _, e := range entries {
			expectGet(t, s, e.Key, e.Value)
		}
	})
	t.Run("each Set visible at once", func(t *testing.T) {
		s := open(t, nil)
		for i := range 50 {
			k, v := fmt.Appendf(nil, "key-%03d", i), fmt.Appendf(nil, "value-%d", i*i)
			mustSet(t, s, k, v)
			expectGet(t, s, k, v)
		}
	})
}

func testOverwrite(t *testing.T, open Opener) {
	k := []byte("key")
	inBothLayouts(t, open, kvs("key", "a first value that is long", "key\x00", "neighbour"), func(t *testing.T, s processors.Store) {
		for _, v := range []string{"short", "a value longer than either before it", "s", "s"} {
			mustSet(t, s, k, []byte(v))
			expectGet(t, s, k, []byte(v))
		}
		// One entry per key, the latest value; the neighbour untouched.
		expectScan(t, s, nil, nil, kvs("key", "s", "key\x00", "neighbour"))
	})
}

func testEmptyValue(t *testing.T, open Opener) {
	check := func(t *testing.T, s processors.Store, key []byte) {
		t.Helper()
		v, ok := mustGet(t, s, key)
		if !ok || len(v) != 0 {
			t.Errorf("Get(%q) = %q, %v; want an empty value, true (present)", key, v, ok)
		}
	}
	t.Run("set nil and set empty", func(t *testing.T) {
		s := open(t, nil)
		mustSet(t, s, []byte("nil"), nil)
		mustSet(t, s, []byte("empty"), []byte{})
		check(t, s, []byte("nil"))
		check(t, s, []byte("empty"))
		expectScan(t, s, nil, nil, []KV{{[]byte("empty"), nil}, {[]byte("nil"), nil}})
	})
	inBothLayouts(t, open, []KV{{[]byte("e"), []byte{}}, {[]byte("f"), []byte("full")}}, func(t *testing.T, s processors.Store) {
		check(t, s, []byte("e"))
		// Overwriting a value with an empty one keeps the key.
		mustSet(t, s, []byte("f"), nil)
		check(t, s, []byte("f"))
		expectScan(t, s, nil, nil, []KV{{[]byte("e"), nil}, {[]byte("f"), nil}})
		// An empty value is deleted like any other.
		mustDelete(t, s, []byte("e"))
		expectAbsent(t, s, []byte("e"))
		expectScan(t, s, nil, nil, []KV{{[]byte("f"), nil}})
	})
}

func testDeleteAbsent(t *testing.T, open Opener) {
	t.Run("empty store", func(t *testing.T) {
		s := open(t, nil)
		mustDelete(t, s, []byte("never"))
		expectAbsent(t, s, []byte("never"))
		expectScan(t, s, nil, nil, nil)
	})
	entries := kvs("a", "1", "c", "3")
	inBothLayouts(t, open, entries, func(t *testing.T, s processors.Store) {
		for _, k := range []string{"b", "a\x00", "zz", "\x00", "\xff"} {
			mustDelete(t, s, []byte(k))
		}
		expectScan(t, s, nil, nil, entries)
		// Deleting the same key twice: the second is of an absent key.
		mustDelete(t, s, []byte("a"))
		mustDelete(t, s, []byte("a"))
		expectAbsent(t, s, []byte("a"))
		expectScan(t, s, nil, nil, kvs("c", "3"))
	})
}

func testDeleteThenGet(t *testing.T, open Opener) {
	inBothLayouts(t, open, kvs("a", "1", "b", "2", "b\x00", "2.5", "c", "3"), func(t *testing.T, s processors.Store) {
		mustDelete(t, s, []byte("b"))
		expectAbsent(t, s, []byte("b"))
		expectGet(t, s, []byte("b\x00"), []byte("2.5")) // its extension stays
		expectScan(t, s, nil, nil, kvs("a", "1", "b\x00", "2.5", "c", "3"))

		// Set after Delete brings the key back with the new value.
		mustSet(t, s, []byte("b"), []byte("two"))
		expectGet(t, s, []byte("b"), []byte("two"))
		expectScan(t, s, nil, nil, kvs("a", "1", "b", "two", "b\x00", "2.5", "c", "3"))

		mustDelete(t, s, []byte("b"))
		mustDelete(t, s, []byte("c"))
		expectAbsent(t, s, []byte("b"))
		expectAbsent(t, s, []byte("c"))
		expectScan(t, s, nil, nil, kvs("a", "1", "b\x00", "2.5"))
	})
	t.Run("set and delete in one store", func(t *testing.T) {
		s := open(t, nil)
		mustSet(t, s, []byte("k"), []byte("v"))
		mustDelete(t, s, []byte("k"))
		expectAbsent(t, s, []byte("k"))
		expectScan(t, s, nil, nil, nil)
	})
}

func testScanOrder(t *testing.T, open Opener) {
	rng := newRand(1)
	keys := distinctKeys(rng, 300, 1, 10, fullAlphabet)
	var entries []KV
	for i, k := range keys {
		entries = append(entries, KV{k, fmt.Appendf(nil, "v%d", i)})
	}
	rng.Shuffle(len(entries), func(i, j int) { entries[i], entries[j] = entries[j], entries[i] })
	// Unsigned bytewise order: 0x80..0xff after 0x7f, a prefix before its
	// extensions.
	inBothLayouts(t, open, entries, func(t *testing.T, s processors.Store) {
		expectScan(t, s, nil, nil, sortedCopy(entries))
	})
	t.Run("half prior, half written", func(t *testing.T) {
		half := len(entries) / 2
		s := open(t, cloneKVs(entries[:half]))
		for _, e := range entries[half:] {
			mustSet(t, s, e.Key, e.Value)
		}
		expectScan(t, s, nil, nil, sortedCopy(entries))
	})
}

func testScanBounds(t *testing.T, open Opener) {
	keys := []string{"\x00", "\x00\x00", "a", "a\x00", "a\x00\xff", "a\xff", "ab", "b", "\x7f", "\x80", "\xff", "\xff\xff"}
	var entries []KV
	for _, k := range keys {
		entries = append(entries, KV{[]byte(k), []byte("v" + k)})
	}
	pick := func(ks ...string) []KV {
		var out []KV
		for _, k := range ks {
			out = append(out, KV{[]byte(k), []byte("v" + k)})
		}
		return out
	}
	b := func(s string) []byte { return []byte(s) }
	cases := []struct {
		name   string
		lo, hi []byte
		want   []KV
	}{
		{"lo inclusive, hi exclusive", b("a"), b("b"), pick("a", "a\x00", "a\x00\xff", "ab", "a\xff")},
		{"bounds between keys", b("a\x01"), b("ac"), pick("ab")},
		{"bounds that are extensions", b("a\x00"), b("a\xff\x00"), pick("a\x00", "a\x00\xff", "ab", "a\xff")},
		{"one key", b("\x00\x00"), b("\x00\x00\x00"), pick("\x00\x00")},
		{"lo == hi is empty", b("a"), b("a"), nil},
		{"lo > hi is empty", b("b"), b("a"), nil},
		{"nil lo: from the first key", nil, b("a"), pick("\x00", "\x00\x00")},
		{"empty lo is nil lo", []byte{}, b("a"), pick("\x00", "\x00\x00")},
		{"nil hi: to the last key", b("ab"), nil, pick("ab", "a\xff", "b", "\x7f", "\x80", "\xff", "\xff\xff")},
		{"nil, nil: everything", nil, nil, sortedCopy(entries)},
		{"empty hi bounds everything", b("a"), []byte{}, nil},
		{"nil lo, empty hi", nil, []byte{}, nil},
		{"0x80 sorts after 0x7f", b("\x7f"), b("\x81"), pick("\x7f", "\x80")},
		{"high keys to the end", b("\xff"), nil, pick("\xff", "\xff\xff")},
		{"prefix a", b("a"), processors.PrefixEnd(b("a")), pick("a", "a\x00", "a\x00\xff", "ab", "a\xff")},
		{"prefix a\\x00", b("a\x00"), processors.PrefixEnd(b("a\x00")), pick("a\x00", "a\x00\xff")},
		{"prefix \\xff (unbounded PrefixEnd)", b("\xff"), processors.PrefixEnd(b("\xff")), pick("\xff", "\xff\xff")},
		{"past the last key", b("\xff\xff\x00"), nil, nil},
		{"before the first key", nil, b("\x00"), nil},
	}
	inBothLayouts(t, open, entries, func(t *testing.T, s processors.Store) {
		for _, c := range cases {
			got := scanAll(t, s, c.lo, c.hi)
			if !equalKVs(got, c.want) {
				t.Errorf("%s: Scan(%s, %s) visits\n  %s\nwant\n  %s", c.name, fmtBound(c.lo), fmtBound(c.hi), fmtKVs(got), fmtKVs(c.want))
			}
		}
	})
}

func testScanSeesOwnWrites(t *testing.T, open Opener) {
	inBothLayouts(t, open, kvs("a", "1", "b", "2", "c", "3", "d", "4"), func(t *testing.T, s processors.Store) {
		mustDelete(t, s, []byte("b"))
		mustSet(t, s, []byte("c"), []byte("3'"))
		mustSet(t, s, []byte("e"), []byte("5"))
		mustSet(t, s, []byte("a\x00"), []byte("x"))
		mustDelete(t, s, []byte("d"))
		mustSet(t, s, []byte("d"), []byte("4'"))
		mustSet(t, s, []byte("f"), []byte("6"))
		mustDelete(t, s, []byte("f"))

		expectScan(t, s, nil, nil, kvs("a", "1", "a\x00", "x", "c", "3'", "d", "4'", "e", "5"))
		expectScan(t, s, []byte("b"), []byte("d"), kvs("c", "3'"))
		expectScan(t, s, []byte("a\x00"), []byte("c"), kvs("a\x00", "x"))
		expectScan(t, s, []byte("d"), nil, kvs("d", "4'", "e", "5"))
		expectAbsent(t, s, []byte("b"))
		expectAbsent(t, s, []byte("f"))
		expectGet(t, s, []byte("d"), []byte("4'"))

		// Delete everything: nothing left to scan.
		for _, k := range []string{"a", "a\x00", "c", "d", "e"} {
			mustDelete(t, s, []byte(k))
		}
		expectScan(t, s, nil, nil, nil)
	})
}

func testGetValueIsTheCallers(t *testing.T, open Opener) {
	inBothLayouts(t, open, kvs("k", "value", "l", "other value"), func(t *testing.T, s processors.Store) {
		v, _ := mustGet(t, s, []byte("k"))
		for i := range v {
			v[i] = 'X'
		}
		expectGet(t, s, []byte("k"), []byte("value"))

		// Appending to a returned value must not write into the store's
		// memory, whatever the slice's capacity.
		for _, k := range []string{"k", "l"} {
			w, _ := mustGet(t, s, []byte(k))
			_ = append(w, bytes.Repeat([]byte{'#'}, 64)...)
		}
		expectScan(t, s, nil, nil, kvs("k", "value", "l", "other value"))

		// Later writes do not change a value already handed out.
		held, _ := mustGet(t, s, []byte("k"))
		mustSet(t, s, []byte("k"), []byte("VALUE"))
		if string(held) != "value" {
			t.Errorf("a value read before Set changed to %q", held)
		}
		held, _ = mustGet(t, s, []byte("k"))
		mustDelete(t, s, []byte("k"))
		if string(held) != "VALUE" {
			t.Errorf("a value read before Delete changed to %q", held)
		}
	})
}

func testSetKeepsCopies(t *testing.T, open Opener) {
	s := open(t, nil)
	key, value := []byte("key-1"), []byte("value-1")
	mustSet(t, s, key, value)
	// The caller reuses both buffers.
	copy(key, "KEY-2")
	copy(value, "VALUE-2")
	expectGet(t, s, []byte("key-1"), []byte("value-1"))
	expectAbsent(t, s, []byte("KEY-2"))
	expectScan(t, s, nil, nil, kvs("key-1", "value-1"))

	// A buffer reused across Sets, as a caller encoding into one slice does.
	buf := make([]byte, 0, 32)
	for i := range 5 {
		buf = fmt.Appendf(buf[:0], "v%d", i)
		mustSet(t, s, fmt.Appendf(nil, "r%d", i), buf)
	}
	for i := range 5 {
		expectGet(t, s, fmt.Appendf(nil, "r%d", i), fmt.Appendf(nil, "v%d", i))
	}
}

func testScanErrorStops(t *testing.T, open Opener) {
	var entries []KV
	for i := range 10 {
		entries = append(entries, KV{fmt.Appendf(nil, "k%02d", i), fmt.Appendf(nil, "v%d", i)})
	}
	errStop := errors.New("stop here")
	inBothLayouts(t, open, entries, func(t *testing.T, s processors.Store) {
		for _, stopAt := range []int{0, 3, 9} {
			var visited [][]byte
			err := s.Scan(nil, nil, func(k, _ []byte) error {
				visited = append(visited, bytes.Clone(k))
				if len(visited) == stopAt+1 {
					return fmt.Errorf("at %q: %w", k, errStop)
				}
				return nil
			})
			if !errors.Is(err, errStop) {
				t.Errorf("stopping at key %d: Scan returned %v, want fn's error", stopAt, err)
			}
			if len(visited) != stopAt+1 {
				t.Errorf("stopping at key %d: fn called %d times, want %d (no call after the error)", stopAt, len(visited), stopAt+1)
			}
			for i, k := range visited {
				if i < len(entries) && !bytes.Equal(k, entries[i].Key) {
					t.Errorf("stopping at key %d: visit %d was %q, want %q", stopAt, i, k, entries[i].Key)
				}
			}
		}
		// The store stays usable after a stopped scan.
		mustSet(t, s, []byte("k05"), []byte("new"))
		mustDelete(t, s, []byte("k00"))
		expectGet(t, s, []byte("k05"), []byte("new"))
		want := cloneKVs(entries[1:])
		want[4].Value = []byte("new")
		expectScan(t, s, nil, nil, want)
	})
}

func testBinaryKeys(t *testing.T, open Opener) {
	var entries []KV
	for c := range 256 {
		entries = append(entries, KV{[]byte{byte(c)}, []byte{byte(c), 0, 0xff}})
	}
	for _, k := range []string{
		"\x00\x00", "\x00\xff", "\xff\x00", "\xff\xff", "\xff\xff\xff\xff",
		"k\x00", "k\x00\x00", "k\x00\x01", "k\x00\xff", "k\xff", "k\xff\x00",
	} {
		entries = append(entries, KV{[]byte(k), append([]byte("v"), k...)})
	}
	want := sortedCopy(entries)
	prefixed := func(p string) []KV {
		var out []KV
		for _, e := range want {
			if bytes.HasPrefix(e.Key, []byte(p)) {
				out = append(out, e)
			}
		}
		return out
	}
	inBothLayouts(t, open, entries, func(t *testing.T, s processors.Store) {
		for _, e := range entries {
			expectGet(t, s, e.Key, e.Value)
		}
		for _, p := range []string{"\x00", "\xff", "\xff\xff", "k", "k\x00", "k\xff", "\x7f", "\x80"} {
			expectScan(t, s, []byte(p), processors.PrefixEnd([]byte(p)), prefixed(p))
		}
		for _, k := range []string{"\x00", "\xff\xff", "k\x00"} {
			mustDelete(t, s, []byte(k))
			expectAbsent(t, s, []byte(k))
		}
		expectGet(t, s, []byte("\x00\x00"), []byte("v\x00\x00"))
		expectGet(t, s, []byte("\xff\xff\xff\xff"), []byte("v\xff\xff\xff\xff"))
		expectScan(t, s, []byte("\xff"), nil, kvs("\xff", "\xff\x00\xff", "\xff\x00", "v\xff\x00", "\xff\xff\xff\xff", "v\xff\xff\xff\xff"))
		expectScan(t, s, nil, []byte("\x01"), kvs("\x00\x00", "v\x00\x00", "\x00\xff", "v\x00\xff"))
	})
}

// testManyKeys: thousands of binary keys, half prior and half written, then
// changed at random, compared with a model after every scan.
func testManyKeys(t *testing.T, open Opener) {
	rng := newRand(2)
	keys := distinctKeys(rng, 5000, 1, 24, fullAlphabet)
	m := model{}
	var prior []KV
	for i, k := range keys {
		v := randValue(rng)
		m[string(k)] = v
		if i%2 == 0 {
			prior = append(prior, KV{k, v})
		}
	}
	s := open(t, prior)
	for i, k := range keys {
		if i%2 == 1 {
			mustSet(t, s, k, m[string(k)])
		}
	}
	m.check(t, s, nil, nil)
	runRandomOps(t, rng, s, m, keys, 1500, fullAlphabet)
	m.check(t, s, nil, nil)
}

// testRandomOperations: random sets, deletes, gets and scans over keys from
// a small alphabet, so prefixes, extensions and 0x00/0xff neighbours are
// the common case, each compared with a model.
func testRandomOperations(t *testing.T, open Opener) {
	for seed := uint64(10); seed < 14; seed++ {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			rng := newRand(seed)
			keys := distinctKeys(rng, 150, 1, 4, edgeAlphabet)
			m := model{}
			var prior []KV
			for _, k := range keys[:50] {
				v := randValue(rng)
				m[string(k)] = v
				prior = append(prior, KV{k, v})
			}
			s := open(t, prior)
			runRandomOps(t, rng, s, m, keys, 3000, edgeAlphabet)
			m.check(t, s, nil, nil)
		})
	}
}
