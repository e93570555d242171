package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// topicTable reads a single-partition compacted topic from its start, for
// the tables every instance keeps whole in memory (the catalog, the locks),
// writes to it with acks=all, and tracks how far it has read so a writer
// can wait to see its own write. Safe for concurrent use.
type topicTable struct {
	cl    *kgo.Client
	topic string
	name  string // "catalog", "locks": for logs and errors
	log   *slog.Logger
	apply func(*kgo.Record) error

	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever next or loaded moves
	next    int64         // next offset to read of partition 0
	loaded  bool
	onApply []func(key string)
}

// OnChange registers fn to be called with the key of every record the
// table applies (a scanner id, a token id, a lock id), after it is
// applied. fn must not block; changes applied before it is registered
// are not reported.
func (t *topicTable) OnChange(fn func(key string)) {
	t.mu.Lock()
	t.onApply = append(t.onApply, fn)
	t.mu.Unlock()
}

func newTopicTable(brokers []string, topic, name string, log *slog.Logger, apply func(*kgo.Record) error, opts ...kgo.Opt) (*topicTable, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("creating %s client: %w", name, err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &topicTable{cl: cl, topic: topic, name: name, log: log.With("component", name), apply: apply,
		changed: make(chan struct{})}, nil
}

// Run reads the topic until ctx ends, then closes the client.
func (t *topicTable) Run(ctx context.Context) error {
	defer t.cl.Close()
	go t.markLoaded(ctx)
	for {
		fetches := t.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(_ string, _ int32, err error) {
			t.log.Warn("fetching "+t.name, "err", err)
		})
		fetches.EachRecord(func(r *kgo.Record) {
			if err := t.apply(r); err != nil {
				t.log.Error("skipping "+t.name+" record", "offset", r.Offset, "err", err)
			}
			t.advance(r.Offset + 1)
			t.mu.Lock()
			hooks := t.onApply
			t.mu.Unlock()
			for _, fn := range hooks {
				fn(string(r.Key))
			}
		})
	}
}

func (t *topicTable) advance(next int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if next > t.next {
		t.next = next
		close(t.changed)
		t.changed = make(chan struct{})
	}
}

// waitFor blocks until the table has read up to (not including) offset.
func (t *topicTable) waitFor(ctx context.Context, offset int64) error {
	for {
		t.mu.Lock()
		next, ch := t.next, t.changed
		t.mu.Unlock()
		if next >= offset {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the %s topic to be read: %w", t.name, ctx.Err())
		}
	}
}

// publish writes value under key with acks=all and waits until the table
// has read it; what names the record in the error.
func (t *topicTable) publish(ctx context.Context, what, key string, value []byte) error {
	res := t.cl.ProduceSync(ctx, &kgo.Record{Topic: t.topic, Partition: 0, Key: []byte(key), Value: value})
	if err := res.FirstErr(); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
	}
	return t.waitFor(ctx, res[0].Record.Offset+1)
}

// catchUp waits until the table has read every record written to the
// topic before the call.
func (t *topicTable) catchUp(ctx context.Context) error {
	end, err := t.endOffset(ctx)
	if err != nil {
		return fmt.Errorf("%w: listing the %s topic's end: %w", ErrUnavailable, t.name, err)
	}
	return t.waitFor(ctx, end)
}

// markLoaded waits until the table has read everything the topic held when
// it started, then marks it loaded.
func (t *topicTable) markLoaded(ctx context.Context) {
	for ctx.Err() == nil {
		end, err := t.endOffset(ctx)
		if err != nil {
			t.log.Warn("listing "+t.name+" end offset", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		if t.waitFor(ctx, end) == nil {
			t.mu.Lock()
			t.loaded = true
			close(t.changed)
			t.changed = make(chan struct{})
			t.mu.Unlock()
		}
		return
	}
}

func (t *topicTable) endOffset(ctx context.Context) (int64, error) {
	ends, err := kadm.NewClient(t.cl).ListEndOffsets(ctx, t.topic)
	if err != nil {
		return 0, err
	}
	o, ok := ends.Lookup(t.topic, 0)
	if !ok {
		return 0, errors.New(t.name + " partition missing from the offsets response")
	}
	return o.Offset, o.Err
}

// WaitLoaded blocks until the table holds everything the topic held when
// this instance started.
func (t *topicTable) WaitLoaded(ctx context.Context) error {
	for {
		t.mu.Lock()
		loaded, ch := t.loaded, t.changed
		t.mu.Unlock()
		if loaded {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the %s to load: %w", t.name, ctx.Err())
		}
	}
}

// Loaded reports whether WaitLoaded would return at once.
func (t *topicTable) Loaded() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.loaded
}
