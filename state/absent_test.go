package state

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// The absent filter is an optimisation only: every read through a store
// that has one must answer exactly what the same store without one
// answers, through batches, commits, replays, drops and reopening (which
// rebuilds the filter from disk). Keys are drawn from a small space so
// that most reads hit something, including keys written only in the open
// batch, deleted keys, and keys of other partitions.
func TestAbsentFilterNeverChangesAnAnswer(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			fsA, fsB := vfs.NewMem(), vfs.NewMem()
			open := func() (*Store, *Store) {
				a, err := Open("db", Options{FS: fsA, AbsentPrefix: []byte{'t'}})
				if err != nil {
					t.Fatal(err)
				}
				b, err := Open("db", Options{FS: fsB})
				if err != nil {
					t.Fatal(err)
				}
				return a, b
			}
			filtered, plain := open()
			key := func() []byte {
				tag := []byte{'t', 'r'}[rng.IntN(2)]
				return append([]byte{tag}, fmt.Sprintf("k%d", rng.IntN(60))...)
			}
			var off int64
			for step := 0; step < 300; step++ {
				part := int32(rng.IntN(3))
				switch op := rng.IntN(10); {
				case op < 6: // a batch: writes, reads of its own view, commit or discard
					ba, bb := filtered.NewBatch(part), plain.NewBatch(part)
					for i := 0; i < 1+rng.IntN(6); i++ {
						k := key()
						if rng.IntN(4) == 0 {
							must(t, ba.Delete(k))
							must(t, bb.Delete(k))
						} else {
							v := []byte(fmt.Sprint(step, i))
							must(t, ba.Set(k, v))
							must(t, bb.Set(k, v))
						}
						k2 := key()
						same(t, "batch get "+string(k2), ba.Get, bb.Get, k2)
					}
					if rng.IntN(5) == 0 {
						ba.Discard()
						bb.Discard()
						continue
					}
					off++
					must(t, ba.Commit(off))
					must(t, bb.Commit(off))
				case op < 8: // a replay from the changelog
					var muts []Mutation
					for i := 0; i < 1+rng.IntN(5); i++ {
						var v []byte
						if rng.IntN(4) != 0 {
							v = []byte(fmt.Sprint("r", step, i))
						}
						muts = append(muts, Mutation{Key: key(), Value: v})
					}
					off++
					must(t, filtered.Replay(part, muts, off))
					must(t, plain.Replay(part, muts, off))
				case op < 9:
					must(t, filtered.Drop(part))
					must(t, plain.Drop(part))
				default:
					must(t, filtered.Close())
					must(t, plain.Close())
					filtered, plain = open()
				}
				for i := 0; i < 10; i++ {
					k := key()
					p := int32(rng.IntN(3))
					same(t, fmt.Sprintf("partition %d get %s", p, k), filtered.Partition(p).Get, plain.Partition(p).Get, k)
				}
			}
			filtered.Close()
			plain.Close()
		})
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func same(t *testing.T, what string, a, b func([]byte) ([]byte, bool, error), k []byte) {
	t.Helper()
	va, oka, erra := a(k)
	vb, okb, errb := b(k)
	if erra != nil || errb != nil || oka != okb || !bytes.Equal(va, vb) {
		t.Fatalf("%s: with the filter (%q, %v, %v), without (%q, %v, %v)", what, va, oka, erra, vb, okb, errb)
	}
}

// A filter that said "absent" for a written key would make the store lie;
// one that says "maybe" for unwritten keys only costs reads. Check the
// layers grow and keep every added key.
func TestAbsentFilterKeepsEveryKeyAcrossLayers(t *testing.T) {
	f := newAbsentFilter([]byte{'t'}, 0)
	f.grow(1000) // a small layer so that adding overflows it
	var keys [][]byte
	for i := 0; i < 20000; i++ {
		k := []byte(fmt.Sprintf("Pxxxxt%d", i))
		keys = append(keys, k)
		f.add(k)
	}
	if len(f.layers) < 3 {
		t.Fatalf("%d layers after 20000 keys with a 1000-key layer: the filter did not grow", len(f.layers))
	}
	for _, k := range keys {
		if !f.mayContain(k) {
			t.Fatalf("%s was added but the filter says absent", k)
		}
	}
	misses := 0
	for i := 0; i < 10000; i++ {
		if !f.mayContain([]byte(fmt.Sprintf("Pxxxxt-other-%d", i))) {
			misses++
		}
	}
	if misses < 9000 {
		t.Fatalf("only %d of 10000 unwritten keys answered absent: the filter saves nothing", misses)
	}
}
