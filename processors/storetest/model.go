package storetest

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/invsync/invsync/processors"
)

// model is what a store must hold: key -> value.
type model map[string][]byte

// scan is the model's answer to Scan(lo, hi), under the contract's rules
// for nil and empty bounds.
func (m model) scan(lo, hi []byte) []KV {
	var out []KV
	for k, v := range m {
		kb := []byte(k)
		if bytes.Compare(kb, lo) < 0 || hi != nil && bytes.Compare(kb, hi) >= 0 {
			continue
		}
		out = append(out, KV{kb, v})
	}
	slices.SortFunc(out, func(a, b KV) int { return bytes.Compare(a.Key, b.Key) })
	return out
}

// check fails the test at once unless Scan(lo, hi) agrees with the model.
func (m model) check(t testing.TB, s processors.Store, lo, hi []byte) {
	t.Helper()
	got, want := scanAll(t, s, lo, hi), m.scan(lo, hi)
	if !equalKVs(got, want) {
		t.Fatalf("Scan(%s, %s): %d entries\n  %s\nthe model holds %d\n  %s",
			fmtBound(lo), fmtBound(hi), len(got), fmtKVs(got), len(want), fmtKVs(want))
	}
}

// runRandomOps applies n random operations to s and m alike: sets of new
// and existing keys (empty values included), deletes of present and absent
// keys, gets, and scans with random bounds, failing at the first
// disagreement.
func runRandomOps(t testing.TB, rng *rand.Rand, s processors.Store, m model, keys [][]byte, n int, alphabet []byte) {
	t.Helper()
	key := func() []byte {
		if rng.IntN(8) == 0 {
			return randKey(rng, 1, 6, alphabet) // likely absent
		}
		return keys[rng.IntN(len(keys))]
	}
	for i := range n {
		switch r := rng.IntN(100); {
		case r < 35:
			k, v := key(), randValue(rng)
			mustSet(t, s, k, v)
			m[string(k)] = v
		case r < 55:
			k := key()
			mustDelete(t, s, k)
			delete(m, string(k))
		case r < 85:
			k := key()
			v, ok := mustGet(t, s, k)
			want, present := m[string(k)]
			if ok != present || !bytes.Equal(v, want) || !ok && v != nil {
				t.Fatalf("operation %d: Get(%q) = %q, %v; the model holds %q, %v", i, k, v, ok, want, present)
			}
		default:
			lo, hi := randBound(rng, keys, alphabet), randBound(rng, keys, alphabet)
			if rng.IntN(4) == 0 {
				hi = nil
			}
			m.check(t, s, lo, hi)
		}
	}
}

// randBound is a scan bound: nil, empty, a key, a key's neighbour or
// extension, a random key, or a prefix end.
func randBound(rng *rand.Rand, keys [][]byte, alphabet []byte) []byte {
	k := keys[rng.IntN(len(keys))]
	switch rng.IntN(8) {
	case 0:
		return nil
	case 1:
		return []byte{}
	case 2:
		return append(bytes.Clone(k), 0)
	case 3:
		return k[:rng.IntN(len(k)+1)]
	case 4:
		return processors.PrefixEnd(k)
	case 5:
		return randKey(rng, 1, 6, alphabet)
	default:
		return bytes.Clone(k)
	}
}

// Key alphabets: every byte, or the bytes where key order has its edges.
var (
	fullAlphabet []byte // nil: any byte
	edgeAlphabet = []byte{0x00, 0x01, 'a', 'b', 0x7f, 0x80, 0xfe, 0xff}
)

func randKey(rng *rand.Rand, minLen, maxLen int, alphabet []byte) []byte {
	k := make([]byte, minLen+rng.IntN(maxLen-minLen+1))
	for i := range k {
		if alphabet == nil {
			k[i] = byte(rng.UintN(256))
		} else {
			k[i] = alphabet[rng.IntN(len(alphabet))]
		}
	}
	return k
}

// distinctKeys returns n distinct random keys.
func distinctKeys(rng *rand.Rand, n, minLen, maxLen int, alphabet []byte) [][]byte {
	seen := map[string]bool{}
	out := make([][]byte, 0, n)
	for len(out) < n {
		k := randKey(rng, minLen, maxLen, alphabet)
		if !seen[string(k)] {
			seen[string(k)] = true
			out = append(out, k)
		}
	}
	return out
}

// randValue is a random value of 0 to 64 bytes, empty one time in eight.
func randValue(rng *rand.Rand) []byte {
	if rng.IntN(8) == 0 {
		return []byte{}
	}
	v := make([]byte, 1+rng.IntN(64))
	for i := range v {
		v[i] = byte(rng.UintN(256))
	}
	return v
}

// newRand is the suite's random source: fixed seeds, so a failure replays.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x73746f7265)) }
