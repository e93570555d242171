package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
)

// LockTable keeps a processors.LockTable equal to the compacted,
// single-partition locks topic, on every instance, and writes lock
// requests and releases to it. Who gets a contested location is decided
// by the order of the records in that partition, which every instance
// reads alike: Acquire writes its record, waits until this instance has
// read it back, and then asks the table whether it was granted. Safe for
// concurrent use.
type LockTable struct {
	*topicTable[schemas.Lock]
	table *processors.LockTable
}

// NewLockTable creates the table's client. Run must be running for
// Acquire, Release and WaitLoaded to return.
func NewLockTable(brokers []string, topic string, codec *schemas.Set, table *processors.LockTable, log *slog.Logger, opts ...kgo.Opt) (*LockTable, error) {
	l := &LockTable{table: table}
	// A lock ends by release or expiry, never by a tombstone.
	return openTable(l, &l.topicTable, brokers, topic, "locks", log, codec.DecodeLock, codec.AppendLock, ignoreTombstones(l.apply), opts...)
}

// Table is the in-memory table the processors consult.
func (t *LockTable) Table() *processors.LockTable { return t.table }

func (t *LockTable) apply(w *schemas.Lock) error {
	if w.LockID == "" || w.WarehouseID == "" || w.LocationID == "" || w.ScannerID == "" {
		return fmt.Errorf("lock %q: lockId, warehouseId, locationId and scannerId are required", w.LockID)
	}
	t.table.Apply(lockFromWire(w))
	return nil
}

// Acquire writes a request for l (acks=all) and waits until this instance
// has read it back. granted reports whether l got the location; if not,
// holder is the lock of another scanner that holds it. A granted lock
// supersedes the scanner's earlier locks on the same location: they are
// released as of l.AcquiredAt. An error wrapping ErrUnavailable means the
// request may or may not have been written.
func (t *LockTable) Acquire(ctx context.Context, l processors.Lock) (lock processors.Lock, granted bool, holder processors.Lock, err error) {
	l.ReleasedAt = nil
	if err := t.write(ctx, &l); err != nil {
		return processors.Lock{}, false, processors.Lock{}, err
	}
	if got, ok := t.table.Get(l.LockID); ok {
		t.supersede(ctx, &got)
		return got, true, processors.Lock{}, nil
	}
	if h, refused := t.table.Refused(l.LockID); refused {
		return processors.Lock{}, false, h, nil
	}
	return processors.Lock{}, false, processors.Lock{}, fmt.Errorf("lock %s was written but not applied (see the locks log)", l.LockID)
}

// supersede releases the same scanner's earlier locks on l's location. A
// failure leaves them to their TTL: they only ever block other scanners
// while l does too.
func (t *LockTable) supersede(ctx context.Context, l *processors.Lock) {
	for _, o := range t.table.Active(l.WarehouseID, l.AcquiredAt) {
		older := o.AcquiredAt.Before(l.AcquiredAt) || o.AcquiredAt.Equal(l.AcquiredAt) && o.LockID < l.LockID
		if o.LocationID != l.LocationID || o.ScannerID != l.ScannerID || !older {
			continue
		}
		rel := l.AcquiredAt
		o.ReleasedAt = &rel
		if err := t.write(ctx, &o); err != nil {
			t.log.Warn("releasing a superseded lock; it ends at its TTL", "lock", o.LockID, "by", l.LockID, "err", err)
		}
	}
}

// Release releases the lock lockID as of at and returns it as it then
// stands; found is false for a lock that was never granted (checked
// against everything written before the call, whichever instance wrote
// it). A lock that
// already ended (released or expired by at) is returned as it is, with
// nothing written, so releasing twice is harmless.
func (t *LockTable) Release(ctx context.Context, lockID string, at time.Time) (lock processors.Lock, found bool, err error) {
	l, ok := t.table.Get(lockID)
	if !ok {
		// It may have been granted through another instance a moment
		// ago: read the topic to its end before saying it does not exist.
		if err := t.catchUp(ctx); err != nil {
			return processors.Lock{}, false, err
		}
		if l, ok = t.table.Get(lockID); !ok {
			return processors.Lock{}, false, nil
		}
	}
	if !at.Before(l.End()) {
		return l, true, nil
	}
	rel := at.UTC().Truncate(time.Millisecond)
	l.ReleasedAt = &rel
	if err := t.write(ctx, &l); err != nil {
		return processors.Lock{}, true, err
	}
	l, _ = t.table.Get(lockID)
	return l, true, nil
}

// Get returns a granted lock by id.
func (t *LockTable) Get(lockID string) (processors.Lock, bool) { return t.table.Get(lockID) }

// Active returns the granted locks of a warehouse not ended at at.
func (t *LockTable) Active(wh string, at time.Time) []processors.Lock { return t.table.Active(wh, at) }

// write produces one lock record and waits until the table has applied it.
func (t *LockTable) write(ctx context.Context, l *processors.Lock) error {
	w := lockToWire(l)
	return t.put(ctx, "writing lock "+l.LockID, l.LockID, &w)
}

func lockToWire(l *processors.Lock) schemas.Lock {
	return schemas.Lock{LockID: l.LockID, WarehouseID: l.WarehouseID, LocationID: l.LocationID, ScannerID: l.ScannerID,
		AcquiredAt: l.AcquiredAt, ExpiresAt: l.ExpiresAt, ReleasedAt: l.ReleasedAt}
}

func lockFromWire(w *schemas.Lock) processors.Lock {
	return processors.Lock{LockID: w.LockID, WarehouseID: w.WarehouseID, LocationID: w.LocationID, ScannerID: w.ScannerID,
		AcquiredAt: w.AcquiredAt, ExpiresAt: w.ExpiresAt, ReleasedAt: w.ReleasedAt}
}
