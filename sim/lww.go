package sim

import (
	"sync"
	"time"

	wire "github.com/invsync/invsync/api"
)

// lww is the reference system of the story: transactions applied in the
// order they arrive, deltas added, and a count (an absolute write) winning
// only if its device timestamp is not older than the record's last write
// ("last write wins, the timestamp as tiebreaker"). Device timestamps are
// used as sent: the story corrects no clock. Duplicates are ignored by
// transactionId, as the story's UUIDs allow. Nothing is held for review.
// It is fed from the upload answers the devices get (see recorder), so it
// sees exactly the transactions invsync accepted, in the order they were
// accepted.
type lww struct {
	mu   sync.Mutex
	recs map[string]*lwwRecord
	seen map[string]bool
}

type lwwRecord struct {
	onHand int64
	last   time.Time // the latest write's device timestamp
}

func newLWW() *lww { return &lww{recs: map[string]*lwwRecord{}, seen: map[string]bool{}} }

// recordKey names a stock record (lot numbers are not used by the world).
func recordKey(wh, item, loc string) string { return wh + "\x00" + item + "\x00" + loc }

// apply takes one arrived transaction.
func (l *lww) apply(tx wire.Transaction) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[tx.TransactionID] {
		return
	}
	l.seen[tx.TransactionID] = true
	at, err := time.Parse(time.RFC3339Nano, tx.Timestamp)
	if err != nil {
		return
	}
	rec := func(loc string) *lwwRecord {
		k := recordKey(tx.WarehouseID, tx.ItemID, loc)
		r := l.recs[k]
		if r == nil {
			r = &lwwRecord{}
			l.recs[k] = r
		}
		return r
	}
	delta := func(r *lwwRecord, q int64) {
		r.onHand += q
		if at.After(r.last) {
			r.last = at
		}
	}
	switch tx.Type {
	case "RECEIPT", "ADJUSTMENT":
		delta(rec(tx.LocationID), tx.Quantity)
	case "PICK":
		delta(rec(tx.LocationID), -tx.Quantity)
	case "MOVE":
		delta(rec(tx.LocationID), -tx.Quantity)
		delta(rec(tx.ToLocationID), tx.Quantity)
	case "CYCLE_COUNT":
		if r := rec(tx.LocationID); !at.Before(r.last) {
			r.onHand, r.last = tx.Quantity, at
		}
	}
}

// onHand returns the record's on-hand (0 for a record never written).
func (l *lww) onHand(key string) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r := l.recs[key]; r != nil {
		return r.onHand
	}
	return 0
}
