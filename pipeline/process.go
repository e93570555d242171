package pipeline

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// process applies one poll's records inside one Kafka transaction.
func (s *session) process(ctx context.Context, fetches kgo.Fetches) error {
	byPart, lag := s.byPartition(fetches)
	if len(byPart) == 0 {
		return nil
	}
	// Records were fetched, so the group's offsets were stable: any
	// previous owner's transaction on these partitions has ended, and the
	// changelog's stable end is final. Catch up before applying.
	also := map[int32]bool{}
	for part := range byPart {
		also[part] = true
	}
	rewound, err := s.restorePending(ctx, also)
	if err != nil {
		return err
	}
	for part := range rewound {
		delete(byPart, part) // read again from the state's offset by the next poll
	}
	if len(byPart) == 0 {
		return nil
	}
	began := time.Now()
	w, err := s.begin()
	if err != nil {
		return err
	}
	defer w.discard()
	if err := s.applyAll(ctx, w, byPart); err != nil {
		s.abort(ctx)
		return err
	}
	if err := recordInputs(w, byPart); err != nil {
		s.abort(ctx)
		return err
	}
	s.metrics.cycle.Record(ctx, time.Since(began).Seconds(), phaseApply)
	committed, err := s.commit(ctx, w)
	s.logPoll(ctx, byPart, committed, err)
	if err != nil || !committed {
		return err
	}
	s.own.setLag(lag)
	return nil
}

// byPartition groups the input records of a poll by partition, each
// partition's records in the order they were written (a stock key's
// transactions and allocation requests arrive on two topics), and returns
// each partition's lag behind its high watermark.
func (s *session) byPartition(fetches kgo.Fetches) (map[int32][]*kgo.Record, map[int32]int64) {
	t := s.cfg.Topics
	byPart := map[int32][]*kgo.Record{}
	lag := map[int32]int64{}
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if (fp.Topic != t.Transactions && fp.Topic != t.AllocationRequests && fp.Topic != t.Commands) || len(fp.Records) == 0 {
			return
		}
		byPart[fp.Partition] = append(byPart[fp.Partition], fp.Records...)
		lag[fp.Partition] += max(fp.HighWatermark-(fp.Records[len(fp.Records)-1].Offset+1), 0)
	})
	for _, recs := range byPart {
		sort.SliceStable(recs, func(i, j int) bool { return recs[i].Timestamp.Before(recs[j].Timestamp) })
	}
	return byPart, lag
}

// applyAll applies each partition's records, and then its due timers, to
// its own batch. Partitions are independent: they run in parallel, one
// goroutine each, at most GOMAXPROCS at a time. It returns the first
// error; the caller aborts the transaction.
func (s *session) applyAll(ctx context.Context, w *txWork, byPart map[int32][]*kgo.Record) error {
	for part := range byPart {
		w.batch(part) // create every batch before the goroutines start
	}
	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
		sem   = make(chan struct{}, runtime.GOMAXPROCS(0))
	)
	for part, recs := range byPart {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := s.applyPartition(ctx, w, part, recs); err != nil {
				errMu.Lock()
				if first == nil {
					first = err
				}
				errMu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

func (s *session) applyPartition(ctx context.Context, w *txWork, part int32, recs []*kgo.Record) error {
	b := w.batches[part]
	var buf []byte
	for _, rec := range recs {
		if err := s.applyRecord(ctx, w, b, part, rec, &buf); err != nil {
			return fmt.Errorf("partition %d offset %d of %s: %w", part, rec.Offset, rec.Topic, err)
		}
	}
	if err := s.runTimers(ctx, w, b, part); err != nil {
		return fmt.Errorf("partition %d timers: %w", part, err)
	}
	return nil
}

// recordInputs records, in each partition's state, how far it has consumed
// its input, in the same transaction as the group's offsets (see
// checkInputs).
func recordInputs(w *txWork, byPart map[int32][]*kgo.Record) error {
	for part, recs := range byPart {
		next := map[string]int64{}
		for _, r := range recs {
			next[r.Topic] = max(next[r.Topic], r.Offset+1)
		}
		for topic, off := range next {
			if err := w.batches[part].Set(inputKey(topic), binary.BigEndian.AppendUint64(nil, uint64(off))); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *session) logPoll(ctx context.Context, byPart map[int32][]*kgo.Record, committed bool, err error) {
	if !s.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	for part, recs := range byPart {
		s.log.Debug("poll applied", "committed", committed, "err", err, "partition", part, "records", len(recs),
			"first", recs[0].Topic+"@"+strconv.FormatInt(recs[0].Offset, 10),
			"last", recs[len(recs)-1].Topic+"@"+strconv.FormatInt(recs[len(recs)-1].Offset, 10))
	}
}
