package processors

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// Lock bounds. A lock request without a TTL gets DefaultLockTTL; none may
// ask for more than MaxLockTTL.
const (
	DefaultLockTTL = 30 * time.Minute
	MaxLockTTL     = 24 * time.Hour
)

// Lock is a scanner's claim on one location, typically for a cycle count:
// while it holds, other scanners may not count or adjust there (see
// Processor.Apply). It holds from AcquiredAt until ExpiresAt or
// ReleasedAt, whichever comes first.
type Lock struct {
	LockID      string
	WarehouseID string
	LocationID  string
	ScannerID   string
	AcquiredAt  time.Time
	ExpiresAt   time.Time
	// ReleasedAt is set once the lock was released (DELETE, or superseded
	// by a newer lock of the same scanner on the same location).
	ReleasedAt *time.Time
}

// End is when the lock stops holding: its release or its expiry,
// whichever is first.
func (l *Lock) End() time.Time {
	if l.ReleasedAt != nil && l.ReleasedAt.Before(l.ExpiresAt) {
		return *l.ReleasedAt
	}
	return l.ExpiresAt
}

// HeldAt reports whether the lock holds at: AcquiredAt <= at < End().
func (l *Lock) HeldAt(at time.Time) bool {
	return !at.Before(l.AcquiredAt) && at.Before(l.End())
}

// overlaps reports whether l and o hold at some common moment.
func (l *Lock) overlaps(o *Lock) bool {
	return l.AcquiredAt.Before(o.End()) && o.AcquiredAt.Before(l.End())
}

// Locks tells the processor who holds a location at a moment. A nil
// Config.Locks means no location is ever locked.
type Locks interface {
	HolderAt(wh, loc string, at time.Time) (Lock, bool)
}

// LockTable is every lock record of the locks topic, applied in log order.
// Every instance applies the same records in the same order and so reaches
// the same decisions: that is what makes "first writer wins" hold across
// instances. It is safe for concurrent use.
//
// The rule: a new lock of scanner S on a location is refused when an
// already granted lock of another scanner on that location holds at any
// moment of the new lock's lifetime (their [acquiredAt, end) intervals
// overlap). In the common case that means "the location is held at the new
// lock's acquiredAt"; comparing whole intervals also keeps two instances
// with skewed clocks from granting two scanners the same moments. Locks of
// the same scanner never refuse each other (a re-lock supersedes the old
// one by releasing it). A refused lock stays refused.
//
// A release record (releasedAt set) of a lock the table has never seen is
// accepted as granted: only granted locks are released, and log compaction
// drops a lock's acquire record once its release is written. Such a record
// displaces the other scanners' locks it overlaps, which were refused when
// their records were first applied but may have been replayed here without
// the acquire record that refused them.
type LockTable struct {
	mu    sync.RWMutex
	byID  map[string]*lockEntry
	byLoc map[lockLoc][]*lockEntry // granted locks only, in grant order
}

type lockLoc struct{ wh, loc string }

type lockEntry struct {
	lock    Lock
	granted bool
	blocker string // the lock that refused it
}

// NewLockTable returns an empty table.
func NewLockTable() *LockTable {
	return &LockTable{byID: map[string]*lockEntry{}, byLoc: map[lockLoc][]*lockEntry{}}
}

// Apply applies one lock record: a new lock (granted or refused by the
// rule above) or the release of a known one (the earliest release wins).
// A record for a refused lock changes nothing.
func (t *LockTable) Apply(l Lock) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if l.ReleasedAt != nil {
		rel := *l.ReleasedAt
		l.ReleasedAt = &rel // the table's own copy
	}
	key := lockLoc{l.WarehouseID, l.LocationID}
	if e, ok := t.byID[l.LockID]; ok {
		if e.granted && l.ReleasedAt != nil && (e.lock.ReleasedAt == nil || l.ReleasedAt.Before(*e.lock.ReleasedAt)) {
			e.lock.ReleasedAt = l.ReleasedAt
		}
		return
	}
	e := &lockEntry{lock: l, granted: true}
	t.byID[l.LockID] = e
	if l.ReleasedAt != nil {
		held := t.byLoc[key][:0]
		for _, o := range t.byLoc[key] {
			if o.lock.ScannerID != l.ScannerID && o.lock.overlaps(&l) {
				o.granted, o.blocker = false, l.LockID
				continue
			}
			held = append(held, o)
		}
		t.byLoc[key] = append(held, e)
		return
	}
	for _, o := range t.byLoc[key] {
		if o.lock.ScannerID != l.ScannerID && o.lock.overlaps(&l) {
			e.granted, e.blocker = false, o.lock.LockID
			return
		}
	}
	t.byLoc[key] = append(t.byLoc[key], e)
}

// Get returns a granted lock by id.
func (t *LockTable) Get(lockID string) (Lock, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	e, ok := t.byID[lockID]
	if !ok || !e.granted {
		return Lock{}, false
	}
	return e.lock.clone(), true
}

// Refused reports whether the lock lockID was refused, and the granted
// lock that held its location.
func (t *LockTable) Refused(lockID string) (holder Lock, refused bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	e, ok := t.byID[lockID]
	if !ok || e.granted {
		return Lock{}, false
	}
	if b, ok := t.byID[e.blocker]; ok {
		holder = b.lock.clone()
	}
	return holder, true
}

// Active returns the granted locks of warehouse wh that have not ended at
// at, ordered by location, then acquisition.
func (t *LockTable) Active(wh string, at time.Time) []Lock {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []Lock
	for key, es := range t.byLoc {
		if key.wh != wh {
			continue
		}
		for _, e := range es {
			if at.Before(e.lock.End()) {
				out = append(out, e.lock.clone())
			}
		}
	}
	slices.SortFunc(out, func(a, b Lock) int {
		return cmp.Or(cmp.Compare(a.LocationID, b.LocationID), a.AcquiredAt.Compare(b.AcquiredAt), cmp.Compare(a.LockID, b.LockID))
	})
	return out
}

// HolderAt returns the granted lock holding location loc of warehouse wh
// at at. Only locks of one scanner can hold together (a re-lock and the
// lock it supersedes); the latest acquired is returned.
func (t *LockTable) HolderAt(wh, loc string, at time.Time) (Lock, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var best *lockEntry
	for _, e := range t.byLoc[lockLoc{wh, loc}] {
		if !e.lock.HeldAt(at) {
			continue
		}
		if best == nil || e.lock.AcquiredAt.After(best.lock.AcquiredAt) ||
			e.lock.AcquiredAt.Equal(best.lock.AcquiredAt) && e.lock.LockID > best.lock.LockID {
			best = e
		}
	}
	if best == nil {
		return Lock{}, false
	}
	return best.lock.clone(), true
}

func (l *Lock) clone() Lock {
	c := *l
	if l.ReleasedAt != nil {
		rel := *l.ReleasedAt
		c.ReleasedAt = &rel
	}
	return c
}

// CheckLocation validates a lock request's location against the catalog:
// nil, or a rejection with CodeUnknownWarehouse or CodeUnknownLocation.
func (c *Catalog) CheckLocation(wh, loc string) *Rejection {
	c.mu.RLock()
	defer c.mu.RUnlock()
	locs, ok := c.warehouses[wh]
	if !ok {
		return reject(CodeUnknownWarehouse, "warehouse %q is not in the catalog", wh)
	}
	if _, ok := locs[loc]; !ok {
		return reject(CodeUnknownLocation, "location %q is not a location of warehouse %s", loc, wh)
	}
	return nil
}
