package state

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// openMem opens a store on a fresh in-memory file system and closes it when
// the test ends.
func openMem(t *testing.T) *Store {
	t.Helper()
	s, err := Open("db", Options{FS: vfs.NewMem(), CacheBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// kv is one key/value pair as a test expects to read it.
type kv struct{ k, v string }

// commit sets sets and deletes dels in partition p, and commits at
// nextOffset.
func commit(t *testing.T, s *Store, p int32, nextOffset int64, sets []kv, dels ...string) {
	t.Helper()
	b := s.NewBatch(p)
	for _, e := range sets {
		if err := b.Set([]byte(e.k), []byte(e.v)); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range dels {
		if err := b.Delete([]byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(nextOffset); err != nil {
		t.Fatal(err)
	}
}

type scanner interface {
	Scan(lo, hi []byte, fn func(k, v []byte) error) error
}

// scanAll collects sc.Scan(lo, hi); nil and empty results compare equal.
func scanAll(t *testing.T, sc scanner, lo, hi []byte) []kv {
	t.Helper()
	var out []kv
	err := sc.Scan(lo, hi, func(k, v []byte) error {
		out = append(out, kv{string(k), string(v)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func wantScan(t *testing.T, what string, got, want []kv) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: scan = %v, want %v", what, got, want)
	}
}

type getterOf interface {
	Get(key []byte) ([]byte, bool, error)
}

// wantGet checks g.Get(key); want nil means absent.
func wantGet(t *testing.T, what string, g getterOf, key string, want *string) {
	t.Helper()
	v, ok, err := g.Get([]byte(key))
	if err != nil {
		t.Fatalf("%s: Get(%q): %v", what, key, err)
	}
	switch {
	case want == nil && ok:
		t.Errorf("%s: Get(%q) = %q, want absent", what, key, v)
	case want != nil && !ok:
		t.Errorf("%s: Get(%q) absent, want %q", what, key, *want)
	case want != nil && string(v) != *want:
		t.Errorf("%s: Get(%q) = %q, want %q", what, key, v, *want)
	}
}

func str(s string) *string { return &s }

func wantOffset(t *testing.T, s *Store, p int32, want int64) {
	t.Helper()
	got, err := s.Offset(p)
	if err != nil {
		t.Fatalf("Offset(%d): %v", p, err)
	}
	if got != want {
		t.Errorf("Offset(%d) = %d, want %d", p, got, want)
	}
}

func TestPartitionsAreIsolated(t *testing.T) {
	s := openMem(t)
	commit(t, s, 0, 5, []kv{{"sku", "zero"}, {"only0", "x"}})
	commit(t, s, 1, 9, []kv{{"sku", "one"}})

	wantGet(t, "p0", s.Partition(0), "sku", str("zero"))
	wantGet(t, "p1", s.Partition(1), "sku", str("one"))
	wantGet(t, "p1", s.Partition(1), "only0", nil)
	wantGet(t, "p2", s.Partition(2), "sku", nil)
	wantScan(t, "p1", scanAll(t, s.Partition(1), nil, nil), []kv{{"sku", "one"}})
	wantOffset(t, s, 0, 5)
	wantOffset(t, s, 1, 9)

	// A delete in one partition leaves the same key in another alone.
	commit(t, s, 0, 6, nil, "sku")
	wantGet(t, "p0 after delete", s.Partition(0), "sku", nil)
	wantGet(t, "p1 after p0 delete", s.Partition(1), "sku", str("one"))
}

// Partition numbers are big-endian in the key, so a key made of 0xff bytes in
// one partition must still sort before, and stay apart from, the next one.
func TestPartitionBoundaries(t *testing.T) {
	s := openMem(t)
	high := string([]byte{0xff, 0xff, 0xff, 0xff, 0xff})
	commit(t, s, 0, 1, []kv{{"", "empty key"}, {high, "high"}})
	commit(t, s, 1, 1, []kv{{"", "p1 empty key"}})
	commit(t, s, math.MaxInt32, 1, []kv{{"a", "max"}})

	wantScan(t, "p0", scanAll(t, s.Partition(0), nil, nil), []kv{{"", "empty key"}, {high, "high"}})
	wantScan(t, "p1", scanAll(t, s.Partition(1), nil, nil), []kv{{"", "p1 empty key"}})
	wantScan(t, "max", scanAll(t, s.Partition(math.MaxInt32), nil, nil), []kv{{"a", "max"}})

	if err := s.Drop(math.MaxInt32); err != nil {
		t.Fatal(err)
	}
	wantScan(t, "max after drop", scanAll(t, s.Partition(math.MaxInt32), nil, nil), nil)
	wantScan(t, "p0 after drop of max", scanAll(t, s.Partition(0), nil, nil), []kv{{"", "empty key"}, {high, "high"}})
	wantScan(t, "p1 after drop of max", scanAll(t, s.Partition(1), nil, nil), []kv{{"", "p1 empty key"}})
}

func TestBatchReadsItsOwnWrites(t *testing.T) {
	s := openMem(t)
	commit(t, s, 3, 10, []kv{{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}})
	commit(t, s, 4, 10, []kv{{"bb", "other partition"}})

	b := s.NewBatch(3)
	defer b.Discard()
	if b.Partition() != 3 {
		t.Fatalf("Partition() = %d, want 3", b.Partition())
	}
	for _, e := range []kv{{"b", "2'"}, {"bb", "new"}, {"e", "5"}} {
		if err := b.Set([]byte(e.k), []byte(e.v)); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"c", "never"} {
		if err := b.Delete([]byte(k)); err != nil {
			t.Fatal(err)
		}
	}

	wantGet(t, "batch", b, "a", str("1"))  // committed, untouched
	wantGet(t, "batch", b, "b", str("2'")) // overwritten
	wantGet(t, "batch", b, "bb", str("new"))
	wantGet(t, "batch", b, "c", nil) // deleted over committed
	wantGet(t, "batch", b, "never", nil)
	wantScan(t, "batch all", scanAll(t, b, nil, nil),
		[]kv{{"a", "1"}, {"b", "2'"}, {"bb", "new"}, {"d", "4"}, {"e", "5"}})
	wantScan(t, "batch [b, d)", scanAll(t, b, []byte("b"), []byte("d")),
		[]kv{{"b", "2'"}, {"bb", "new"}})

	// Nothing is visible outside the batch until Commit.
	wantGet(t, "reader before commit", s.Partition(3), "c", str("3"))
	wantGet(t, "reader before commit", s.Partition(3), "e", nil)
	wantOffset(t, s, 3, 10)

	if err := b.Commit(11); err != nil {
		t.Fatal(err)
	}
	wantScan(t, "reader after commit", scanAll(t, s.Partition(3), nil, nil),
		[]kv{{"a", "1"}, {"b", "2'"}, {"bb", "new"}, {"d", "4"}, {"e", "5"}})
	wantScan(t, "other partition", scanAll(t, s.Partition(4), nil, nil), []kv{{"bb", "other partition"}})
	wantOffset(t, s, 3, 11)
}

// The rule holds whatever size the batch was started for (NewBatchSized's
// hint): none, fewer keys than are written, more.
func TestMutationsLatestPerKeyInFirstWriteOrder(t *testing.T) {
	s := openMem(t)
	for _, hint := range []int{-1, 0, 2, 100} {
		t.Run(fmt.Sprintf("hint=%d", hint), func(t *testing.T) {
			var b *Batch
			if hint < 0 {
				b = s.NewBatch(0)
			} else {
				b = s.NewBatchSized(0, hint)
			}
			defer b.Discard()
			checkMutationsLatestPerKey(t, b)
		})
	}
}

func checkMutationsLatestPerKey(t *testing.T, b *Batch) {
	t.Helper()
	if !b.Empty() || len(b.Mutations()) != 0 {
		t.Fatalf("new batch: Empty() = %v, Mutations() = %v", b.Empty(), b.Mutations())
	}
	steps := []struct {
		key string
		val *string // nil deletes
	}{
		{"a", str("1")},
		{"b", str("2")},
		{"a", nil},
		{"c", str("3")},
		{"b", str("22")},
		{"d", nil},
		{"d", str("")}, // a set of an empty value is not a delete
		{"e", str("5")},
		{"e", nil},
	}
	for _, st := range steps {
		var err error
		if st.val == nil {
			err = b.Delete([]byte(st.key))
		} else {
			err = b.Set([]byte(st.key), []byte(*st.val))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	want := []Mutation{
		{Key: []byte("a"), Value: nil},
		{Key: []byte("b"), Value: []byte("22")},
		{Key: []byte("c"), Value: []byte("3")},
		{Key: []byte("d"), Value: []byte{}},
		{Key: []byte("e"), Value: nil},
	}
	got := b.Mutations()
	if b.Empty() {
		t.Error("Empty() = true after writes")
	}
	if len(got) != len(want) {
		t.Fatalf("Mutations() = %s, want %s", fmtMuts(got), fmtMuts(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !bytes.Equal(g.Key, w.Key) || (g.Value == nil) != (w.Value == nil) || !bytes.Equal(g.Value, w.Value) {
			t.Fatalf("Mutations() = %s, want %s", fmtMuts(got), fmtMuts(want))
		}
	}
}

func TestSetNilValueIsEmptyNotDelete(t *testing.T) {
	s := openMem(t)
	b := s.NewBatch(0)
	if err := b.Set([]byte("k"), nil); err != nil {
		t.Fatal(err)
	}
	if m := b.Mutations(); len(m) != 1 || m[0].Value == nil {
		t.Fatalf("Mutations() = %s, want one set of an empty value", fmtMuts(m))
	}
	if err := b.Commit(1); err != nil {
		t.Fatal(err)
	}
	v, ok, err := s.Partition(0).Get([]byte("k"))
	if err != nil || !ok || v == nil || len(v) != 0 {
		t.Fatalf("Get = %q, %v, %v; want a non-nil empty value", v, ok, err)
	}
}

func fmtMuts(ms []Mutation) string {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, m := range ms {
		if i > 0 {
			buf.WriteByte(' ')
		}
		if m.Value == nil {
			fmt.Fprintf(&buf, "del(%q)", m.Key)
		} else {
			fmt.Fprintf(&buf, "%q=%q", m.Key, m.Value)
		}
	}
	buf.WriteByte(']')
	return buf.String()
}

func TestBatchKeepsItsOwnCopies(t *testing.T) {
	s := openMem(t)
	b := s.NewBatch(0)
	key, val := []byte("key"), []byte("value")
	if err := b.Set(key, val); err != nil {
		t.Fatal(err)
	}
	key[0], val[0] = 'X', 'X'
	m := b.Mutations()
	if string(m[0].Key) != "key" || string(m[0].Value) != "value" {
		t.Fatalf("Mutations() = %s after the caller reused its buffers", fmtMuts(m))
	}
	wantGet(t, "batch", b, "key", str("value"))
	if err := b.Commit(1); err != nil {
		t.Fatal(err)
	}
	wantGet(t, "reader", s.Partition(0), "key", str("value"))
}

func TestDiscardLeavesNothing(t *testing.T) {
	s := openMem(t)
	commit(t, s, 0, 7, []kv{{"a", "1"}, {"b", "2"}})

	b := s.NewBatch(0)
	if err := b.Set([]byte("a"), []byte("changed")); err != nil {
		t.Fatal(err)
	}
	if err := b.Set([]byte("c"), []byte("new")); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete([]byte("b")); err != nil {
		t.Fatal(err)
	}
	b.Discard()
	b.Discard() // safe twice

	wantScan(t, "after discard", scanAll(t, s.Partition(0), nil, nil), []kv{{"a", "1"}, {"b", "2"}})
	wantOffset(t, s, 0, 7)

	// A batch discarded on a partition never committed leaves no offset.
	b = s.NewBatch(1)
	if err := b.Set([]byte("x"), []byte("y")); err != nil {
		t.Fatal(err)
	}
	b.Discard()
	wantScan(t, "p1 after discard", scanAll(t, s.Partition(1), nil, nil), nil)
	wantOffset(t, s, 1, 0)
	if got := dumpStore(t, s); !reflect.DeepEqual(got, storeDump{
		parts: map[int32]map[string]string{0: {"a": "1", "b": "2"}},
		offs:  map[int32]int64{0: 7},
	}) {
		t.Errorf("store holds %v after discards", got)
	}
}

func TestCommitStoresOffset(t *testing.T) {
	s := openMem(t)
	wantOffset(t, s, 0, 0)
	wantOffset(t, s, 12345, 0)

	commit(t, s, 0, 42, []kv{{"a", "1"}})
	wantOffset(t, s, 0, 42)
	wantOffset(t, s, 1, 0)

	// An empty batch still moves the offset: the records it consumed
	// changed nothing, but they are consumed.
	b := s.NewBatch(0)
	if !b.Empty() {
		t.Fatal("new batch not empty")
	}
	if err := b.Commit(43); err != nil {
		t.Fatal(err)
	}
	wantOffset(t, s, 0, 43)
	wantGet(t, "p0", s.Partition(0), "a", str("1"))

	commit(t, s, 0, math.MaxInt64, nil)
	wantOffset(t, s, 0, math.MaxInt64)
}

func TestReplayIsIdempotentAndMovesOffset(t *testing.T) {
	s := openMem(t)
	commit(t, s, 2, 3, []kv{{"a", "old"}, {"b", "gone soon"}, {"c", "kept"}})
	commit(t, s, 5, 8, []kv{{"a", "other partition"}})

	muts := []Mutation{
		{Key: []byte("a"), Value: []byte("first")},
		{Key: []byte("b"), Value: nil},
		{Key: []byte("d"), Value: []byte{}},
		{Key: []byte("a"), Value: []byte("second")}, // later mutation of a key wins
	}
	if err := s.Replay(2, muts, 10); err != nil {
		t.Fatal(err)
	}
	want := []kv{{"a", "second"}, {"c", "kept"}, {"d", ""}}
	wantScan(t, "after replay", scanAll(t, s.Partition(2), nil, nil), want)
	wantOffset(t, s, 2, 10)
	once := dumpStore(t, s)

	if err := s.Replay(2, muts, 10); err != nil {
		t.Fatal(err)
	}
	if twice := dumpStore(t, s); !reflect.DeepEqual(once, twice) {
		t.Errorf("replaying twice changed the store:\nonce:  %v\ntwice: %v", once, twice)
	}
	wantScan(t, "other partition", scanAll(t, s.Partition(5), nil, nil), []kv{{"a", "other partition"}})
	wantOffset(t, s, 5, 8)

	// Replaying nothing still moves the offset.
	if err := s.Replay(2, nil, 11); err != nil {
		t.Fatal(err)
	}
	wantOffset(t, s, 2, 11)
	wantScan(t, "after empty replay", scanAll(t, s.Partition(2), nil, nil), want)

	// A batch's Mutations replayed into a fresh store reproduce its state.
	s2 := openMem(t)
	b := s.NewBatch(2)
	defer b.Discard()
	_ = b.Set([]byte("e"), []byte("5"))
	_ = b.Delete([]byte("a"))
	if err := s2.Replay(2, b.Mutations(), 1); err != nil {
		t.Fatal(err)
	}
	wantScan(t, "fresh store", scanAll(t, s2.Partition(2), nil, nil), []kv{{"e", "5"}})
}

func TestDropRemovesOnePartition(t *testing.T) {
	s := openMem(t)
	high := string([]byte{0xff, 0xff})
	for p := int32(0); p < 3; p++ {
		commit(t, s, p, int64(10+p), []kv{{"", "e"}, {"a", fmt.Sprint(p)}, {high, "h"}})
	}
	if err := s.Drop(1); err != nil {
		t.Fatal(err)
	}
	want := storeDump{
		parts: map[int32]map[string]string{
			0: {"": "e", "a": "0", high: "h"},
			2: {"": "e", "a": "2", high: "h"},
		},
		offs: map[int32]int64{0: 10, 2: 12},
	}
	if got := dumpStore(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("after Drop(1):\n got %v\nwant %v", got, want)
	}
	wantOffset(t, s, 1, 0)

	// Dropping an unknown partition changes nothing; the dropped one can be
	// written again.
	if err := s.Drop(7); err != nil {
		t.Fatal(err)
	}
	commit(t, s, 1, 1, []kv{{"b", "again"}})
	wantScan(t, "p1 rewritten", scanAll(t, s.Partition(1), nil, nil), []kv{{"b", "again"}})
	wantOffset(t, s, 1, 1)
}

func TestReaderScanBounds(t *testing.T) {
	s := openMem(t)
	commit(t, s, 0, 1, []kv{{"a", "1"}, {"b", "2"}, {"bz", "3"}, {"c", "4"}, {"d", "5"}})
	commit(t, s, 1, 1, []kv{{"0", "p1"}, {"b", "p1"}, {"e", "p1"}})
	r := s.Partition(0)
	for _, tc := range []struct {
		lo, hi string
		loNil  bool
		hiNil  bool
		want   []kv
	}{
		{loNil: true, hiNil: true, want: []kv{{"a", "1"}, {"b", "2"}, {"bz", "3"}, {"c", "4"}, {"d", "5"}}},
		{lo: "b", hi: "c", want: []kv{{"b", "2"}, {"bz", "3"}}},       // lo inclusive, hi exclusive
		{lo: "b", hi: "bz", want: []kv{{"b", "2"}}},                   // a key's extension is after it
		{lo: "ba", hi: "c0", want: []kv{{"bz", "3"}, {"c", "4"}}},     // bounds between keys
		{loNil: true, hi: "b", want: []kv{{"a", "1"}}},                // from the start
		{lo: "c", hiNil: true, want: []kv{{"c", "4"}, {"d", "5"}}},    // to the end, not into p1
		{lo: "e", hiNil: true, want: nil},                             // past the end
		{lo: "b", hi: "b", want: nil},                                 // empty range
		{loNil: true, hi: "\xff\xff", want: scanAll(t, r, nil, nil)},  // past the last key
		{lo: "", hi: "a", want: nil},                                  // empty lo is the start
		{lo: "d", hi: "\xff\xff\xff\xff\xff", want: []kv{{"d", "5"}}}, // hi past the end
		{lo: "0", hi: "b", want: []kv{{"a", "1"}}},                    // nothing from p1
		{loNil: true, hiNil: true, want: []kv{{"a", "1"}, {"b", "2"}, {"bz", "3"}, {"c", "4"}, {"d", "5"}}},
	} {
		var lo, hi []byte
		if !tc.loNil {
			lo = []byte(tc.lo)
		}
		if !tc.hiNil {
			hi = []byte(tc.hi)
		}
		wantScan(t, fmt.Sprintf("Scan(%q, %q)", lo, hi), scanAll(t, r, lo, hi), tc.want)
	}

	// An error from fn stops the scan and is returned as is.
	stop := errors.New("stop")
	n := 0
	err := r.Scan(nil, nil, func(k, v []byte) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 2 {
		t.Errorf("Scan with failing fn: err = %v after %d calls, want %v after 2", err, n, stop)
	}
}

func TestGetReturnsCopies(t *testing.T) {
	s := openMem(t)
	commit(t, s, 0, 1, []kv{{"k", "value"}})

	v, _, _ := s.Partition(0).Get([]byte("k"))
	copy(v, "XXXXX")
	wantGet(t, "reader after mutating a read", s.Partition(0), "k", str("value"))

	b := s.NewBatch(0)
	defer b.Discard()
	v, _, _ = b.Get([]byte("k")) // from committed state
	copy(v, "XXXXX")
	wantGet(t, "batch after mutating a committed read", b, "k", str("value"))

	if err := b.Set([]byte("j"), []byte("batch")); err != nil {
		t.Fatal(err)
	}
	v, _, _ = b.Get([]byte("j")) // from the batch itself
	copy(v, "XXXXX")
	wantGet(t, "batch after mutating a batch read", b, "j", str("batch"))
	if m := b.Mutations(); string(m[0].Value) != "batch" {
		t.Errorf("Mutations() = %s after mutating a read", fmtMuts(m))
	}
	wantGet(t, "reader", s.Partition(0), "k", str("value"))
}

func TestCloseTwice(t *testing.T) {
	s := openMem(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// The package documents ErrClosed as what operations on a closed Store
// return.
func TestUseAfterCloseReturnsErrClosed(t *testing.T) {
	s := openMem(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		op   func() error
	}{
		{"Offset", func() error { _, err := s.Offset(0); return err }},
		{"Partition.Get", func() error { _, _, err := s.Partition(0).Get([]byte("k")); return err }},
		{"Partition.Scan", func() error { return s.Partition(0).Scan(nil, nil, func(k, v []byte) error { return nil }) }},
		{"Replay", func() error { return s.Replay(0, nil, 1) }},
		{"Drop", func() error { return s.Drop(0) }},
		{"NewBatch.Commit", func() error {
			b := s.NewBatch(0)
			defer b.Discard()
			return b.Commit(1)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("%s after Close panicked (%v), want ErrClosed", tc.name, r)
				}
			}()
			if err := tc.op(); !errors.Is(err, ErrClosed) {
				t.Errorf("%s after Close = %v, want ErrClosed", tc.name, err)
			}
		})
	}
}

func TestReopenSeesCommittedData(t *testing.T) {
	fs := vfs.NewMem()
	s, err := Open("db", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	commit(t, s, 0, 100, []kv{{"a", "1"}, {"b", "2"}})
	commit(t, s, 1, 50, []kv{{"a", "p1"}})
	commit(t, s, 0, 101, nil, "b")
	if err := s.Replay(2, []Mutation{{Key: []byte("r"), Value: []byte("replayed")}}, 7); err != nil {
		t.Fatal(err)
	}
	commit(t, s, 3, 1, []kv{{"z", "dropped"}})
	if err := s.Drop(3); err != nil {
		t.Fatal(err)
	}
	want := dumpStore(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open("db", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := dumpStore(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("after reopen:\n got %v\nwant %v", got, want)
	}
	wantGet(t, "p0", s.Partition(0), "a", str("1"))
	wantGet(t, "p0", s.Partition(0), "b", nil)
	wantOffset(t, s, 0, 101)
	wantOffset(t, s, 1, 50)
	wantOffset(t, s, 2, 7)
	wantOffset(t, s, 3, 0)
}

func TestCacheBytesFor(t *testing.T) {
	for _, c := range []struct {
		limit, want int64
	}{
		{math.MaxInt64, DefaultCacheBytes}, // no limit set
		{0, DefaultCacheBytes},
		{160 << 20, DefaultCacheBytes}, // the service's default heap limit
		{1 << 30, (1 << 30) / 10 * 3},
		{10 << 20, MinCacheBytes},
		{1, MinCacheBytes},
		{1 << 40, MaxCacheBytes},
	} {
		if got := CacheBytesFor(c.limit); got != c.want {
			t.Errorf("CacheBytesFor(%d) = %d, want %d", c.limit, got, c.want)
		}
	}
}

func TestHotBytesFor(t *testing.T) {
	for _, c := range []struct {
		limit, want int64
	}{
		{math.MaxInt64, DefaultHotBytes},
		{0, DefaultHotBytes},
		{160 << 20, DefaultHotBytes},
		{1 << 30, (1 << 30) / 10},
		{10 << 20, MinHotBytes},
		{1 << 40, MaxHotBytes},
	} {
		if got := HotBytesFor(c.limit); got != c.want {
			t.Errorf("HotBytesFor(%d) = %d, want %d", c.limit, got, c.want)
		}
	}
}
