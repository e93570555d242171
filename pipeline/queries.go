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
	Err       error // ErrNotOwner, ErrRestoring or ErrCatchingUp
}

func (e *PartitionError) Error() string { return fmt.Sprintf("partition %d: %v", e.Partition, e.Err) }
func (e *PartitionError) Unwrap() error { return e.Err }

// PartitionID is the partition the read needed.
func (e *PartitionError) PartitionID() int32 { return e.Partition }

// OwnedElsewhere reports whether another instance owns the partition (the
// read can be forwarded to it), rather than it being restored or catching
// up with its input here.
func (e *PartitionError) OwnedElsewhere() bool { return errors.Is(e.Err, ErrNotOwner) }

// Queries answers reads from local state, only for partitions this
// instance owns and has restored: never stale data. A lookup by id that
// misses in a partition still catching up with its input (catchup.go) fails
// with ErrCatchingUp rather than reporting "not found": what it looks for
// may be in input accepted and not yet applied.
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

// readable returns part's state, or a PartitionError saying why it cannot
// be read here.
func (q *Queries) readable(part int32) (state.Reader, error) {
	st := q.proc.Partition(part)
	switch {
	case !st.Owned:
		return state.Reader{}, &PartitionError{part, ErrNotOwner}
	case !st.Restored:
		return state.Reader{}, &PartitionError{part, ErrRestoring}
	}
	return q.store.Partition(part), nil
}

func (q *Queries) reader(stockKey string) (state.Reader, error) {
	return q.readable(q.producer.Partition(stockKey, q.partitions))
}

// lookupIn looks a record up by id in part's state r; a miss while part is
// catching up with its input is ErrCatchingUp. Whether it has caught up is
// asked before the read, so a miss after "caught up" is a real one.
func lookupIn[T any](q *Queries, part int32, r state.Reader, lookup func(state.Reader) (T, bool, error)) (T, bool, error) {
	caughtUp := q.proc.CaughtUp(part)
	v, ok, err := lookup(r)
	if err != nil || ok || caughtUp {
		return v, ok, err
	}
	return v, false, &PartitionError{part, ErrCatchingUp}
}

// lookupKey looks a record up by id in the partition of stockKey.
func lookupKey[T any](q *Queries, stockKey string, lookup func(state.Reader) (T, bool, error)) (T, bool, error) {
	part := q.producer.Partition(stockKey, q.partitions)
	r, err := q.readable(part)
	if err != nil {
		var zero T
		return zero, false, err
	}
	return lookupIn(q, part, r, lookup)
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
	return lookupKey(q, stockKey, func(r state.Reader) (processors.Outcome, bool, error) { return processors.LookupOutcome(r, txid) })
}

// FindOutcome looks txid up in every partition, for callers that know only
// the id. It fails with a PartitionError when some partition cannot be
// searched, unless the outcome was found elsewhere.
func (q *Queries) FindOutcome(_ context.Context, txid string) (processors.Outcome, bool, error) {
	return findAnywhere(q, func(r state.Reader) (processors.Outcome, bool, error) { return processors.LookupOutcome(r, txid) })
}

// Allocation returns an allocation whose stock key is known.
func (q *Queries) Allocation(_ context.Context, wh, item, id string) (processors.Allocation, bool, error) {
	return lookupKey(q, processors.StockKey(wh, item), func(r state.Reader) (processors.Allocation, bool, error) {
		return processors.LookupAllocation(r, id)
	})
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
// done. Partitions that cannot be read, and those for which fn returns a
// PartitionError, are skipped; the first of those errors is returned at the
// end, one for a partition owned here (restoring or catching up) before one
// owned elsewhere: what it lacks no other instance can answer for.
func (q *Queries) eachPartition(fn func(int32, state.Reader) (bool, error)) error {
	var firstErr *PartitionError
	skip := func(err error) bool {
		var pe *PartitionError
		if !errors.As(err, &pe) {
			return false
		}
		if firstErr == nil || (firstErr.OwnedElsewhere() && !pe.OwnedElsewhere()) {
			firstErr = pe
		}
		return true
	}
	for part := range q.partitions {
		r, err := q.readable(part)
		if err != nil {
			skip(err)
			continue
		}
		done, err := fn(part, r)
		if err != nil && !skip(err) {
			return err
		}
		if done {
			return nil
		}
	}
	if firstErr == nil {
		return nil
	}
	return firstErr
}

// findAnywhere looks a record up with lookup in every partition until it is
// found. It fails with a PartitionError when some partition cannot be
// searched, unless the record was found elsewhere.
func findAnywhere[T any](q *Queries, lookup func(state.Reader) (T, bool, error)) (T, bool, error) {
	var found T
	var ok bool
	err := q.eachPartition(func(part int32, r state.Reader) (bool, error) {
		v, hit, err := lookupIn(q, part, r, lookup)
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
	err := q.eachPartition(func(_ int32, r state.Reader) (bool, error) {
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
