package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/state"
)

// Errors of reads that this instance cannot answer correctly right now.
var (
	// ErrNotOwner: another instance owns the stock key's partition.
	ErrNotOwner = errors.New("partition owned by another instance")
	// ErrRestoring: the partition's state is still being restored.
	ErrRestoring = errors.New("partition state is being restored")
)

// PartitionError says which partition a read could not be served from.
type PartitionError struct {
	Partition int32
	Err       error // ErrNotOwner or ErrRestoring
}

func (e *PartitionError) Error() string { return fmt.Sprintf("partition %d: %v", e.Partition, e.Err) }
func (e *PartitionError) Unwrap() error { return e.Err }

// PartitionID is the partition the read needed.
func (e *PartitionError) PartitionID() int32 { return e.Partition }

// OwnedElsewhere reports whether another instance owns the partition (the
// read can be forwarded to it), rather than it being restored here.
func (e *PartitionError) OwnedElsewhere() bool { return errors.Is(e.Err, ErrNotOwner) }

// Queries answers reads from local state, only for partitions this
// instance owns and has restored: never stale data.
type Queries struct {
	store      *state.Store
	proc       *Processing
	producer   *Producer
	partitions int32
}

// NewQueries returns the read side over store.
func NewQueries(store *state.Store, proc *Processing, producer *Producer, partitions int32) *Queries {
	return &Queries{store: store, proc: proc, producer: producer, partitions: partitions}
}

func (q *Queries) reader(stockKey string) (state.Reader, error) {
	part := q.producer.Partition(stockKey, q.partitions)
	st := q.proc.Partition(part)
	switch {
	case !st.Owned:
		return state.Reader{}, &PartitionError{part, ErrNotOwner}
	case !st.Restored:
		return state.Reader{}, &PartitionError{part, ErrRestoring}
	}
	return q.store.Partition(part), nil
}

// Positions returns the stock records of an item in a warehouse.
func (q *Queries) Positions(_ context.Context, wh, item string, loc, lot *string) ([]processors.Record, error) {
	r, err := q.reader(processors.StockKey(wh, item))
	if err != nil {
		return nil, err
	}
	return processors.Positions(r, wh, item, loc, lot)
}

// Outcome returns the outcome of txid, whose stock key is known.
func (q *Queries) Outcome(_ context.Context, stockKey, txid string) (processors.Outcome, bool, error) {
	r, err := q.reader(stockKey)
	if err != nil {
		return processors.Outcome{}, false, err
	}
	return processors.LookupOutcome(r, txid)
}

// FindOutcome looks txid up in every partition, for callers that know only
// the id. It fails with a PartitionError when some partition cannot be
// searched, unless the outcome was found elsewhere.
func (q *Queries) FindOutcome(_ context.Context, txid string) (processors.Outcome, bool, error) {
	return findAnywhere(q, func(r state.Reader) (processors.Outcome, bool, error) { return processors.LookupOutcome(r, txid) })
}

// Allocation returns an allocation whose stock key is known.
func (q *Queries) Allocation(_ context.Context, wh, item, id string) (processors.Allocation, bool, error) {
	r, err := q.reader(processors.StockKey(wh, item))
	if err != nil {
		return processors.Allocation{}, false, err
	}
	return processors.LookupAllocation(r, id)
}

// FindAllocation looks an allocation up in every partition.
func (q *Queries) FindAllocation(_ context.Context, id string) (processors.Allocation, bool, error) {
	return findAnywhere(q, func(r state.Reader) (processors.Allocation, bool, error) { return processors.LookupAllocation(r, id) })
}

// OrderAllocations returns every allocation of an order, from every
// partition; it fails if a partition cannot be read here.
func (q *Queries) OrderAllocations(_ context.Context, orderID string) ([]processors.Allocation, error) {
	return collectAll(q, func(r state.Reader) ([]processors.Allocation, error) { return processors.OrderAllocations(r, orderID) })
}

// eachPartition calls fn on every readable partition until it reports
// done; the first unreadable partition's error is returned at the end.
func (q *Queries) eachPartition(fn func(state.Reader) (bool, error)) error {
	var firstErr error
	for part := range q.partitions {
		st := q.proc.Partition(part)
		if !st.Owned || !st.Restored {
			if firstErr == nil {
				why := ErrNotOwner
				if st.Owned {
					why = ErrRestoring
				}
				firstErr = &PartitionError{part, why}
			}
			continue
		}
		done, err := fn(q.store.Partition(part))
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
	return firstErr
}

// findAnywhere looks a record up with lookup in every partition until it is
// found. It fails with a PartitionError when some partition cannot be
// searched, unless the record was found elsewhere.
func findAnywhere[T any](q *Queries, lookup func(state.Reader) (T, bool, error)) (T, bool, error) {
	var found T
	var ok bool
	err := q.eachPartition(func(r state.Reader) (bool, error) {
		v, hit, err := lookup(r)
		if hit {
			found, ok = v, true
		}
		return hit, err
	})
	if ok {
		return found, true, nil
	}
	var zero T
	return zero, false, err
}

// collectAll gathers what list returns from every partition readable here;
// it fails with a PartitionError naming the first partition it could not
// read, with what it found in the others.
func collectAll[T any](q *Queries, list func(state.Reader) ([]T, error)) ([]T, error) {
	var out []T
	err := q.eachPartition(func(r state.Reader) (bool, error) {
		vs, err := list(r)
		out = append(out, vs...)
		return false, err
	})
	return out, err
}

// Discrepancies returns the discrepancies of a warehouse with one of
// statuses (none: any) from every partition readable here; it fails with a
// PartitionError naming the first partition it could not read, with what it
// found in the others.
func (q *Queries) Discrepancies(_ context.Context, wh string, statuses []string) ([]processors.Discrepancy, error) {
	return collectAll(q, func(r state.Reader) ([]processors.Discrepancy, error) {
		return processors.Discrepancies(r, wh, statuses...)
	})
}

// FindDiscrepancy looks a discrepancy up in every partition.
func (q *Queries) FindDiscrepancy(_ context.Context, id string) (processors.Discrepancy, bool, error) {
	return findAnywhere(q, func(r state.Reader) (processors.Discrepancy, bool, error) { return processors.LookupDiscrepancy(r, id) })
}

// HeldCounts returns the held counts of a warehouse with status ("" for
// any), like Discrepancies.
func (q *Queries) HeldCounts(_ context.Context, wh, status string) ([]processors.HeldCount, error) {
	return collectAll(q, func(r state.Reader) ([]processors.HeldCount, error) { return processors.HeldCounts(r, wh, status) })
}

// FindHeld looks a held count up by transactionId in every partition.
func (q *Queries) FindHeld(_ context.Context, txid string) (processors.HeldCount, bool, error) {
	return findAnywhere(q, func(r state.Reader) (processors.HeldCount, bool, error) { return processors.LookupHeld(r, txid) })
}
