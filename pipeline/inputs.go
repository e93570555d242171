package pipeline

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/state"
)

// inputKey is the state key holding the next offset of input topic that a
// partition's state has consumed. It is written in the same Kafka
// transaction as the group's consumed offsets, so once a partition is
// restored the two must be equal.
func inputKey(topic string) []byte { return append([]byte{tagInput}, topic...) }

// tagInput is the pipeline's one key tag in a partition's state; the
// processors' tags are other letters (processors/record.go).
const tagInput = 'i'

// inputCheck is what checkInputs found for one partition and input topic.
type inputCheck int

const (
	inputAgrees  inputCheck = iota // nothing to do
	inputRebuild                   // the local state is suspect: rebuild it
	inputAhead                     // offsets moved back on purpose: re-read input is deduplicated
	inputRewind                    // input would be skipped: rewind to the state's offset
)

// checkInputs holds each partition's restored state to the group's
// committed offsets of both input topics, and repairs a disagreement the
// safe way rather than trusting either side:
//
//   - the state has consumed past the committed offset: its local copy
//     may hold the effect of input whose Kafka transaction did not commit,
//     so it is dropped and rebuilt from the changelog. If the rebuilt state
//     is still ahead, the offsets were moved back on purpose (an operator's
//     reset, or offsets expired): what is read again is recognised by the
//     processors' idempotency keys and applied nowhere twice;
//   - the committed offset is past what the state has consumed (input the
//     state never applied would be skipped): after a rebuild to rule out a
//     stale local copy, consumption is rewound to the state's offset and
//     the skipped input is applied.
//
// With the exactly-once design neither should happen; each is logged with
// the offsets. It returns the partitions rewound.
func (s *session) checkInputs(ctx context.Context, parts []int32) (map[int32]bool, error) {
	if len(parts) == 0 {
		return nil, nil
	}
	committed, err := s.adm.FetchOffsets(ctx, s.cfg.Group)
	if err != nil {
		return nil, fmt.Errorf("fetching the group's committed offsets: %w", err)
	}
	rewind := map[string]map[int32]kgo.EpochOffset{}
	rewound := map[int32]bool{}
	for _, part := range parts {
		offsets, err := s.settleInputs(ctx, committed, part)
		if err != nil {
			return nil, err
		}
		for topic, off := range offsets {
			if rewind[topic] == nil {
				rewind[topic] = map[int32]kgo.EpochOffset{}
			}
			rewind[topic][part] = kgo.EpochOffset{Epoch: -1, Offset: off}
			rewound[part] = true
		}
	}
	if len(rewound) == 0 {
		return nil, nil
	}
	s.gs.Client().SetOffsets(rewind)
	return rewound, nil
}

// settleInputs checks one partition, rebuilding its state once if it is
// suspect, and returns the offsets to rewind its input topics to.
func (s *session) settleInputs(ctx context.Context, committed kadm.OffsetResponses, part int32) (map[string]int64, error) {
	for rebuilt := false; ; rebuilt = true {
		rebuild := false
		var rewind map[string]int64
		for _, topic := range []string{s.cfg.Topics.Transactions, s.cfg.Topics.AllocationRequests, s.cfg.Topics.Commands} {
			c, ok := committed.Lookup(topic, part)
			if !ok || c.Err != nil || c.At < 0 {
				continue // nothing committed: consumption starts at the log start, reapplying idempotently
			}
			have, ok, err := inputOffset(s.cfg.Store, part, topic)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			logArgs := []any{"partition", part, "topic", topic, "state_next_offset", have, "committed_offset", c.At}
			switch s.judgeInput(topic, have, c.At, rebuilt) {
			case inputRebuild:
				rebuild = true
				s.log.Error("partition state disagrees with the group's committed input offset; rebuilding it from the changelog", logArgs...)
			case inputAhead:
				s.log.Warn("input offsets were moved back behind the partition's state; re-read input is recognised as duplicates", logArgs...)
			case inputRewind:
				if rewind == nil {
					rewind = map[string]int64{}
				}
				rewind[topic] = have
				s.log.Error("the group's committed offset is past the input this partition's state applied; rewinding to apply it", logArgs...)
			}
		}
		if !rebuild {
			return rewind, nil
		}
		if err := s.cfg.Store.Drop(part); err != nil {
			return nil, err
		}
		if err := s.restore(ctx, []int32{part}); err != nil {
			return nil, err
		}
	}
}

// judgeInput compares the state's next input offset of topic with the
// group's committed one.
func (s *session) judgeInput(topic string, have, committed int64, rebuilt bool) inputCheck {
	switch {
	case have == committed:
		return inputAgrees
	case have < committed && topic == s.cfg.Topics.AllocationRequests:
		// The cloud may write allocation requests in Kafka
		// transactions: a commit marker after the last request puts
		// the committed offset one past the state's. Only invsync
		// writes the transactions and commands topics, without
		// markers, so a gap there is real.
		return inputAgrees
	case !rebuilt:
		return inputRebuild
	case have > committed:
		return inputAhead
	default:
		return inputRewind
	}
}

// inputOffset reads the next offset of topic that partition part's state
// has consumed, if it records one.
func inputOffset(store *state.Store, part int32, topic string) (int64, bool, error) {
	v, ok, err := store.Partition(part).Get(inputKey(topic))
	if err != nil || !ok {
		return 0, false, err
	}
	if len(v) != 8 {
		return 0, false, fmt.Errorf("partition %d: input offset of %s is %d bytes, want 8", part, topic, len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), true, nil
}
