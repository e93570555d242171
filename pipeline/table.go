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

// topicTable reads a single-partition compacted topic whose records hold
// values of one schema type W from its start, for the tables every
// instance keeps whole in memory (the catalog, the locks, the tokens, the
// count tasks, the fleet), writes to it with acks=all, and tracks how far
// it has read so a writer can wait to see its own write. Each owner
// supplies how W is decoded, encoded and applied to its in-memory state.
// Safe for concurrent use.
type topicTable[W any] struct {
	cl     *kgo.Client
	topic  string
	name   string // "catalog", "locks": for logs and errors
	log    *slog.Logger
	decode func([]byte) (W, error)
	encode func(dst []byte, w *W) ([]byte, error)
	apply  func(key string, w *W) error // w is nil for a tombstone

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
func (t *topicTable[W]) OnChange(fn func(key string)) {
	t.mu.Lock()
	t.onApply = append(t.onApply, fn)
	t.mu.Unlock()
}

// openTable creates the client of the table name over topic and sets it
// as owner's embedded table, *slot; it returns owner. apply is called,
// from Run's goroutine only, with each record decoded, in the topic's
// order.
func openTable[O, W any](owner *O, slot **topicTable[W], brokers []string, topic, name string, log *slog.Logger,
	decode func([]byte) (W, error), encode func([]byte, *W) ([]byte, error), apply func(key string, w *W) error,
	opts ...kgo.Opt) (*O, error) {
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
	*slot = &topicTable[W]{cl: cl, topic: topic, name: name, log: log.With("component", name),
		decode: decode, encode: encode, apply: apply, changed: make(chan struct{})}
	return owner, nil
}

// ignoreTombstones adapts apply for a table whose entries are never
// deleted: a tombstone (invsync writes none) changes nothing.
func ignoreTombstones[W any](apply func(w *W) error) func(key string, w *W) error {
	return func(_ string, w *W) error {
		if w == nil {
			return nil
		}
		return apply(w)
	}
}

// Run reads the topic until ctx ends, then closes the client.
func (t *topicTable[W]) Run(ctx context.Context) error {
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
			if err := t.applyRecord(r); err != nil {
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

func (t *topicTable[W]) advance(next int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if next > t.next {
		t.next = next
		close(t.changed)
		t.changed = make(chan struct{})
	}
}

// waitFor blocks until the table has read up to (not including) offset.
func (t *topicTable[W]) waitFor(ctx context.Context, offset int64) error {
	if err := t.waitUntil(ctx, func() bool { return t.next >= offset }); err != nil {
		return fmt.Errorf("waiting for the %s topic to be read: %w", t.name, err)
	}
	return nil
}

// waitUntil blocks until done, called with mu held, reports true, or until
// ctx ends (it returns ctx's error). done is checked again whenever next or
// loaded moves.
func (t *topicTable[W]) waitUntil(ctx context.Context, done func() bool) error {
	for {
		t.mu.Lock()
		ok, ch := done(), t.changed
		t.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (t *topicTable[W]) applyRecord(r *kgo.Record) error {
	if r.Value == nil {
		return t.apply(string(r.Key), nil)
	}
	w, err := t.decode(r.Value)
	if err != nil {
		return err
	}
	return t.apply(string(r.Key), &w)
}

// record encodes w as the record of key.
func (t *topicTable[W]) record(key string, w *W) (*kgo.Record, error) {
	v, err := t.encode(nil, w)
	if err != nil {
		return nil, err
	}
	return &kgo.Record{Topic: t.topic, Partition: 0, Key: []byte(key), Value: v}, nil
}

// put writes w under key with acks=all and waits until the table has read
// it; what names the write in the error.
func (t *topicTable[W]) put(ctx context.Context, what, key string, w *W) error {
	rec, err := t.record(key, w)
	if err != nil {
		return err
	}
	return t.publish(ctx, what, rec)
}

// publish writes recs with acks=all and waits until the table has read
// them all; what names the write in the error, which wraps ErrUnavailable
// when the write may or may not have happened.
func (t *topicTable[W]) publish(ctx context.Context, what string, recs ...*kgo.Record) error {
	res := t.cl.ProduceSync(ctx, recs...)
	if err := res.FirstErr(); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
	}
	var last int64
	for _, r := range res {
		last = max(last, r.Record.Offset)
	}
	return t.waitFor(ctx, last+1)
}

// catchUp waits until the table has read every record written to the
// topic before the call.
func (t *topicTable[W]) catchUp(ctx context.Context) error {
	end, err := t.endOffset(ctx)
	if err != nil {
		return fmt.Errorf("%w: listing the %s topic's end: %w", ErrUnavailable, t.name, err)
	}
	return t.waitFor(ctx, end)
}

// markLoaded waits until the table has read everything the topic held when
// it started, then marks it loaded.
func (t *topicTable[W]) markLoaded(ctx context.Context) {
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

func (t *topicTable[W]) endOffset(ctx context.Context) (int64, error) {
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
func (t *topicTable[W]) WaitLoaded(ctx context.Context) error {
	if err := t.waitUntil(ctx, func() bool { return t.loaded }); err != nil {
		return fmt.Errorf("waiting for the %s to load: %w", t.name, err)
	}
	return nil
}

// Loaded reports whether WaitLoaded would return at once.
func (t *topicTable[W]) Loaded() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.loaded
}
