package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/schemas"
)

// TailConfig is what `invsync tail` was told.
type TailConfig struct {
	// Topic is the full topic name; Prefix the deployment's topic prefix
	// and Registry its schema registry, if any, for decoding.
	Topic, Prefix, Registry string
	Brokers                 []string
	// Follow keeps printing new records; FromEnd starts at the end.
	Follow  bool
	FromEnd bool
	// Warehouse and Item, when set, keep only the records about them.
	Warehouse, Item string
	// Limit stops after that many records (0: no limit).
	Limit int
}

// TailTopics are the short names of the topics tail can read: every topic
// of the table (a value that is not Avro is printed as text, with the
// decoding error).
func TailTopics() []string {
	var names []string
	for _, spec := range schemas.TopicTable() {
		names = append(names, spec.Suffix)
	}
	return names
}

// tailRecord is one printed line.
type tailRecord struct {
	Partition int32          `json:"partition"`
	Offset    int64          `json:"offset"`
	Key       string         `json:"key"`
	Timestamp time.Time      `json:"timestamp"`
	Headers   map[string]any `json:"headers,omitempty"`
	Value     any            `json:"value"`
	Error     string         `json:"error,omitempty"`
}

// Tail prints the records of cfg.Topic to stdout as JSON, one per line,
// read_committed and decoded; without Follow it stops at the end of the
// topic as it was when it started.
func Tail(ctx context.Context, cfg TailConfig, stdout io.Writer) error {
	codec, err := schemas.New(ctx, schemas.Config{TopicPrefix: cfg.Prefix, RegistryURL: cfg.Registry})
	if err != nil {
		return err
	}
	start := kgo.NewOffset().AtStart()
	if cfg.FromEnd {
		start = kgo.NewOffset().AtEnd()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.ConsumeTopics(cfg.Topic), kgo.ConsumeResetOffset(start),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return err
	}
	defer cl.Close()
	var ends map[int32]int64
	if !cfg.Follow {
		if ends, err = committedEnds(ctx, cl, cfg.Topic); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(stdout)
	printed, seen := 0, false
	for !caughtUp(ends, cfg.Follow) {
		pollCtx, cancel := ctx, context.CancelFunc(func() {})
		if !cfg.Follow {
			// A partition whose log ends in a commit marker or an aborted
			// transaction never shows a record at its end offset: once
			// records flow, a second without any means the rest is
			// markers. The first fetch gets longer (metadata, offsets).
			idle := time.Second
			if !seen {
				idle = 15 * time.Second
			}
			pollCtx, cancel = context.WithTimeout(ctx, idle)
		}
		fetches := cl.PollFetches(pollCtx)
		idle := errors.Is(pollCtx.Err(), context.DeadlineExceeded)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if idle {
			return nil
		}
		if err := fetches.Err0(); err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("reading %s: %w", cfg.Topic, err)
		}
		var out []tailRecord
		fetches.EachRecord(func(r *kgo.Record) {
			seen = true
			if ends != nil && r.Offset >= ends[r.Partition] {
				return
			}
			if tr, ok := tailLine(codec, r, cfg); ok {
				out = append(out, tr)
			}
		})
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if ends != nil && len(p.Records) > 0 && p.Records[len(p.Records)-1].Offset+1 >= ends[p.Partition] {
				delete(ends, p.Partition)
			}
		})
		for _, tr := range out {
			if err := enc.Encode(tr); err != nil {
				return err
			}
			if printed++; cfg.Limit > 0 && printed >= cfg.Limit {
				return nil
			}
		}
	}
	return nil
}

func caughtUp(ends map[int32]int64, follow bool) bool { return !follow && len(ends) == 0 }

// committedEnds returns, per partition with records, the offset a
// read_committed consumer reads up to now.
func committedEnds(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, error) {
	adm := kadm.NewClient(cl)
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("listing the end of %s: %w", topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("listing the start of %s: %w", topic, err)
	}
	if len(ends[topic]) == 0 || errors.Is(ends.Error(), kerr.UnknownTopicOrPartition) {
		return nil, fmt.Errorf("topic %s does not exist (see invsync tail --help for the names)", topic)
	}
	if err := ends.Error(); err != nil {
		return nil, fmt.Errorf("listing the end of %s: %w", topic, err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if s, ok := starts.Lookup(topic, o.Partition); ok && o.Offset > s.Offset {
			out[o.Partition] = o.Offset
		}
	})
	return out, nil
}

// tailLine decodes r and applies the filters.
func tailLine(codec *schemas.Set, r *kgo.Record, cfg TailConfig) (tailRecord, bool) {
	tr := tailRecord{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Timestamp: r.Timestamp.UTC()}
	for _, h := range r.Headers {
		if tr.Headers == nil {
			tr.Headers = map[string]any{}
		}
		tr.Headers[h.Key] = string(h.Value)
	}
	_, v, err := codec.DecodeAny(r.Value)
	switch {
	case err == nil:
		tr.Value = v
	case len(r.Value) == 0:
		tr.Value = nil
	default:
		tr.Error = err.Error()
		tr.Value = string(r.Value)
	}
	match := func(field, want string) bool {
		if want == "" {
			return true
		}
		if v != nil {
			return v[field] == want
		}
		return strings.HasPrefix(string(r.Key), cfg.Warehouse+"/") // undecodable: by stock key
	}
	return tr, match("warehouseId", cfg.Warehouse) && match("itemId", cfg.Item)
}
