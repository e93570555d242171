package processors

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/invsync/invsync/state"
)

// raceDetector is set when the tests are built with -race (race_test.go).
var raceDetector bool

// pebbleHistories scales a property test's number of histories for its
// Pebble runs: each opens a Pebble store, and -race slows Pebble down ten
// times.
func pebbleHistories(n int) int {
	if raceDetector {
		return n / 4
	}
	return n
}

// runStore is the state one property run applies its transactions to.
type runStore interface {
	Store
	// boundary is called after each transaction: where the pipeline may
	// commit its batch and start the next one.
	boundary(t testing.TB)
	// release frees the store at the end of the run.
	release(t testing.TB)
	// written is the number of keys written since the last commit (what
	// the changelog would carry), or -1 when the store does not know.
	written() int
}

// propertyStores are the stores the property tests run on: the tests'
// in-memory store, and Pebble batches (state.Batch, what production
// writes) committed at random transaction boundaries, so reads merge a
// batch's own writes with committed state as they do in production.
var propertyStores = []struct {
	name string
	// open returns a new, empty runStore; rng decides the commit points.
	open func(t testing.TB, rng *rand.Rand) runStore
}{
	{"memstore", func(testing.TB, *rand.Rand) runStore { return memRun{newMemStore()} }},
	{"pebble", openPebbleRun},
}

type memRun struct{ *memStore }

func (memRun) boundary(testing.TB) {}
func (memRun) release(testing.TB)  {}
func (memRun) written() int        { return -1 }

// pebbleRun is one partition of a Pebble store on an in-memory file
// system, written through one batch at a time.
type pebbleRun struct {
	s    *state.Store
	b    *state.Batch
	rng  *rand.Rand
	next int64 // the changelog offset of the next commit
}

const pebbleRunPartition = 3

func openPebbleRun(t testing.TB, rng *rand.Rand) runStore {
	t.Helper()
	s, err := state.Open("db", state.Options{FS: vfs.NewMem(), CacheBytes: 1 << 20, AbsentPrefix: OutcomePrefix()})
	if err != nil {
		t.Fatal(err)
	}
	r := &pebbleRun{s: s, b: s.NewBatch(pebbleRunPartition), rng: rng}
	t.Cleanup(func() { r.release(t) }) // when the run ends early
	return r
}

// release discards the open batch and closes the store; it may be called
// more than once.
func (r *pebbleRun) release(t testing.TB) {
	r.b.Discard()
	if err := r.s.Close(); err != nil {
		t.Errorf("closing the state store: %v", err)
	}
}

func (r *pebbleRun) Get(key []byte) ([]byte, bool, error) { return r.b.Get(key) }
func (r *pebbleRun) Set(key, value []byte) error          { return r.b.Set(key, value) }
func (r *pebbleRun) Delete(key []byte) error              { return r.b.Delete(key) }
func (r *pebbleRun) Scan(lo, hi []byte, fn func(k, v []byte) error) error {
	return r.b.Scan(lo, hi, fn)
}

func (r *pebbleRun) written() int { return len(r.b.Mutations()) }

// boundary commits the batch one time in three.
func (r *pebbleRun) boundary(t testing.TB) {
	t.Helper()
	if r.rng.IntN(3) == 0 {
		r.commit(t)
	}
}

// commit commits the batch and starts the next one.
func (r *pebbleRun) commit(t testing.TB) {
	t.Helper()
	r.next++
	if err := r.b.Commit(r.next); err != nil {
		t.Fatalf("committing the batch: %v", err)
	}
	r.b = r.s.NewBatch(pebbleRunPartition)
}

// dumpStore renders every key and value of s, one per line, for comparing
// whole states of any Store.
func dumpStore(t testing.TB, s Reader) string {
	t.Helper()
	var b strings.Builder
	if err := s.Scan(nil, nil, func(k, v []byte) error {
		fmt.Fprintf(&b, "%q = %x\n", k, v)
		return nil
	}); err != nil {
		t.Fatalf("scanning the store: %v", err)
	}
	return b.String()
}
