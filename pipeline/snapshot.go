package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
)

// SnapshotRecordsHeader is the header every snapshot record carries: the
// number of records, in decimal, of its partition's part of the snapshot,
// so a consumer knows when it has all of them.
const SnapshotRecordsHeader = "snapshot-records"

// snapshotDue publishes the current slot's snapshot (processors.SnapshotSlot)
// of every verified owned partition that has stock records and has not
// published that slot yet: one PositionSnapshot per stock record on the
// snapshot topic's partition of the same number, and the slot recorded in
// the partition's state, in one Kafka transaction per partition. A
// read_committed consumer sees a partition's snapshot whole or not at all,
// and never twice: the recorded slot commits with it.
//
// A partition whose snapshot cannot be read or encoded is logged and
// skipped (tried again at the next call), so a snapshot never stops the
// processing of scans; Kafka errors end the session like any other.
func (p *Processing) snapshotDue(ctx context.Context, sess *kgo.GroupTransactSession) error {
	slot := processors.SnapshotSlot(p.cfg.Now(), p.cfg.SnapshotInterval)
	p.mu.Lock()
	var parts []int32
	for part, ph := range p.owned {
		if ph == verified {
			parts = append(parts, part)
		}
	}
	p.mu.Unlock()
	slices.Sort(parts)
	for _, part := range parts {
		n, err := p.snapshotPending(part, slot)
		if err != nil {
			p.log.Error("cannot read the partition's state for a snapshot; skipped", "partition", part, "err", err)
			continue
		}
		if n == 0 {
			continue
		}
		if err := p.publishSnapshot(ctx, sess, part, slot, n); err != nil {
			return err
		}
	}
	return nil
}

// snapshotPending returns how many stock records partition part has to
// publish for slot: 0 when it already published slot (or a later one) or
// has no stock records.
func (p *Processing) snapshotPending(part int32, slot time.Time) (int, error) {
	r := p.cfg.Store.Partition(part)
	last, ok, err := processors.LastSnapshot(r)
	if err != nil || (ok && !last.Before(slot)) {
		return 0, err
	}
	n := 0
	err = processors.EachPosition(r, func(*processors.Record) error { n++; return nil })
	return n, err
}

// publishSnapshot publishes partition part's snapshot of slot, n records,
// in one Kafka transaction. takenAt is when that transaction began.
func (p *Processing) publishSnapshot(ctx context.Context, sess *kgo.GroupTransactSession, part int32, slot time.Time, n int) error {
	tx, err := p.begin(sess)
	if err != nil {
		return err
	}
	defer tx.discard()
	b := tx.batch(part)
	id := processors.SnapshotID(slot)
	headers := []kgo.RecordHeader{{Key: SnapshotRecordsHeader, Value: []byte(strconv.Itoa(n))}}
	sent := 0
	err = processors.EachPosition(b, func(r *processors.Record) error {
		w := snapshotToWire(r, id, part, tx.now)
		v, err := p.cfg.Codec.AppendPositionSnapshot(nil, &w)
		if err != nil {
			return err
		}
		tx.produce(ctx, &kgo.Record{Topic: p.cfg.Topics.PositionSnapshots, Partition: part,
			Key: []byte(processors.StockKey(r.WarehouseID, r.ItemID)), Value: v, Headers: headers})
		sent++
		return nil
	})
	if err == nil && sent != n {
		err = fmt.Errorf("counted %d stock records, then read %d", n, sent)
	}
	if err == nil {
		err = processors.SetLastSnapshot(b, slot)
	}
	if err != nil {
		p.abort(ctx, sess)
		p.log.Error("snapshot not published; trying again", "snapshot", id, "partition", part, "err", err)
		return nil
	}
	committed, err := p.commit(ctx, sess, tx)
	if err != nil || !committed {
		return err
	}
	p.snapshots.Add(ctx, int64(n))
	p.log.Debug("snapshot published", "snapshot", id, "partition", part, "records", n)
	return nil
}

// snapshotToWire is one stock record as part of snapshot id of partition
// part, taken at takenAt.
func snapshotToWire(r *processors.Record, id string, part int32, takenAt time.Time) schemas.PositionSnapshot {
	return schemas.PositionSnapshot{
		SnapshotID:  id,
		Partition:   part,
		TakenAt:     takenAt,
		WarehouseID: r.WarehouseID,
		ItemID:      r.ItemID,
		LocationID:  r.LocationID,
		LotNumber:   r.LotNumber,
		OnHand:      r.OnHand,
		Allocated:   r.Allocated,
		Available:   r.Available(),
		Version:     r.Version,
		UpdatedAt:   time.UnixMilli(r.UpdatedAt),
	}
}
