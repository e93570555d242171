package state

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestBatchViewMatchesAModel: over random committed keys, a batch's random
// sets, overwrites and deletes (of committed keys, of its own, of keys that
// never were) read back, by Get and by Scan over random bounds, exactly as
// a map of the committed keys with the batch's writes applied; a Scan that
// stops early has seen a prefix of that. After Commit the store reads the
// same.
//
// Half the seeds write a few keys, half many, with scans between the
// writes: the batch sorts its keys as it grows, and a scan in between sees
// keys both sorted and not yet.
func TestBatchViewMatchesAModel(t *testing.T) {
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 7))
		nKeys, ops := 40, 60
		if seed%2 == 1 {
			nKeys, ops = 400, 1500
		}
		keys := make([]string, nKeys)
		for i := range keys {
			keys[i] = fmt.Sprintf("k%03d", i)
		}
		keys = append(keys, "", "k", "k005x") // the empty key and keys between others
		randomScan := func(what string, b *Batch, model map[string]string) {
			t.Helper()
			lo, hi := keys[rng.IntN(len(keys))], keys[rng.IntN(len(keys))]
			var hiB []byte
			if rng.IntN(4) > 0 {
				hiB = []byte(hi)
			}
			wantScan(t, fmt.Sprintf("seed %d %s [%q, %q)", seed, what, lo, hiB), scanAll(t, b, []byte(lo), hiB), inRange(model, lo, hiB))
		}
		s := openMem(t)
		model := map[string]string{}
		var sets []kv
		for _, k := range keys {
			if rng.IntN(2) == 0 {
				v := fmt.Sprintf("committed %s", k)
				sets = append(sets, kv{k, v})
				model[k] = v
			}
		}
		commit(t, s, 2, 1, sets)
		commit(t, s, 3, 1, []kv{{"k010", "other partition"}}) // never in partition 2's view

		b := s.NewBatch(2)
		for op := range ops {
			if op%25 == 24 {
				randomScan(fmt.Sprintf("after %d writes", op), b, model)
			}
			k := keys[rng.IntN(len(keys))]
			if rng.IntN(3) == 0 {
				if err := b.Delete([]byte(k)); err != nil {
					t.Fatal(err)
				}
				delete(model, k)
			} else {
				v := fmt.Sprintf("write %d of %s", op, k)
				if err := b.Set([]byte(k), []byte(v)); err != nil {
					t.Fatal(err)
				}
				model[k] = v
			}
		}
		for _, k := range keys {
			var want *string
			if v, ok := model[k]; ok {
				want = &v
			}
			wantGet(t, fmt.Sprintf("seed %d", seed), b, k, want)
		}
		for range 20 {
			randomScan("after the writes", b, model)
		}
		// A scan stopped after n keys has seen the first n.
		full := inRange(model, "", nil)
		if n := len(full) / 2; n > 0 {
			stop := errors.New("stop")
			var got []kv
			err := b.Scan(nil, nil, func(k, v []byte) error {
				got = append(got, kv{string(k), string(v)})
				if len(got) == n {
					return stop
				}
				return nil
			})
			if !errors.Is(err, stop) {
				t.Fatalf("seed %d: a scan stopped by its callback returned %v", seed, err)
			}
			wantScan(t, fmt.Sprintf("seed %d stopped scan", seed), got, full[:n])
		}
		if err := b.Commit(2); err != nil {
			t.Fatal(err)
		}
		wantScan(t, fmt.Sprintf("seed %d after commit", seed), scanAll(t, s.Partition(2), nil, nil), full)
		wantScan(t, fmt.Sprintf("seed %d other partition", seed), scanAll(t, s.Partition(3), nil, nil), []kv{{"k010", "other partition"}})
		wantOffset(t, s, 2, 2)
	}
}

// inRange is model's keys in [lo, hi) (hi nil: no upper bound), sorted.
func inRange(model map[string]string, lo string, hi []byte) []kv {
	var out []kv
	for _, k := range slices.Sorted(maps.Keys(model)) {
		if strings.Compare(k, lo) >= 0 && (hi == nil || strings.Compare(k, string(hi)) < 0) {
			out = append(out, kv{k, model[k]})
		}
	}
	return out
}
