package state

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestHotCacheAgreesWithPebble runs the same random commits, replays,
// drops and discarded batches on a store with the hot cache (tiny, so it
// evicts all the time) and one without, and compares every read, through
// batches and readers, along the way.
func TestHotCacheAgreesWithPebble(t *testing.T) {
	for _, capacity := range []int64{hotShards * 300, 64 << 20} {
		t.Run(fmt.Sprint(capacity), func(t *testing.T) {
			hot, err := Open("hot", Options{FS: vfs.NewMem(), HotPrefix: []byte("r"), HotBytes: capacity})
			if err != nil {
				t.Fatal(err)
			}
			defer hot.Close()
			plain := openMem(t)
			rng := rand.New(rand.NewPCG(1, uint64(capacity)))
			key := func() []byte { return []byte(fmt.Sprintf("%c%d", "rrrx"[rng.IntN(4)], rng.IntN(40))) }
			check := func(step int, p int32, k []byte) {
				t.Helper()
				for _, read := range []func(*Store) ([]byte, bool, error){
					func(s *Store) ([]byte, bool, error) { return s.Partition(p).Get(k) },
					func(s *Store) ([]byte, bool, error) { b := s.NewBatch(p); defer b.Discard(); return b.Get(k) },
				} {
					hv, hok, herr := read(hot)
					pv, pok, perr := read(plain)
					if herr != nil || perr != nil || hok != pok || string(hv) != string(pv) {
						t.Fatalf("step %d, partition %d key %s: cached %q %v %v, Pebble %q %v %v", step, p, k, hv, hok, herr, pv, pok, perr)
					}
				}
			}
			offsets := map[int32]int64{}
			for step := range 4000 {
				p := int32(rng.IntN(3))
				switch op := rng.IntN(20); {
				case op < 12: // a batch that reads, writes, and commits or is discarded
					hb, pb := hot.NewBatch(p), plain.NewBatch(p)
					for range rng.IntN(6) + 1 {
						k := key()
						check(step, p, k)
						if rng.IntN(5) == 0 {
							if err := hb.Delete(k); err != nil {
								t.Fatal(err)
							}
							_ = pb.Delete(k)
						} else {
							v := []byte(fmt.Sprint(step, rng.Uint32()))
							if err := hb.Set(k, v); err != nil {
								t.Fatal(err)
							}
							_ = pb.Set(k, v)
						}
					}
					if rng.IntN(4) == 0 {
						hb.Discard()
						pb.Discard()
						break
					}
					offsets[p]++
					if err := hb.Commit(offsets[p]); err != nil {
						t.Fatal(err)
					}
					if err := pb.Commit(offsets[p]); err != nil {
						t.Fatal(err)
					}
				case op < 16: // a replayed changelog
					var muts []Mutation
					for range rng.IntN(5) + 1 {
						m := Mutation{Key: key()}
						if rng.IntN(4) != 0 {
							m.Value = []byte(fmt.Sprint("replayed", step))
						}
						muts = append(muts, m)
					}
					offsets[p]++
					if err := hot.Replay(p, muts, offsets[p]); err != nil {
						t.Fatal(err)
					}
					if err := plain.Replay(p, muts, offsets[p]); err != nil {
						t.Fatal(err)
					}
				case op < 17: // a partition rebuilt
					if err := hot.Drop(p); err != nil {
						t.Fatal(err)
					}
					if err := plain.Drop(p); err != nil {
						t.Fatal(err)
					}
					offsets[p] = 0
				default:
					check(step, p, key())
				}
			}
			for p := range int32(3) {
				for i := range 40 {
					check(-1, p, []byte(fmt.Sprint("r", i)))
				}
			}
		})
	}
}

// TestHotCacheNeverKeepsAnOverwrittenValue: readers that miss fill the
// cache while commits overwrite the same key; once the commits are done,
// every read sees the last one.
func TestHotCacheNeverKeepsAnOverwrittenValue(t *testing.T) {
	s, err := Open("hot", Options{FS: vfs.NewMem(), HotPrefix: []byte("r")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const writes = 2000
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, _, err := s.Partition(0).Get([]byte("r1")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for i := range writes {
		b := s.NewBatch(0)
		if err := b.Set([]byte("r1"), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(int64(i + 1)); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			// a drop and rebuild in between, the other way a value goes
			if err := s.Drop(0); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
	want := fmt.Sprint(writes - 1)
	for range 3 {
		v, ok, err := s.Partition(0).Get([]byte("r1"))
		if err != nil || !ok || string(v) != want {
			t.Fatalf("after the writes: %q %v %v, want %q", v, ok, err, want)
		}
	}
	if _, ok, _ := s.hot.get(0, partKey(0, []byte("r1"))); !ok {
		t.Error("the key read over and over is not in the cache: the cache is never used")
	}
}

// TestHotCacheFillLosesToACommit: a read that missed and read the old
// value from Pebble, and a commit of a new value lands before it fills the
// cache: the old value must not be cached.
func TestHotCacheFillLosesToACommit(t *testing.T) {
	s, err := Open("hot", Options{FS: vfs.NewMem(), HotPrefix: []byte("r")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	set := func(v string, off int64) {
		b := s.NewBatch(0)
		if err := b.Set([]byte("r1"), []byte(v)); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(off); err != nil {
			t.Fatal(err)
		}
	}
	for _, between := range []struct {
		name  string
		write func()
	}{
		{"commit", func() { set("new", 2) }},
		{"drop", func() {
			if err := s.Drop(0); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(between.name, func(t *testing.T) {
			set("old", 1)
			s.hot.drop(0) // start from a miss
			read, release := make(chan struct{}), make(chan struct{})
			afterHotMiss = func() { close(read); <-release }
			defer func() { afterHotMiss = nil }()
			got := make(chan string)
			go func() {
				v, _, _ := s.Partition(0).Get([]byte("r1"))
				got <- string(v)
			}()
			<-read
			afterHotMiss = nil
			between.write()
			close(release)
			if v := <-got; v != "old" {
				t.Fatalf("the racing read returned %q, want the value it read, old", v)
			}
			v, ok, err := s.Partition(0).Get([]byte("r1"))
			want, wantOK := "new", true
			if between.name == "drop" {
				want, wantOK = "", false
			}
			if err != nil || ok != wantOK || string(v) != want {
				t.Fatalf("after the %s: %q %v %v, want %q %v", between.name, v, ok, err, want, wantOK)
			}
		})
	}
}
