package pipeline

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/invsync/invsync/state"
)

// restorePending restores every owned partition not yet restored, and
// verifies those in also (partitions about to be processed) that are not
// yet verified.
//
// A partition is verified only once its state agrees with the group's
// committed input offsets (checkInputs); it returns the partitions whose
// input had to be rewound to agree, whose records fetched so far must not
// be applied.
func (s *session) restorePending(ctx context.Context, also map[int32]bool) (map[int32]bool, error) {
	parts, verifying := s.own.toRestore(s.id, also)
	if len(parts) == 0 {
		return nil, nil
	}
	if err := s.restore(ctx, parts); err != nil {
		return nil, err
	}
	rewound, err := s.checkInputs(ctx, verifying)
	if err != nil {
		return nil, err
	}
	// The input's ends are taken last, just before the partitions become
	// readable: what was written before then, they must apply before a
	// lookup that misses may say "not found" (catchup.go).
	ends, err := s.inputEnds(ctx, parts)
	if err != nil {
		return nil, err
	}
	s.own.advance(parts, also, ends)
	return rewound, nil
}

// restore replays the changelog of parts from each one's local offset up to
// the last stable offset, so local state equals what Kafka committed.
func (s *session) restore(ctx context.Context, parts []int32) error {
	target, pos, total, err := s.restorePlan(ctx, parts)
	if err != nil || len(target) == 0 {
		return err
	}
	first := maps.Clone(pos)
	began, lastLog := time.Now(), time.Now()
	s.log.Info("restoring partitions from the changelog", "partitions", len(target), "records", total)
	var done int64
	for len(target) > 0 {
		progressed, err := s.fetchChangelog(ctx, target, pos)
		if err != nil {
			return err
		}
		done += progressed
		for part, tgt := range target {
			s.own.restoreProgress(part, tgt-pos[part], tgt-first[part])
			if pos[part] >= tgt {
				delete(target, part)
			}
		}
		if time.Since(lastLog) > 5*time.Second {
			lastLog = time.Now()
			s.log.Info("restoring", "done", done, "of", total, "partitions_left", len(target), "positions", pos, "targets", target)
		}
	}
	s.log.Info("restore complete", "records", done, "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// restorePlan returns, for each of parts that is behind, the changelog's
// stable end to reach and the next offset to read, with the total to
// replay. A local copy that cannot be caught up (the changelog was
// truncated past it, or the topic was recreated) is dropped and rebuilt.
func (s *session) restorePlan(ctx context.Context, parts []int32) (target, pos map[int32]int64, total int64, err error) {
	topic := s.cfg.Topics.Changelog
	ends, err := s.adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("listing changelog end offsets: %w", err)
	}
	if ends, err = s.awaitStable(ctx, topic, parts, ends); err != nil {
		return nil, nil, 0, err
	}
	starts, err := s.adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("listing changelog start offsets: %w", err)
	}
	target, pos = map[int32]int64{}, map[int32]int64{}
	for _, part := range parts {
		end, ok := ends.Lookup(topic, part)
		start, ok2 := starts.Lookup(topic, part)
		if !ok || !ok2 || end.Err != nil || start.Err != nil {
			return nil, nil, 0, fmt.Errorf("changelog partition %d offsets unavailable: %v %v", part, end.Err, start.Err)
		}
		next, err := s.cfg.Store.Offset(part)
		if err != nil {
			return nil, nil, 0, err
		}
		if next < start.Offset || next > end.Offset {
			s.log.Warn("local state of partition cannot be caught up; rebuilding from the changelog",
				"partition", part, "local_offset", next, "log_start", start.Offset, "log_end", end.Offset)
			if err := s.cfg.Store.Drop(part); err != nil {
				return nil, nil, 0, err
			}
			next = start.Offset
		}
		if next < end.Offset {
			target[part], pos[part] = end.Offset, next
			total += end.Offset - next
			s.own.restoreProgress(part, end.Offset-next, end.Offset-next)
		}
	}
	return target, pos, total, nil
}

// fetchChangelog fetches once from each partition in target, from pos, and
// replays what it reads. It uses raw read_committed fetches rather than a
// consumer because it needs the position past what it read even when what
// it read was all aborted (a transaction aborted without a visible marker,
// as a broker recovering from a crash may do): only the fetch response
// says how far the log was read. It returns the offsets advanced.
func (s *session) fetchChangelog(ctx context.Context, target, pos map[int32]int64) (int64, error) {
	topic := s.cfg.Topics.Changelog
	md, err := s.adm.Metadata(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("reading changelog metadata: %w", err)
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		return 0, fmt.Errorf("changelog topic %s: %v", topic, td.Err)
	}
	byLeader := map[int32][]int32{}
	for part := range target {
		pd, ok := td.Partitions[part]
		if !ok || pd.Err != nil || pd.Leader < 0 {
			return 0, fmt.Errorf("changelog partition %d has no leader: %v", part, pd.Err)
		}
		byLeader[pd.Leader] = append(byLeader[pd.Leader], part)
	}
	var advanced int64
	for leader, parts := range byLeader {
		req := changelogFetch(topic, td.ID, parts, pos)
		resp, err := req.RequestWith(ctx, s.restorer.Broker(int(leader)))
		if err != nil {
			return 0, fmt.Errorf("fetching changelog from broker %d: %w", leader, err)
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return 0, fmt.Errorf("fetching changelog from broker %d: %w", leader, err)
		}
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				n, err := s.replayFetched(ctx, topic, &resp.Topics[i].Partitions[j], pos)
				if err != nil {
					return 0, err
				}
				advanced += n
			}
		}
	}
	return advanced, nil
}

// changelogFetch is a read_committed fetch of parts from pos.
func changelogFetch(topic string, id [16]byte, parts []int32, pos map[int32]int64) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 200
	req.MinBytes = 1
	req.MaxBytes = 64 << 20
	req.IsolationLevel = 1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	for _, part := range parts {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = part
		rp.FetchOffset = pos[part]
		rp.PartitionMaxBytes = 16 << 20
		rp.CurrentLeaderEpoch = -1
		rp.LogStartOffset = -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// replayFetched writes one fetched changelog partition's committed records
// to the store with the offset past them, and returns how far it moved.
func (s *session) replayFetched(ctx context.Context, topic string, rp *kmsg.FetchResponseTopicPartition, pos map[int32]int64) (int64, error) {
	if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
		return 0, fmt.Errorf("fetching changelog partition %d: %w", rp.Partition, err)
	}
	from := pos[rp.Partition]
	fp, next := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
		KeepControlRecords: true,
		Offset:             from,
		IsolationLevel:     kgo.ReadCommitted(),
		Topic:              topic,
		Partition:          rp.Partition,
	}, rp, s.decompressor, nil)
	if fp.Err != nil {
		return 0, fmt.Errorf("decoding changelog partition %d: %w", rp.Partition, fp.Err)
	}
	if next <= from {
		return 0, nil
	}
	muts := make([]state.Mutation, 0, len(fp.Records))
	for _, r := range fp.Records {
		if !r.Attrs.IsControl() {
			muts = append(muts, state.Mutation{Key: r.Key, Value: r.Value})
		}
	}
	if err := s.cfg.Store.Replay(rp.Partition, muts, next); err != nil {
		return 0, err
	}
	s.metrics.restored.Add(ctx, int64(len(muts)))
	pos[rp.Partition] = next
	return next - from, nil
}

// awaitStable waits (up to a transaction timeout) until no open
// transaction holds the changelog's stable offset below its end on parts: a
// previous owner's last transaction may still be writing its markers, and
// restoring only to the stable offset would miss what it commits.
func (s *session) awaitStable(ctx context.Context, topic string, parts []int32, lso kadm.ListedOffsets) (kadm.ListedOffsets, error) {
	deadline := time.Now().Add(transactionTimeout + 10*time.Second)
	for {
		hwm, err := s.adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return nil, fmt.Errorf("listing changelog end offsets: %w", err)
		}
		var open []int32
		for _, part := range parts {
			l, _ := lso.Lookup(topic, part)
			h, _ := hwm.Lookup(topic, part)
			if l.Offset < h.Offset {
				open = append(open, part)
			}
		}
		if len(open) == 0 || time.Now().After(deadline) {
			if len(open) > 0 {
				s.log.Warn("changelog partitions still have an open transaction; restoring to their stable offset", "partitions", open)
			}
			return lso, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if lso, err = s.adm.ListCommittedOffsets(ctx, topic); err != nil {
			return nil, fmt.Errorf("listing changelog stable offsets: %w", err)
		}
	}
}
