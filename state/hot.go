package state

import (
	"bytes"
	"sync"
)

// hotCache keeps, in memory, the committed values of keys under one
// prefix that were read or written lately: the stock records every
// transaction reads. A hit costs a map lookup instead of a Pebble read
// through the memtables and levels (the largest state cost of the whole
// path, BENCHMARKS.md).
//
// It holds only committed values. Every committed write to a covered key
// updates it after Pebble has the write (Batch.Commit, Store.Replay), and
// Drop empties a partition. A reader that missed fills the entry only if
// no write touched its shard while it read Pebble (the shard's generation
// is unchanged), so an old value read before a commit never replaces the
// committed one.
type hotCache struct {
	prefix   []byte
	perShard int64 // bytes
	shards   [hotShards]hotShard
}

const hotShards = 64

type hotShard struct {
	mu    sync.Mutex
	gen   uint64
	bytes int64
	m     map[string][]byte // full key (partition included) -> committed value
}

// hotEntryOverhead approximates a map entry's bytes besides key and value.
const hotEntryOverhead = 64

func newHotCache(prefix []byte, maxBytes int64) *hotCache {
	c := &hotCache{prefix: bytes.Clone(prefix), perShard: max(maxBytes/hotShards, 1)}
	for i := range c.shards {
		c.shards[i].m = map[string][]byte{}
	}
	return c
}

// covers reports whether key (without the partition prefix) is cached.
func (c *hotCache) covers(key []byte) bool { return c != nil && bytes.HasPrefix(key, c.prefix) }

func (c *hotCache) shard(p int32) *hotShard { return &c.shards[uint32(p)%hotShards] }

// get returns the cached value of full in partition p and the shard's
// generation, for fill.
func (c *hotCache) get(p int32, full []byte) (v []byte, ok bool, gen uint64) {
	sh := c.shard(p)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	v, ok = sh.m[string(full)]
	return v, ok, sh.gen
}

// fill caches v, read from Pebble, unless a write touched the shard since
// gen. The cache keeps its own copy.
func (c *hotCache) fill(p int32, full, v []byte, gen uint64) {
	sh := c.shard(p)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.gen != gen {
		return
	}
	sh.put(full, bytes.Clone(v), c.perShard)
}

// write runs fn with partition p's shard locked and its generation moved
// on, so that no fill that read Pebble before lands after; nothing when
// there is no cache.
func (c *hotCache) write(p int32, fn func(sh *hotShard)) {
	if c == nil {
		return
	}
	sh := c.shard(p)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.gen++
	fn(sh)
}

// written records committed mutations of partition p.
func (c *hotCache) written(p int32, muts []Mutation) {
	c.write(p, func(sh *hotShard) {
		for _, m := range muts {
			if !bytes.HasPrefix(m.Key, c.prefix) {
				continue
			}
			full := partKey(p, m.Key)
			if m.Value == nil {
				sh.remove(string(full))
				continue
			}
			sh.put(full, bytes.Clone(m.Value), c.perShard)
		}
	})
}

// writing marks a write to partition p as begun: fills that read Pebble
// before it must not land.
func (c *hotCache) writing(p int32) { c.write(p, func(*hotShard) {}) }

// drop forgets partition p.
func (c *hotCache) drop(p int32) {
	c.write(p, func(sh *hotShard) {
		lo, hi := partBounds(p)
		for k := range sh.m {
			if k >= string(lo) && k < string(hi) {
				sh.remove(k)
			}
		}
	})
}

func (sh *hotShard) put(full, v []byte, limit int64) {
	sh.remove(string(full))
	size := int64(len(full)+len(v)) + hotEntryOverhead
	// Evict arbitrary entries (Go's map order is randomised) until the new
	// one fits: cheaper than LRU bookkeeping on every hit, and a hot key
	// evicted is read back on its next use.
	for k := range sh.m {
		if sh.bytes+size <= limit {
			break
		}
		sh.remove(k)
	}
	if sh.bytes+size > limit {
		return
	}
	sh.m[string(full)] = v
	sh.bytes += size
}

func (sh *hotShard) remove(k string) {
	if v, ok := sh.m[k]; ok {
		sh.bytes -= int64(len(k)+len(v)) + hotEntryOverhead
		delete(sh.m, k)
	}
}
