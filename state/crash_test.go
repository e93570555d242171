package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// The crash tests run a seeded random workload on a store over a crashable
// MemFS and, at many points, take a CrashClone (the file system as a power
// cut would leave it: what was synced plus a random part of what was not),
// open a store on it and compare what it holds with a model of what was
// committed. Crash points come two ways:
//
//   - between operations, from the workload goroutine; the recovered store is
//     compared with the model exactly (Sync) or with the commit history
//     (no Sync);
//   - concurrently, from a second goroutine, so that crashes also land in the
//     middle of a Commit, Replay, Drop or flush; such a crash may or may not
//     keep the operation in flight, but never part of it.
//
// A seed reproduces the workload and the crash decisions; it cannot
// reproduce Pebble's background timing, hence which unsynced bytes exist at a
// given point, nor where the concurrent crashes land.

// storeDump is everything a store holds, read straight from Pebble: the data
// of each partition that has any, and each recorded offset.
type storeDump struct {
	parts map[int32]map[string]string
	offs  map[int32]int64
}

func (d storeDump) String() string {
	var buf bytes.Buffer
	for _, p := range slices.Sorted(mapKeys(d.partitions())) {
		fmt.Fprintf(&buf, "\n  p%d@%d:", p, d.offs[p])
		for _, k := range slices.Sorted(mapKeys(d.parts[p])) {
			v := d.parts[p][k]
			if len(v) > 12 {
				v = fmt.Sprintf("%.12s…(%d bytes)", v, len(v))
			}
			fmt.Fprintf(&buf, " %q=%q", k, v)
		}
	}
	return buf.String()
}

// partitions is the set of partitions with data or an offset.
func (d storeDump) partitions() map[int32]bool {
	ps := map[int32]bool{}
	for p := range d.parts {
		ps[p] = true
	}
	for p := range d.offs {
		ps[p] = true
	}
	return ps
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// readStore reads every key in the database and fails on any key that is
// neither partition data nor an offset.
func readStore(s *Store) (storeDump, error) {
	d := storeDump{parts: map[int32]map[string]string{}, offs: map[int32]int64{}}
	it, err := s.db.NewIter(nil)
	if err != nil {
		return d, err
	}
	for valid := it.First(); valid; valid = it.Next() {
		k := it.Key()
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return d, err
		}
		switch {
		case len(k) >= 5 && k[0] == partPrefix:
			p := int32(binary.BigEndian.Uint32(k[1:5]))
			if d.parts[p] == nil {
				d.parts[p] = map[string]string{}
			}
			d.parts[p][string(k[5:])] = string(v)
		case len(k) == 8 && k[0] == metaPrefix && string(k[1:4]) == "off" && len(v) == 8:
			d.offs[int32(binary.BigEndian.Uint32(k[4:]))] = int64(binary.BigEndian.Uint64(v))
		default:
			it.Close()
			return d, fmt.Errorf("unexpected key %q = %q in store", k, v)
		}
	}
	return d, it.Close()
}

func dumpStore(t testing.TB, s *Store) storeDump {
	t.Helper()
	d, err := readStore(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// diffDumps describes how got differs from want, partition by partition.
func diffDumps(got, want storeDump) string {
	var buf bytes.Buffer
	ps := got.partitions()
	for p := range want.partitions() {
		ps[p] = true
	}
	for _, p := range slices.Sorted(mapKeys(ps)) {
		if got.offs[p] != want.offs[p] {
			fmt.Fprintf(&buf, "\n  p%d offset %d, want %d", p, got.offs[p], want.offs[p])
		}
		g, w := got.parts[p], want.parts[p]
		for _, k := range slices.Sorted(mapKeys(g)) {
			if wv, ok := w[k]; !ok {
				fmt.Fprintf(&buf, "\n  p%d %q present, want absent", p, k)
			} else if wv != g[k] {
				fmt.Fprintf(&buf, "\n  p%d %q = %d bytes %.16q, want %d bytes %.16q", p, k, len(g[k]), g[k], len(wv), wv)
			}
		}
		for _, k := range slices.Sorted(mapKeys(w)) {
			if _, ok := g[k]; !ok {
				fmt.Fprintf(&buf, "\n  p%d %q absent, want present", p, k)
			}
		}
	}
	return buf.String()
}

// crashModel is the fold of every commit that returned nil, and the history
// of commit points it went through.
type crashModel struct {
	// cur and partFP belong to the workload goroutine.
	cur storeDump
	// partFP[p] is the fingerprint of partition p's current data.
	partFP map[int32]uint64

	mu sync.Mutex // guards what follows, read by the concurrent crasher
	// history[i] is the fingerprint of the whole state after commit point
	// i; history[0] is the empty store.
	history []uint64
	// partAt[p][off] is the fingerprint of partition p's data when its
	// offset was off. Offsets only grow (across drops too), so each offset
	// names one state of its partition, except 0: never written or dropped,
	// and empty either way.
	partAt map[int32]map[int64]uint64
	// durable is the last commit point that must survive any crash: with
	// Sync every returned one, otherwise the last Drop (always synced) or
	// the point before the last Flush.
	durable int
	// inflight is the last commit point the store may have written: the one
	// the operation in progress would make, or else the last one.
	inflight int
}

func newCrashModel() *crashModel {
	m := &crashModel{
		cur:    storeDump{parts: map[int32]map[string]string{}, offs: map[int32]int64{}},
		partFP: map[int32]uint64{},
		partAt: map[int32]map[int64]uint64{},
	}
	m.history = []uint64{m.fingerprint()}
	return m
}

func fpPartition(data map[string]string) uint64 {
	h := fnv.New64a()
	var n [8]byte
	for _, k := range slices.Sorted(mapKeys(data)) {
		v := data[k]
		binary.BigEndian.PutUint64(n[:], uint64(len(k)))
		h.Write(n[:])
		h.Write([]byte(k))
		binary.BigEndian.PutUint64(n[:], uint64(len(v)))
		h.Write(n[:])
		h.Write([]byte(v))
	}
	return h.Sum64()
}

var emptyPartFP = fpPartition(nil)

// fingerprint hashes the current state from the per-partition fingerprints.
func (m *crashModel) fingerprint() uint64 {
	h := fnv.New64a()
	var n [8]byte
	for _, p := range slices.Sorted(mapKeys(m.cur.partitions())) {
		binary.BigEndian.PutUint32(n[:4], uint32(p))
		h.Write(n[:4])
		binary.BigEndian.PutUint64(n[:], uint64(m.cur.offs[p]))
		h.Write(n[:])
		fp, ok := m.partFP[p]
		if !ok {
			fp = emptyPartFP
		}
		binary.BigEndian.PutUint64(n[:], fp)
		h.Write(n[:])
	}
	return h.Sum64()
}

func fingerprintDump(d storeDump) uint64 {
	m := &crashModel{cur: d, partFP: map[int32]uint64{}}
	for p, data := range d.parts {
		m.partFP[p] = fpPartition(data)
	}
	return m.fingerprint()
}

// begin announces an operation that makes the next commit point.
func (m *crashModel) begin() {
	m.mu.Lock()
	m.inflight = len(m.history)
	m.mu.Unlock()
}

// apply folds mutations of partition p committed at offset off into the
// model and records the new commit point.
func (m *crashModel) apply(p int32, muts []Mutation, off int64, durable bool) {
	data := m.cur.parts[p]
	if data == nil {
		data = map[string]string{}
		m.cur.parts[p] = data
	}
	for _, mu := range muts {
		if mu.Value == nil {
			delete(data, string(mu.Key))
		} else {
			data[string(mu.Key)] = string(mu.Value)
		}
	}
	if len(data) == 0 {
		delete(m.cur.parts, p)
	}
	m.cur.offs[p] = off
	m.partFP[p] = fpPartition(data)

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.partAt[p] == nil {
		m.partAt[p] = map[int64]uint64{0: emptyPartFP}
	}
	m.partAt[p][off] = m.partFP[p]
	m.point(durable)
}

func (m *crashModel) drop(p int32) {
	delete(m.cur.parts, p)
	delete(m.cur.offs, p)
	delete(m.partFP, p)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.point(true) // Drop always syncs
}

// flushed records that everything committed so far is on disk.
func (m *crashModel) flushed() {
	m.mu.Lock()
	m.durable = len(m.history) - 1
	m.mu.Unlock()
}

func (m *crashModel) point(durable bool) {
	m.history = append(m.history, m.fingerprint())
	m.inflight = len(m.history) - 1
	if durable {
		m.durable = m.inflight
	}
}

// bounds returns the commit points a crash taken now may recover: from lo,
// the last durable one, to hi, the last the store may have written.
func (m *crashModel) bounds() (lo, hi int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.durable, m.inflight
}

// checkRecovered checks a recovered store against commit points lo..hi,
// waiting, if need be, for the workload to record point hi. It returns the
// commit point matched. Per partition first, for a precise message, then as
// a whole.
func (m *crashModel) checkRecovered(got storeDump, lo, hi int, stop <-chan struct{}) (int, error) {
	for {
		m.mu.Lock()
		n := len(m.history)
		m.mu.Unlock()
		if n > hi {
			break
		}
		select {
		case <-stop:
			return hi, nil // the workload failed mid-operation
		case <-time.After(50 * time.Microsecond):
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for p := range got.parts {
		if _, ok := got.offs[p]; !ok {
			return 0, fmt.Errorf("partition %d has data but no offset:%s", p, got)
		}
	}
	for p, off := range got.offs {
		want, ok := m.partAt[p][off]
		if !ok {
			return 0, fmt.Errorf("partition %d recovered at offset %d, which no commit made:%s", p, off, got)
		}
		if fpPartition(got.parts[p]) != want {
			return 0, fmt.Errorf("partition %d's data is not its state at the offset it records, %d:%s", p, off, got)
		}
	}
	fp := fingerprintDump(got)
	for i := hi; i >= 0; i-- {
		if m.history[i] != fp {
			continue
		}
		if i < lo {
			return 0, fmt.Errorf("recovered commit point %d, but point %d was durable (synced)", i, lo)
		}
		return i, nil
	}
	return 0, fmt.Errorf("recovered state is no commit point in 0..%d (a mix of commit points, or a part of one):%s", hi, got)
}

// crashConfig sizes the crash test.
type crashConfig struct {
	seeds       []uint64
	crashPoints int // per seed, between operations; as many again concurrently
}

const crashSeedEnv = "STATE_CRASH_SEED"

func crashTestConfig(t *testing.T) crashConfig {
	c := crashConfig{crashPoints: 200}
	n := 12
	if testing.Short() {
		c.crashPoints, n = 25, 2
	}
	if s := os.Getenv(crashSeedEnv); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", crashSeedEnv, s, err)
		}
		c.seeds = []uint64{seed}
		return c
	}
	base := uint64(time.Now().UnixNano())
	for i := range n {
		c.seeds = append(c.seeds, base+uint64(i))
	}
	return c
}

// TestCrashConsistencySync crashes a store opened with Sync: true at
// thousands of random points and checks that the recovered store holds
// exactly what every returned commit put there (plus, for a crash during an
// operation, all or nothing of that operation).
func TestCrashConsistencySync(t *testing.T) {
	runCrashTest(t, true)
}

// TestCrashConsistencyNoSync does the same with Sync: false, where a crash may
// lose recent commits: the recovered store must be the state after some
// commit point no earlier than the last synced one, never a mix of points or
// part of a batch, and each partition's data must be what it was at the
// offset the partition records.
func TestCrashConsistencyNoSync(t *testing.T) {
	runCrashTest(t, false)
}

func runCrashTest(t *testing.T, syncCommits bool) {
	c := crashTestConfig(t)
	start := time.Now()
	var st crashStats
	for _, seed := range c.seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			defer func() {
				if t.Failed() {
					t.Logf("reproduce with %s=%d go test -run '%s' ./state/", crashSeedEnv, seed, t.Name())
				}
			}()
			crashWorkload(t, seed, c.crashPoints, syncCommits, &st)
		})
	}
	t.Logf("%d crash points (%d between operations, %d concurrent) over %d seeds in %v; "+
		"%d recovered an earlier commit point than the last written (up to %d lost)",
		st.points+st.concurrent, st.points, st.concurrent, len(c.seeds),
		time.Since(start).Round(time.Millisecond), st.lossy, st.maxLost)
}

// crashStats show that a run exercised what it claims to.
type crashStats struct {
	points     int // crash clones checked between operations
	concurrent int // crash clones checked during operations
	lossy      int // of all those, how many recovered an earlier commit point than the last written
	maxLost    int // the most commit points lost in one crash
}

func (st *crashStats) lost(n int) {
	if n > 0 {
		st.lossy++
		st.maxLost = max(st.maxLost, n)
	}
}

const (
	crashParts = 4  // partitions written
	crashKeys  = 48 // distinct keys per partition
)

// reuseInTwoSteps is a crashable MemFS whose ReuseForWrite (WAL recycling)
// is a Rename and then an Open, as on a disk. MemFS's own takes its clone
// lock for reading and then again inside Rename; a CrashClone waiting for
// the lock in between blocks the second and deadlocks both (pebble v2.1.7).
type reuseInTwoSteps struct{ *vfs.MemFS }

func (f reuseInTwoSteps) ReuseForWrite(oldname, newname string, _ vfs.DiskWriteCategory) (vfs.File, error) {
	if err := f.Rename(oldname, newname); err != nil {
		return nil, err
	}
	return f.OpenReadWrite(newname, vfs.WriteCategoryUnspecified)
}

// crashWorkload runs one seeded workload, checking crashPoints crash clones
// between its operations and up to as many during them, and counts them in
// st.
func crashWorkload(t *testing.T, seed uint64, crashPoints int, syncCommits bool, st *crashStats) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	fs := vfs.NewCrashableMem()
	s, err := Open("db", Options{FS: reuseInTwoSteps{fs}, Sync: syncCommits, CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	m := newCrashModel()
	stop := make(chan struct{})
	var crasher crashStats
	var crasherErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		crasherErr = crashConcurrently(fs, m, rand.New(rand.NewPCG(seed, seed)), crashPoints, stop, &crasher)
	})
	defer func() {
		close(stop)
		wg.Wait()
		if crasherErr != nil {
			t.Errorf("seed %d, a crash during an operation: %v", seed, crasherErr)
		}
		st.concurrent += crasher.points
		st.lossy += crasher.lossy
		st.maxLost = max(st.maxLost, crasher.maxLost)
	}()

	nextOff := map[int32]int64{}
	// advance returns partition p's next offset: strictly increasing for
	// the whole test, drops included, so an offset names one state.
	advance := func(p int32) int64 {
		nextOff[p] += 1 + rng.Int64N(5)
		return nextOff[p]
	}
	key := func() []byte {
		i := rng.IntN(crashKeys)
		if i%8 == 7 {
			return []byte{0xff, byte(i), 0x00} // binary keys sort last
		}
		return fmt.Appendf(nil, "sku-%02d", i)
	}
	value := func() []byte {
		var n int
		switch r := rng.IntN(100); {
		case r < 3:
			n = 0
		case r < 95:
			n = 1 + rng.IntN(120)
		default:
			// Large enough to span the clone's 4 KiB blocks; not so
			// large that Pebble's quadratic bit-flip check of a torn
			// WAL chunk dominates the run time.
			n = 500 + rng.IntN(3500)
		}
		v := make([]byte, n)
		for i := range v {
			v[i] = byte('a' + rng.IntN(26))
		}
		return v
	}

	for cp := 0; cp < crashPoints; cp++ {
		for range 1 + rng.IntN(4) {
			switch r := rng.IntN(100); {
			case r < 72:
				crashBatch(t, s, m, rng, int32(rng.IntN(crashParts)), advance, key, value, syncCommits)
			case r < 90:
				p := int32(rng.IntN(crashParts))
				muts := make([]Mutation, 1+rng.IntN(12))
				for i := range muts {
					muts[i].Key = key()
					if rng.IntN(4) > 0 {
						muts[i].Value = value()
					}
				}
				off := advance(p)
				m.begin()
				if err := s.Replay(p, muts, off); err != nil {
					t.Fatalf("Replay: %v", err)
				}
				m.apply(p, muts, off, syncCommits)
				if rng.IntN(4) == 0 { // the same records delivered again
					m.begin()
					if err := s.Replay(p, muts, off); err != nil {
						t.Fatalf("Replay again: %v", err)
					}
					m.apply(p, muts, off, syncCommits)
				}
			case r < 94:
				p := int32(rng.IntN(crashParts))
				m.begin()
				if err := s.Drop(p); err != nil {
					t.Fatalf("Drop: %v", err)
				}
				m.drop(p)
			default:
				// Flushes put the state in sstables, with WAL
				// rotation and, later, compactions.
				if err := s.Flush(); err != nil {
					t.Fatalf("Flush: %v", err)
				}
				m.flushed()
			}
		}
		if got := dumpStore(t, s); !reflect.DeepEqual(got, m.cur) {
			t.Fatalf("seed %d, before crash %d: live store differs from model:%s", seed, cp, diffDumps(got, m.cur))
		}

		cfg := crashCloneCfg(rng)
		lo, hi := m.bounds()
		at := checkCrash(t, fs.CrashClone(cfg), m, lo, hi, syncCommits, rng.IntN(10) == 0,
			fmt.Sprintf("seed %d, crash point %d (%d%% of unsynced data kept)", seed, cp, cfg.UnsyncedDataPercent))
		st.points++
		st.lost(hi - at)
	}
}

// crashCloneCfg picks how much unsynced data a crash keeps: none, all of it
// (data still in Pebble's buffers is lost even then), or a random part.
func crashCloneCfg(rng *rand.Rand) vfs.CrashCloneCfg {
	switch r := rng.IntN(6); {
	case r < 2:
		return vfs.CrashCloneCfg{}
	case r < 3:
		return vfs.CrashCloneCfg{UnsyncedDataPercent: 100, RNG: rng}
	default:
		return vfs.CrashCloneCfg{UnsyncedDataPercent: 1 + rng.IntN(99), RNG: rng}
	}
}

// crashConcurrently takes up to n crash clones of fs at random moments while
// the workload runs, until stop is closed, and checks each against the
// commit points that were durable before it and written by the end of it.
func crashConcurrently(fs *vfs.MemFS, m *crashModel, rng *rand.Rand, n int, stop <-chan struct{}, st *crashStats) error {
	for i := 0; i < n; i++ {
		select {
		case <-stop:
			return nil
		case <-time.After(time.Duration(rng.IntN(2000)) * time.Microsecond):
		}
		cfg := crashCloneCfg(rng)
		lo, _ := m.bounds()
		crashed := fs.CrashClone(cfg)
		_, hi := m.bounds()
		s, err := Open("db", Options{FS: crashed, CacheBytes: 1 << 20})
		if err != nil {
			return fmt.Errorf("reopening (%d%% of unsynced data kept): %w", cfg.UnsyncedDataPercent, err)
		}
		got, err := readStore(s)
		if cerr := s.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		at, err := m.checkRecovered(got, lo, hi, stop)
		if err != nil {
			return fmt.Errorf("crash %d, points %d..%d possible (%d%% of unsynced data kept): %w", i, lo, hi, cfg.UnsyncedDataPercent, err)
		}
		st.points++
		st.lost(hi - at)
	}
	return nil
}

// crashBatch runs one random batch on partition p, checking its reads against
// the model as it goes, and commits it (or, sometimes, discards it).
func crashBatch(t *testing.T, s *Store, m *crashModel, rng *rand.Rand, p int32,
	advance func(int32) int64, key func() []byte, value func() []byte, syncCommits bool) {
	t.Helper()
	b := s.NewBatch(p)
	defer b.Discard()
	pending := map[string]*string{} // latest write per key; nil deletes
	var order []string              // keys in first-write order
	view := func(k string) (string, bool) {
		if v, ok := pending[k]; ok {
			if v == nil {
				return "", false
			}
			return *v, true
		}
		v, ok := m.cur.parts[p][k]
		return v, ok
	}
	for range 1 + rng.IntN(24) {
		k := key()
		if _, ok := pending[string(k)]; !ok {
			order = append(order, string(k))
		}
		if rng.IntN(4) == 0 {
			if err := b.Delete(k); err != nil {
				t.Fatal(err)
			}
			pending[string(k)] = nil
		} else {
			v := value()
			if err := b.Set(k, v); err != nil {
				t.Fatal(err)
			}
			sv := string(v)
			pending[string(k)] = &sv
		}
		if rng.IntN(3) == 0 {
			k := key()
			got, gotOK, err := b.Get(k)
			if err != nil {
				t.Fatal(err)
			}
			if want, wantOK := view(string(k)); gotOK != wantOK || string(got) != want {
				t.Fatalf("batch Get(%q) = %.16q, %v; want %.16q, %v", k, got, gotOK, want, wantOK)
			}
		}
	}
	muts := b.Mutations()
	if len(muts) != len(order) {
		t.Fatalf("Mutations() has %d entries, want %d", len(muts), len(order))
	}
	for i, mu := range muts {
		want := pending[order[i]]
		if string(mu.Key) != order[i] || (mu.Value == nil) != (want == nil) || (want != nil && string(mu.Value) != *want) {
			t.Fatalf("Mutations()[%d] = %q=%.16q, want %q=%v", i, mu.Key, mu.Value, order[i], want)
		}
	}
	if rng.IntN(8) == 0 {
		var got []string
		if err := b.Scan(nil, nil, func(k, v []byte) error {
			got = append(got, string(k)+"="+string(v))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var want []string
		keys := map[string]bool{}
		for k := range m.cur.parts[p] {
			keys[k] = true
		}
		for k := range pending {
			keys[k] = true
		}
		for _, k := range slices.Sorted(mapKeys(keys)) {
			if v, ok := view(k); ok {
				want = append(want, k+"="+v)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("batch Scan differs from committed state plus batch:\n got %q\nwant %q", got, want)
		}
	}
	if rng.IntN(12) == 0 {
		b.Discard()
		return
	}
	// Mutations belong to the batch; copy them before Commit releases it.
	muts = slices.Clone(muts)
	off := advance(p)
	m.begin()
	if err := b.Commit(off); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	m.apply(p, muts, off, syncCommits)
}

// checkCrash opens a store on a crash clone taken between operations,
// compares it with the model and returns the commit point it recovered.
// With Sync it must hold exactly the model. With reuse it also commits to the
// recovered store and reopens it once more.
func checkCrash(t *testing.T, crashed *vfs.MemFS, m *crashModel, lo, hi int, syncCommits, reuse bool, where string) int {
	t.Helper()
	s, err := Open("db", Options{FS: crashed, CacheBytes: 1 << 20})
	if err != nil {
		t.Fatalf("%s: reopening: %v", where, err)
	}
	defer s.Close()
	got := dumpStore(t, s)
	if syncCommits && !reflect.DeepEqual(got, m.cur) {
		t.Fatalf("%s: recovered store differs from every returned commit:%s", where, diffDumps(got, m.cur))
	}
	at, err := m.checkRecovered(got, lo, hi, nil)
	if err != nil {
		t.Fatalf("%s: %v\nlatest:%s", where, err, m.cur)
	}

	if !reuse {
		return at
	}
	// The recovered store must be writable and durable in turn.
	b := s.NewBatch(0)
	if err := b.Set([]byte("after-crash"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	off := got.offs[0] + 1
	if err := b.Commit(off); err != nil {
		t.Fatalf("%s: committing to the recovered store: %v", where, err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("%s: closing the recovered store: %v", where, err)
	}
	s2, err := Open("db", Options{FS: crashed, CacheBytes: 1 << 20})
	if err != nil {
		t.Fatalf("%s: reopening the recovered store: %v", where, err)
	}
	defer s2.Close()
	want := storeDump{parts: map[int32]map[string]string{}, offs: map[int32]int64{}}
	for p, data := range got.parts {
		want.parts[p] = data
	}
	for p, o := range got.offs {
		want.offs[p] = o
	}
	want.parts[0] = map[string]string{"after-crash": "x"}
	for k, v := range got.parts[0] {
		want.parts[0][k] = v
	}
	want.offs[0] = off
	if again := dumpStore(t, s2); !reflect.DeepEqual(again, want) {
		t.Fatalf("%s: recovered store lost a commit across a clean reopen:%s", where, diffDumps(again, want))
	}
	return at
}

// The model must tell a state that never was from one that was.
func TestCrashModelRejectsMixes(t *testing.T) {
	m := newCrashModel()
	m.apply(0, []Mutation{{Key: []byte("a"), Value: []byte("1")}}, 1, false)
	m.apply(1, []Mutation{{Key: []byte("b"), Value: []byte("1")}}, 1, false)
	m.apply(0, []Mutation{{Key: []byte("a"), Value: []byte("2")}}, 2, false)
	m.apply(1, []Mutation{{Key: []byte("b"), Value: []byte("2")}}, 2, true)
	m.apply(1, []Mutation{{Key: []byte("b"), Value: []byte("3")}}, 3, false)

	point := func(a, b string, oa, ob int64) storeDump {
		d := storeDump{parts: map[int32]map[string]string{}, offs: map[int32]int64{}}
		if oa > 0 {
			d.parts[0], d.offs[0] = map[string]string{"a": a}, oa
		}
		if ob > 0 {
			d.parts[1], d.offs[1] = map[string]string{"b": b}, ob
		}
		return d
	}
	for i, d := range []storeDump{point("", "", 0, 0), point("1", "", 1, 0), point("1", "1", 1, 1), point("2", "1", 2, 1), point("2", "2", 2, 2)} {
		if at, err := m.checkRecovered(d, 0, 5, nil); err != nil || at != i {
			t.Errorf("commit point %d%v: matched point %d, %v", i, d, at, err)
		}
	}
	for what, d := range map[string]storeDump{
		"a mix of points":              point("1", "2", 1, 2), // p1's second commit without p0's
		"data not of its offset":       point("2", "1", 1, 1),
		"an offset no commit made":     point("1", "1", 1, 4),
		"a point before a durable one": point("2", "1", 2, 1),
	} {
		if at, err := m.checkRecovered(d, 4, 5, nil); err == nil {
			t.Errorf("%s%v accepted as commit point %d", what, d, at)
		}
	}
}
