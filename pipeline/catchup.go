package pipeline

import (
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A partition whose state has been restored from the changelog is
// readable, but it has not necessarily applied the input accepted before it
// was assigned: after a restart, an allocation request or a transaction
// written to the input topics and not yet applied is absent from the
// restored state. A lookup by id that misses there cannot say "does not
// exist", only "not known yet". So each partition, once restored, must
// catch up with its input: apply everything below each input topic's end
// offset as it was just before the partition became readable. Until then a
// lookup that misses answers ErrCatchingUp (the HTTP API's 503 with
// Retry-After) instead of "not found"; a lookup that finds what it looks
// for answers, since state never goes back.
//
// Whether the state has applied an input offset is read from the offsets
// the state records for its input (inputs.go), written in the same batch as
// what that input changed: a lookup checks them before it reads, so a miss
// after a check that found the partition caught up is a real miss.
//
// An input topic's end may lie past its last record that will ever be
// applied: a transaction marker, or records of an aborted transaction,
// written by a client that writes allocation requests in Kafka
// transactions. The state's offset never reaches such an end. Once a
// second, the session looks at what lies between the two (settleCatchUps)
// and, when nothing committed is left to apply below the end, moves the
// end back to the state's offset.

// ErrCatchingUp: the partition is restored but has not yet applied all the
// input written before it became readable here; what a lookup did not find
// may be in that input.
var ErrCatchingUp = fmt.Errorf("partition state is catching up with its input")

// catchUp is what one partition must apply to have caught up: the next
// offset of each input topic (its end as of the restore). Guarded by mu:
// the session lowers ends (settleCatchUps) while lookups read them.
type catchUp struct {
	mu   sync.Mutex
	ends map[string]int64
}

// inputGap is how far the state is from an input topic's end: it has
// applied the input below have, and must apply what is below end.
type inputGap struct{ have, end int64 }

// behind returns the input topics whose end the state has not reached.
func (c *catchUp) behind(next func(topic string) (int64, error)) (map[string]inputGap, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out map[string]inputGap
	for topic, end := range c.ends {
		have, err := next(topic)
		if err != nil {
			return nil, err
		}
		if have < end {
			if out == nil {
				out = map[string]inputGap{}
			}
			out[topic] = inputGap{have, end}
		}
	}
	return out, nil
}

// settle moves topic's end back to at, where nothing committed lies between.
func (c *catchUp) settle(topic string, at int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if at < c.ends[topic] {
		c.ends[topic] = at
	}
}

// CaughtUp reports whether partition part, owned and restored here, has
// applied all the input written before it became readable. Call it before
// reading the state whose miss it is to qualify: a partition found caught
// up stays so for as long as it is owned. It reports true for a partition
// not owned or not restored (reads of those fail on their own).
func (p *Processing) CaughtUp(part int32) bool {
	c := p.own.catchingUp(part)
	if c == nil {
		return true
	}
	behind, err := c.behind(func(topic string) (int64, error) { return p.inputNext(part, topic) })
	if err != nil {
		p.log.Warn("reading a partition's input offsets", "partition", part, "err", err)
		return false
	}
	if len(behind) > 0 {
		return false
	}
	p.own.caughtUp(part, c)
	return true
}

// inputNext is the next offset of topic that part's state has to apply (0
// when it has applied none).
func (p *Processing) inputNext(part int32, topic string) (int64, error) {
	next, _, err := inputOffset(p.cfg.Store, part, topic)
	return next, err
}

// inputTopics are the topics the processors consume.
func (p *Processing) inputTopics() []string {
	t := p.cfg.Topics
	return []string{t.Transactions, t.AllocationRequests, t.Commands}
}

// inputEnds returns, for each of parts, each input topic's end offset (its
// high watermark: what was written before now, whether an open transaction
// holds it back or not).
func (s *session) inputEnds(ctx context.Context, parts []int32) (map[int32]map[string]int64, error) {
	listed, err := s.adm.ListEndOffsets(ctx, s.inputTopics()...)
	if err != nil {
		return nil, fmt.Errorf("listing input end offsets: %w", err)
	}
	out := make(map[int32]map[string]int64, len(parts))
	for _, part := range parts {
		ends := map[string]int64{}
		for _, topic := range s.inputTopics() {
			o, ok := listed.Lookup(topic, part)
			if !ok || o.Err != nil {
				return nil, fmt.Errorf("input %s partition %d end offset unavailable: %v", topic, part, o.Err)
			}
			ends[topic] = o.Offset
		}
		out[part] = ends
	}
	return out, nil
}

// settleCatchUps checks the partitions still catching up: those now caught
// up are marked so, and for each input topic the state has not reached, a
// read_committed fetch from the state's offset shows whether anything left
// below the end is still to be applied; if not (only markers or aborted
// records lie there), the end is moved back to the state's offset. A
// failure is logged and tried again at the next call: until then the
// partition only goes on answering misses with ErrCatchingUp.
func (s *session) settleCatchUps(ctx context.Context) {
	for part, c := range s.own.behindSnapshot(s.id) {
		behind, err := c.behind(func(topic string) (int64, error) { return s.inputNext(part, topic) })
		if err != nil {
			s.log.Warn("reading a partition's input offsets", "partition", part, "err", err)
			continue
		}
		if len(behind) == 0 {
			s.own.caughtUp(part, c)
			continue
		}
		for topic, gap := range behind {
			clear, err := s.nothingToApply(ctx, topic, part, gap)
			if err != nil {
				s.log.Warn("reading the input a partition is catching up with", "topic", topic, "partition", part, "err", err)
				continue
			}
			if clear {
				s.log.Info("input partition ends with records that are never applied; caught up below them",
					"topic", topic, "partition", part, "state_next_offset", gap.have, "end", gap.end)
				c.settle(topic, gap.have)
			}
		}
	}
}

// nothingToApply fetches topic's partition part (read_committed) from the
// state's offset and reports whether it read up to the end finding only
// control records and aborted ones, which are never applied.
func (s *session) nothingToApply(ctx context.Context, topic string, part int32, gap inputGap) (bool, error) {
	md, err := s.adm.Metadata(ctx, topic)
	if err != nil {
		return false, fmt.Errorf("reading %s metadata: %w", topic, err)
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		return false, fmt.Errorf("input topic %s: %v", topic, td.Err)
	}
	pd, ok := td.Partitions[part]
	if !ok || pd.Err != nil || pd.Leader < 0 {
		return false, fmt.Errorf("input %s partition %d has no leader: %v", topic, part, pd.Err)
	}
	req := changelogFetch(topic, td.ID, []int32{part}, map[int32]int64{part: gap.have})
	req.MaxWaitMillis = 0
	resp, err := req.RequestWith(ctx, s.restorer.Broker(int(pd.Leader)))
	if err != nil {
		return false, fmt.Errorf("fetching %s from broker %d: %w", topic, pd.Leader, err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return false, fmt.Errorf("fetching %s from broker %d: %w", topic, pd.Leader, err)
	}
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			rp := &resp.Topics[i].Partitions[j]
			if rp.Partition != part {
				continue
			}
			if rp.ErrorCode == kerr.OffsetOutOfRange.Code && rp.LogStartOffset >= gap.end {
				return true, nil // deleted by retention before it was ever applied here
			}
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				return false, fmt.Errorf("fetching %s partition %d: %w", topic, part, err)
			}
			fp, next := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
				Offset: gap.have, IsolationLevel: kgo.ReadCommitted(), Topic: topic, Partition: part,
			}, rp, s.decompressor, nil)
			if fp.Err != nil {
				return false, fmt.Errorf("decoding %s partition %d: %w", topic, part, fp.Err)
			}
			for _, r := range fp.Records {
				if r.Offset < gap.end {
					return false, nil // a record still to apply
				}
			}
			return next >= gap.end, nil
		}
	}
	return false, nil
}
