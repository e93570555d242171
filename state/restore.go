package state

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Replay applies changelog mutations read from Kafka to partition p and moves
// its offset to nextOffset, atomically. Replaying a mutation twice is
// harmless: each is a whole-value set or a delete.
func (s *Store) Replay(p int32, muts []Mutation, nextOffset int64) error {
	b, done, err := s.writeBatch()
	if err != nil {
		return err
	}
	defer done()
	s.noteWritten(p, muts)
	for _, m := range muts {
		if m.Value == nil {
			err = b.Delete(partKey(p, m.Key), nil)
		} else {
			err = b.Set(partKey(p, m.Key), m.Value, nil)
		}
		if err != nil {
			return err
		}
	}
	if err := b.Set(offsetKey(p), be64(nextOffset), nil); err != nil {
		return err
	}
	s.hot.writing(p)
	if err := b.Commit(s.writeOpts()); err != nil {
		return fmt.Errorf("replaying changelog into partition %d: %w", p, err)
	}
	s.hot.written(p, muts)
	return nil
}

// Drop deletes all of partition p's state and its offset, so the next
// restore replays the changelog from the start. Used when the local copy can
// no longer be caught up (the changelog was truncated past it).
func (s *Store) Drop(p int32) error {
	b, done, err := s.writeBatch()
	if err != nil {
		return err
	}
	defer done()
	lo, hi := partBounds(p)
	if err := b.DeleteRange(lo, hi, nil); err != nil {
		return err
	}
	if err := b.Delete(offsetKey(p), nil); err != nil {
		return err
	}
	s.hot.writing(p)
	defer s.hot.drop(p) // after the delete, so nothing read before it stays
	return b.Commit(pebble.Sync)
}

// writeBatch holds the store open and starts a plain write batch on it;
// done closes the batch and releases the store.
func (s *Store) writeBatch() (b *pebble.Batch, done func(), err error) {
	s.mu.RLock()
	if s.db == nil {
		s.mu.RUnlock()
		return nil, nil, ErrClosed
	}
	b = s.db.NewBatch()
	return b, func() { b.Close(); s.mu.RUnlock() }, nil
}
