package processors

import (
	"encoding/binary"
	"errors"
	"time"
)

// Expire releases the allocations of s whose expiresAt is at or before now,
// returning the decisions and the events of the records released.
func (p *Processor) Expire(s Store, now time.Time) ([]Allocation, []Event, error) {
	lo, hi := dueRange(now)
	var ids []string
	if err := s.Scan(lo, hi, func(k, _ []byte) error {
		ids = append(ids, string(k[9:]))
		return nil
	}); err != nil {
		return nil, nil, err
	}
	var out []Allocation
	var events []Event
	for _, id := range ids {
		ts := track(s)
		r, err := p.cancel(ts, id, AllocExpired, ReasonExpired, now)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, r.Decisions...)
		if len(r.Decisions) > 0 {
			evs, err := ts.reservationEvents(nil, DecisionID(&r.Decisions[len(r.Decisions)-1]), now)
			if err != nil {
				return nil, nil, err
			}
			events = append(events, evs...)
		}
	}
	return out, events, nil
}

// ExpiryDue reports whether an allocation of the partition s holds expires
// at or before now (Expire would release something).
func ExpiryDue(s Reader, now time.Time) (bool, error) {
	lo, hi := dueRange(now)
	due := false
	err := s.Scan(lo, hi, func(_, _ []byte) error {
		due = true
		return errStopScan
	})
	if errors.Is(err, errStopScan) {
		err = nil
	}
	return due, err
}

// dueRange bounds the expiry index keys of the allocations that expire at
// or before now.
func dueRange(now time.Time) (lo, hi []byte) {
	lo = []byte{tagAllocExpiry}
	hi = binary.BigEndian.AppendUint64([]byte{tagAllocExpiry}, uint64(now.UnixMilli()+1)^(1<<63))
	return lo, hi
}
