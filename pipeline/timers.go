package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
	"github.com/invsync/invsync/state"
)

// Timers: allocation expiry and reconciliation snapshots fall due by the
// wall clock, not by input. They run inside the Kafka transaction of a
// poll, after the partition's records, because that transaction commits
// the group's offsets (KIP-447): an instance that lost its partitions while
// paused (a zombie) is refused by the group's generation check and commits
// none of what its timers did. A transaction of timers alone would carry
// no offsets and so no such fence. (A snapshot is decided and recorded
// there; its records are published by a job fenced on its own, see
// snapshots.go, so that a large partition's snapshot does not hold its
// input.)
//
// A partition without input still gets its timers run: while one is due,
// its owner writes a tick to the partition's transactions partition (an
// empty record with the TickHeader), and the poll that reads the tick runs
// the timers. Ticks are harmless wherever they come from, a zombie
// included: a tick changes nothing, it only makes a poll happen.

// TickHeader marks a tick record on the transactions topic.
const TickHeader = "invsync-tick"

// SnapshotRecordsHeader is the header every snapshot record carries: the
// number of records, in decimal, of its partition's part of the snapshot,
// so a consumer knows when it has all of them.
const SnapshotRecordsHeader = "snapshot-records"

// tickEvery bounds how often a partition with a due timer is ticked.
const tickEvery = 2 * time.Second

func isTick(r *kgo.Record) bool {
	for _, h := range r.Headers {
		if h.Key == TickHeader {
			return true
		}
	}
	return false
}

// runTimers runs partition part's due timers into the poll's transaction:
// it releases the reservations of allocations past their expiresAt and,
// once per snapshot slot, has the partition's snapshot published by a job
// (snapshots.go) and records the slot once it is.
func (s *session) runTimers(ctx context.Context, w *txWork, b *state.Batch, part int32) error {
	decs, events, err := s.cfg.Processor.Expire(b, w.now)
	if err != nil {
		return fmt.Errorf("expiring allocations: %w", err)
	}
	if err := s.emitEvents(ctx, w, part, events, nil); err != nil {
		return err
	}
	if len(decs) > 0 {
		if err := w.decide(ctx, part, decs); err != nil {
			return err
		}
	}
	if s.cfg.SnapshotInterval <= 0 {
		return nil
	}
	slot := processors.SnapshotSlot(w.now, s.cfg.SnapshotInterval)
	if last, ok, err := processors.LastSnapshot(b); err != nil || (ok && !last.Before(slot)) {
		return err
	}
	return s.snaps.advance(b, part, slot, w.now)
}

// tickDue writes a tick to every owned, restored partition that has a
// timer due and has not been ticked in the last tickEvery. Errors are
// logged: a tick that is not written is written again next time. Timers
// fall due by the domain clock; ticks are spaced by the wall clock.
func (s *session) tickDue(ctx context.Context) {
	now, wall := s.cfg.Now(), time.Now()
	for _, part := range s.own.tickCandidates(s.id, wall, tickEvery) {
		due, err := s.timerDue(part, now)
		if err != nil {
			s.log.Warn("cannot read the partition's timers", "partition", part, "err", err)
			continue
		}
		if !due {
			continue
		}
		s.own.ticked(part, wall)
		s.ticker.Produce(ctx, &kgo.Record{Topic: s.cfg.Topics.Transactions, Partition: part,
			Headers: []kgo.RecordHeader{{Key: TickHeader, Value: []byte(now.UTC().Format(time.RFC3339Nano))}}},
			func(_ *kgo.Record, err error) {
				if err != nil {
					s.log.Warn("writing a timer tick", "partition", part, "err", err)
				}
			})
	}
}

// timerDue reports whether partition part's committed state has an
// allocation expiry or a snapshot due at now.
func (p *Processing) timerDue(part int32, now time.Time) (bool, error) {
	r := p.cfg.Store.Partition(part)
	if due, err := processors.ExpiryDue(r, now); err != nil || due {
		return due, err
	}
	if p.cfg.SnapshotInterval <= 0 {
		return false, nil
	}
	last, ok, err := processors.LastSnapshot(r)
	if err != nil || (ok && !last.Before(processors.SnapshotSlot(now, p.cfg.SnapshotInterval))) {
		return false, err
	}
	return processors.HasPositions(r)
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
