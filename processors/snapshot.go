package processors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Reconciliation snapshots. Time is cut into slots, the multiples of the
// snapshot interval since the Unix epoch (for an interval that divides a
// day, such as 15m: :00, :15, :30 and :45 of every hour, UTC). Every
// partition publishes its stock records once per slot, under the slot's
// snapshot id, so the snapshots of all partitions for one slot share that
// id. The slot a partition last published is kept in its own state, so it
// travels through the changelog with the rest: a partition that moves, or
// whose owner restarts, does not publish a slot twice, and one that was
// not owned for a while publishes the current slot, not every slot missed.

// snapshotKey is the key of the partition's last published slot.
var snapshotKey = []byte{tagSnapshot}

const snapshotFormat = 1

// SnapshotSlot is the slot now falls in: the latest multiple of every since
// the Unix epoch at or before now, in UTC. every must be positive.
func SnapshotSlot(now time.Time, every time.Duration) time.Time {
	n, d := now.UnixNano(), every.Nanoseconds()
	m := n % d
	if m < 0 { // before 1970
		m += d
	}
	return time.Unix(0, n-m).UTC()
}

// SnapshotID names the snapshot of slot: "snap-" and the slot in RFC 3339,
// UTC, e.g. "snap-2026-11-26T10:15:00Z" (fractional seconds only for an
// interval that is not whole seconds).
func SnapshotID(slot time.Time) string {
	return "snap-" + slot.UTC().Format(time.RFC3339Nano)
}

// LastSnapshot returns the slot of the partition's last published snapshot;
// ok is false when it never published one.
func LastSnapshot(s Reader) (slot time.Time, ok bool, err error) {
	v, ok, err := s.Get(snapshotKey)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("reading the last snapshot slot: %w", err)
	}
	if !ok {
		return time.Time{}, false, nil
	}
	d := decoder{b: v}
	if d.byte() != snapshotFormat {
		return time.Time{}, false, fmt.Errorf("%w: last snapshot slot has an unknown format", errCorrupt)
	}
	ns := d.varint()
	if d.err != nil || len(d.b) != 0 {
		return time.Time{}, false, fmt.Errorf("%w: last snapshot slot", errCorrupt)
	}
	return time.Unix(0, ns).UTC(), true, nil
}

// SetLastSnapshot records slot as the partition's last published snapshot.
// Written in the batch of the transaction that publishes the snapshot, it
// commits with it or not at all.
func SetLastSnapshot(s Store, slot time.Time) error {
	v := binary.AppendVarint([]byte{snapshotFormat}, slot.UnixNano())
	if err := s.Set(snapshotKey, v); err != nil {
		return fmt.Errorf("writing the last snapshot slot: %w", err)
	}
	return nil
}

// EachPosition calls fn, in key order, with every stock record of the
// partition s holds. fn may keep the record.
func EachPosition(s Reader, fn func(*Record) error) error {
	lo := []byte{tagRecord}
	return s.Scan(lo, PrefixEnd(lo), func(k, v []byte) error {
		r, err := decodeRecord(k, v)
		if err != nil {
			return err
		}
		return fn(&r)
	})
}

// HasPositions reports whether the partition s holds any stock record.
func HasPositions(s Reader) (bool, error) {
	lo := []byte{tagRecord}
	found := false
	err := s.Scan(lo, PrefixEnd(lo), func(_, _ []byte) error {
		found = true
		return errStopScan
	})
	if errors.Is(err, errStopScan) {
		err = nil
	}
	return found, err
}
