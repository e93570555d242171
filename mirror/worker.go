package mirror

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// fetched is one fetch's records of one partition, in offset order.
type fetched struct {
	tp      topicPartition
	records []*kgo.Record
}

// worker applies the partitions it is given, one SQL transaction per batch.
// Every partition goes to exactly one worker for a session, so its records
// are applied in order; workers run in parallel on disjoint partitions.
type worker struct {
	in    chan fetched
	m     *Mirror
	limit int // records per batch, soft: a fetch is never split
}

// run applies what arrives until ctx ends (nil) or a batch fails to commit
// (the error; the batch is dropped, and the caller restarts consumption
// from the stored offsets).
func (w *worker) run(ctx context.Context) error {
	for {
		var f fetched
		select {
		case <-ctx.Done():
			return nil
		case f = <-w.in:
		}
		b := newBatch()
		w.add(b, f)
	fill:
		for b.total < w.limit {
			select {
			case f = <-w.in:
				w.add(b, f)
			default:
				break fill
			}
		}
		start := time.Now()
		if err := w.m.store.apply(ctx, b); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return dbError{fmt.Errorf("applying a batch of %d records: %w", b.total, err)}
		}
		end := time.Now()
		w.m.metrics.committed(ctx, b, end.Sub(start).Seconds())
		w.m.applied(ctx, b, start, end)
		w.m.progress.committed(b)
	}
}

func (w *worker) add(b *batch, f fetched) {
	for _, r := range f.records {
		b.add(r, w.m.decoders)
	}
}

// dbError marks a failure of the database (as opposed to Kafka), for the
// log line and the retry.
type dbError struct{ err error }

func (e dbError) Error() string { return e.err.Error() }
func (e dbError) Unwrap() error { return e.err }
