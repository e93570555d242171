package processors

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Event kinds that are not scanner transaction types: the type of an event
// that restates a record rather than reporting a scan.
const (
	// Reservation: an allocation decision changed the record's allocated
	// (and so available) quantity; onHand is unchanged.
	Reservation TxType = "RESERVATION"
	// Correction: a reconciliation found the cloud's view of the record
	// wrong; the event restates the warehouse's position (the warehouse
	// wins). onHand is unchanged.
	Correction TxType = "RECONCILIATION_CORRECTION"
)

// recordTracker is a Store that remembers which stock records were
// written, in the order of their first write. Every change to a record
// bumps its version, and a consumer applying events by version must see
// one event per version: a record changed by an allocation decision (a
// reservation, a release, a shortfall moving a reservation to another
// location) gets an event of its own.
type recordTracker struct {
	Store
	keys [][]byte
	// seen indexes keys once there are more than a transaction usually
	// writes (a linear search is cheaper below that, and costs no map).
	seen map[string]bool
}

const trackerLinear = 8

func track(s Store) *recordTracker { return &recordTracker{Store: s} }

// Set records the first write of each stock record.
func (t *recordTracker) Set(key, value []byte) error {
	if len(key) > 0 && key[0] == tagRecord && !t.tracked(key) {
		k := append([]byte(nil), key...)
		t.keys = append(t.keys, k)
		switch {
		case t.seen != nil:
			t.seen[string(k)] = true
		case len(t.keys) > trackerLinear:
			t.seen = make(map[string]bool, 2*len(t.keys))
			for _, k := range t.keys {
				t.seen[string(k)] = true
			}
		}
	}
	return t.Store.Set(key, value)
}

func (t *recordTracker) tracked(key []byte) bool {
	if t.seen != nil {
		return t.seen[string(key)]
	}
	for _, k := range t.keys {
		if bytes.Equal(k, key) {
			return true
		}
	}
	return false
}

// reservationEvents returns one Reservation event for each record written
// through t whose record no event of covered reports (records that already
// have an event), as the record stands now. Their ids are
// "evt-<cause>-r<n>".
func (t *recordTracker) reservationEvents(covered []Event, cause string, now time.Time) ([]Event, error) {
	var out []Event
	for _, k := range t.keys {
		if slices.ContainsFunc(covered, func(e Event) bool { return isRecordKey(k, e.WarehouseID, e.ItemID, e.LocationID, e.LotNumber) }) {
			continue
		}
		v, ok, err := t.Store.Get(k)
		if err != nil || !ok {
			return nil, fmt.Errorf("reading changed record %q: %w", k, err)
		}
		r, err := decodeRecord(k, v)
		if err != nil {
			return nil, err
		}
		out = append(out, recordEvent(&r, Reservation, "evt-"+cause+"-r"+strconv.Itoa(len(out)+1), cause, now))
	}
	return out, nil
}

// recordEvent is an event restating record r (quantityChange 0).
func recordEvent(r *Record, typ TxType, id, cause string, now time.Time) Event {
	return Event{
		EventID: id, Timestamp: now, Type: typ, WarehouseID: r.WarehouseID, ItemID: r.ItemID,
		LocationID: r.LocationID, LotNumber: r.LotNumber, ResultingOnHand: r.OnHand, TransactionID: cause,
		Version: r.Version, Allocated: r.Allocated, Available: r.Available(),
		DeviceTimestamp: now, CorrectedTimestamp: now,
	}
}
