// Package state is invsync's local store: a Pebble database holding, for each
// Kafka partition this instance owns or has owned, the materialised key/value
// state of that partition and the changelog position it reflects.
//
// The store knows nothing of inventory. Keys handed to it are opaque and are
// scoped to one partition: the same key in two partitions names two different
// values. Every change to a partition is made through a Batch, which records
// its mutations so the caller can publish them to the partition's changelog
// topic, and which is committed together with the changelog offset it brings
// the partition to. The store may therefore lag the changelog, never run ahead
// of it: on start, a partition catches up by replaying the changelog from
// Offset (see Replay).
package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime/debug"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Key space. Partition data lives under partPrefix+partition(4 bytes BE), and
// each partition's changelog position under metaPrefix+"off"+partition, so a
// partition can be dropped with one range deletion and the meta keys never
// collide with data.
const (
	partPrefix = 'P'
	metaPrefix = 'M'
)

// ErrClosed is returned by operations on a Store after Close.
var ErrClosed = errors.New("state: store closed")

// Options configure Open. The zero value is usable: a Pebble database on the
// OS file system with Pebble's default cache.
type Options struct {
	// FS is the file system; nil means the OS file system. Tests pass
	// vfs.NewMem() or a crashable MemFS.
	FS vfs.FS
	// CacheBytes is Pebble's block cache size; 0 means CacheBytesFor
	// the process's memory limit (debug.SetMemoryLimit, GOMEMLIMIT).
	CacheBytes int64
	// MemTableBytes is the size of each of Pebble's memtables (two at
	// most before writes wait for a flush); 0 means DefaultMemTableBytes.
	MemTableBytes uint64
	// Sync makes every Batch commit wait for the WAL to reach stable
	// storage. It is off by default because the changelog in Kafka is the
	// source of truth: a commit lost in a power cut is replayed from it.
	Sync bool
	// Logger receives Pebble's informational messages; nil discards them.
	Logger *slog.Logger
	// AbsentPrefix, when set, is a key prefix whose keys are remembered in
	// memory (bloom filters, about 10 bits a key) so that reading one that
	// was never written costs no Pebble read: the idempotency keys that
	// almost every new transaction looks up and misses. The filter is
	// rebuilt at Open by scanning those keys.
	AbsentPrefix []byte
	// HotPrefix, when set, is a key prefix whose committed values are kept
	// in memory once read or written, up to HotBytes (0 means HotBytesFor
	// the process's memory limit): the stock records every transaction
	// reads.
	HotPrefix []byte
	HotBytes  int64
}

// Store is a Pebble database partitioned by Kafka partition. It is safe for
// concurrent use; a Batch is not, and is meant for the one goroutine that
// processes its partition.
type Store struct {
	// mu guards db against Close: operations hold it shared, Close
	// exclusively, so a closed store answers ErrClosed, never a panic.
	mu     sync.RWMutex
	db     *pebble.DB
	sync   bool
	absent *absentFilter // nil without Options.AbsentPrefix
	hot    *hotCache     // nil without Options.HotPrefix
}

// The default memory of the store: 64 MiB of cache, 48 of Pebble's blocks
// and 16 of hot values (HotPrefix) at the service's default heap limit
// (more or less with other limits: CacheBytesFor, HotBytesFor), and two
// 32 MiB memtables. The working set of a busy deployment is the records
// scans touch, a small share of all records; record reads that miss both
// caches are one point lookup each (a Get, so bloom filters skip the
// sstables that lack the key). Measured in BENCHMARKS.md: the service's
// peak RSS at a million records.
const (
	DefaultCacheBytes    = 48 << 20
	DefaultMemTableBytes = 32 << 20
	DefaultHotBytes      = 16 << 20
)

// Bounds of the caches sized from the memory limit (CacheBytesFor,
// HotBytesFor).
const (
	MinCacheBytes = 8 << 20
	MaxCacheBytes = 1 << 30
	MinHotBytes   = 4 << 20
	MaxHotBytes   = 512 << 20
)

// CacheBytesFor is the block cache Open gives a store when Options does not
// set one, for a process whose Go memory limit is limit bytes
// (debug.SetMemoryLimit(-1)): three tenths of it, at least MinCacheBytes
// and at most MaxCacheBytes, so that a deployment given more memory keeps
// more of a large state's records in memory. The service's default heap
// limit, 160 MiB, yields DefaultCacheBytes. With no limit (math.MaxInt64,
// the runtime's default) it is DefaultCacheBytes.
func CacheBytesFor(limit int64) int64 {
	if limit <= 0 || limit == math.MaxInt64 {
		return DefaultCacheBytes
	}
	return min(max(limit/10*3, MinCacheBytes), MaxCacheBytes)
}

// HotBytesFor is the hot-value cache Open gives a store when Options does
// not set one, for a process whose Go memory limit is limit bytes: a tenth
// of it (the cache is Go heap, inside the limit), at least MinHotBytes and
// at most MaxHotBytes. The default 160 MiB heap limit, and no limit, yield
// DefaultHotBytes.
func HotBytesFor(limit int64) int64 {
	if limit <= 0 || limit == math.MaxInt64 {
		return DefaultHotBytes
	}
	return min(max(limit/10, MinHotBytes), MaxHotBytes)
}

// Open opens (creating if needed) the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	cache := opts.CacheBytes
	if cache <= 0 {
		cache = CacheBytesFor(debug.SetMemoryLimit(-1))
	}
	memTable := opts.MemTableBytes
	if memTable == 0 {
		memTable = DefaultMemTableBytes
	}
	c := pebble.NewCache(cache)
	defer c.Unref()
	po := &pebble.Options{
		FS:                    opts.FS,
		Cache:                 c,
		MemTableSize:          memTable,
		L0CompactionThreshold: 4,
		Logger:                pebbleLogger{opts.Logger},
	}
	if po.FS == nil {
		po.FS = vfs.Default
	}
	// Most point reads miss (a new transaction's idempotency key, a new
	// stock record): bloom filters answer those without reading blocks.
	//
	// Blocks are not compressed: records change with every scan and
	// outcomes age out, so tables are rewritten soon after they are
	// written, and snappy on every compaction and block read cost ~7 % of
	// the whole path's CPU (BENCHMARKS.md). The state is a local copy of
	// the changelog; disk is the cheaper resource here.
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		po.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("opening state store in %s: %w", dir, err)
	}
	s := &Store{db: db, sync: opts.Sync}
	if len(opts.HotPrefix) > 0 {
		hot := opts.HotBytes
		if hot <= 0 {
			hot = HotBytesFor(debug.SetMemoryLimit(-1))
		}
		s.hot = newHotCache(opts.HotPrefix, hot)
	}
	if len(opts.AbsentPrefix) > 0 {
		if s.absent, err = loadAbsentFilter(db, opts.AbsentPrefix); err != nil {
			db.Close()
			return nil, fmt.Errorf("loading the key filter of %s: %w", dir, err)
		}
	}
	return s, nil
}

// loadAbsentFilter builds the filter from every partition's keys under
// prefix. The partitions are those with a changelog offset: every write
// (Commit, Replay) sets one and Drop removes both.
func loadAbsentFilter(db *pebble.DB, prefix []byte) (*absentFilter, error) {
	var parts []int32
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: offsetKey(0), UpperBound: []byte{metaPrefix, 'o', 'f', 'f', 0xff, 0xff, 0xff, 0xff, 0xff}})
	if err != nil {
		return nil, err
	}
	for ok := it.First(); ok; ok = it.Next() {
		if k := it.Key(); len(k) == 8 {
			parts = append(parts, int32(binary.BigEndian.Uint32(k[4:])))
		}
	}
	if err := it.Close(); err != nil {
		return nil, err
	}
	// Keys go straight into the filter (which adds layers as it fills)
	// rather than into a list first: a store of ten million outcomes
	// would otherwise hold all their keys in memory at startup.
	f := newAbsentFilter(prefix, 0)
	for _, p := range parts {
		it, err := db.NewIter(&pebble.IterOptions{LowerBound: partKey(p, prefix), UpperBound: partKey(p, prefixEnd(prefix))})
		if err != nil {
			return nil, err
		}
		for ok := it.First(); ok; ok = it.Next() {
			f.add(it.Key()) // the bloom filter hashes the key; it keeps no reference
		}
		if err := it.Close(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// prefixEnd is the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := bytes.Clone(p)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff} // all 0xff: past any real key
}

// Close flushes nothing extra (the changelog is authoritative) and closes
// the database. It is safe to call more than once.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	return err
}

func (s *Store) writeOpts() *pebble.WriteOptions {
	if s.sync {
		return pebble.Sync
	}
	return pebble.NoSync
}

func partKey(p int32, key []byte) []byte {
	return appendPartKey(make([]byte, 0, 5+len(key)), p, key)
}

// appendPartKey appends the store key of key in partition p to dst.
func appendPartKey(dst []byte, p int32, key []byte) []byte {
	dst = append(dst, partPrefix)
	dst = binary.BigEndian.AppendUint32(dst, uint32(p))
	return append(dst, key...)
}

func partBounds(p int32) (lo, hi []byte) {
	return partKey(p, nil), partKey(p+1, nil)
}

func offsetKey(p int32) []byte {
	k := []byte{metaPrefix, 'o', 'f', 'f', 0, 0, 0, 0}
	binary.BigEndian.PutUint32(k[4:], uint32(p))
	return k
}

// Offset returns the changelog offset the partition's state reflects: the
// next changelog offset to replay. It is 0 for a partition never seen.
func (s *Store) Offset(p int32) (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return 0, ErrClosed
	}
	v, ok, err := get(s.db, offsetKey(p))
	if err != nil || !ok {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("reading offset of partition %d: corrupt value of %d bytes", p, len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

type getter interface {
	Get(key []byte) ([]byte, io.Closer, error)
}

// get copies the value out so the caller never holds Pebble's buffer.
func get(g getter, key []byte) ([]byte, bool, error) {
	v, closer, err := g.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := bytes.Clone(v)
	if err := closer.Close(); err != nil {
		return nil, false, err
	}
	if out == nil {
		out = []byte{}
	}
	return out, true, nil
}

type iterable interface {
	NewIter(*pebble.IterOptions) (*pebble.Iterator, error)
}

// scan calls fn for each key in [lo, hi) with the partition prefix removed.
// The slices are only valid during the call.
func scan(it iterable, p int32, lo, hi []byte, fn func(k, v []byte) error) error {
	opts := &pebble.IterOptions{LowerBound: partKey(p, lo)}
	if hi != nil {
		opts.UpperBound = partKey(p, hi)
	} else {
		_, opts.UpperBound = partBounds(p)
	}
	iter, err := it.NewIter(opts)
	if err != nil {
		return err
	}
	for valid := iter.First(); valid; valid = iter.Next() {
		v, err := iter.ValueAndErr()
		if err != nil {
			iter.Close()
			return err
		}
		if err := fn(iter.Key()[5:], v); err != nil {
			iter.Close()
			return err
		}
	}
	return iter.Close()
}

// Reader reads one partition's committed state.
type Reader struct {
	s *Store
	p int32
}

// Partition returns a reader of partition p's committed state. Reads see
// every batch committed before them.
func (s *Store) Partition(p int32) Reader { return Reader{s, p} }

// Get returns a copy of the value at key, and whether it exists.
func (r Reader) Get(key []byte) ([]byte, bool, error) {
	r.s.mu.RLock()
	defer r.s.mu.RUnlock()
	if r.s.db == nil {
		return nil, false, ErrClosed
	}
	full := partKey(r.p, key)
	if r.s.absent.covers(key) && !r.s.absent.mayContain(full) {
		return nil, false, nil
	}
	return r.s.cachedGet(r.s.db, r.p, key, full)
}

// cachedGet is get, through the hot cache when it covers key.
func (s *Store) cachedGet(g getter, p int32, key, full []byte) ([]byte, bool, error) {
	if !s.hot.covers(key) {
		return get(g, full)
	}
	v, ok, gen := s.hot.get(p, full)
	if ok {
		return bytes.Clone(v), true, nil
	}
	v, ok, err := get(g, full)
	if afterHotMiss != nil {
		afterHotMiss()
	}
	if err == nil && ok {
		s.hot.fill(p, full, v, gen)
	}
	return v, ok, err
}

// afterHotMiss, set only by tests, runs between a hot-cache miss's Pebble
// read and its fill.
var afterHotMiss func()

// Scan calls fn, in key order, for each key in [lo, hi); hi nil means the end
// of the partition. k and v are only valid during the call.
func (r Reader) Scan(lo, hi []byte, fn func(k, v []byte) error) error {
	r.s.mu.RLock()
	defer r.s.mu.RUnlock()
	if r.s.db == nil {
		return ErrClosed
	}
	return scan(r.s.db, r.p, lo, hi, fn)
}

func be64(v int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(v))
	return b[:]
}

// Flush forces the memtable to disk; used before taking size measurements.
func (s *Store) Flush() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.db == nil {
		return ErrClosed
	}
	return s.db.Flush()
}

type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	if p.l != nil {
		p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
	}
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	if p.l != nil {
		p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
	}
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	// Pebble calls Fatalf on unrecoverable corruption and expects the
	// process not to continue; log it loudly and let Pebble panic.
	if p.l != nil {
		p.l.Error(fmt.Sprintf(format, args...), "component", "pebble", "fatal", true)
	}
	panic(fmt.Sprintf(format, args...))
}
