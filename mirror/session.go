package mirror

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// session is one run of consumption: from the offsets stored in the
// database, with a fresh Kafka client and fresh workers, until ctx ends
// (nil) or something fails (the error). Nothing of a session outlives it:
// a failed session's fetched-but-uncommitted records are dropped, and the
// next session fetches them again from the stored offsets.
func (m *Mirror) session(ctx context.Context) error {
	if n, err := migrate(ctx, m.db, m.cfg.Now()); err != nil {
		var perm permanentError
		if errors.As(err, &perm) {
			return err
		}
		return dbError{fmt.Errorf("migrating the schema: %w", err)}
	} else if n > 0 {
		m.log.Info("mirror schema migrated", "migrations_applied", n, "database", m.db.redacted)
	}

	admCl, err := kgo.NewClient(m.clientOpts()...)
	if err != nil {
		return permanentError{fmt.Errorf("creating the Kafka client: %w", err)}
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)

	parts, err := m.waitForTopics(ctx, adm)
	if err != nil || ctx.Err() != nil {
		return err
	}
	stored, err := m.store.readOffsets(ctx)
	if err != nil {
		return dbError{err}
	}
	m.progress.started(stored)
	if err := m.setTargets(ctx, adm, parts); err != nil {
		return err
	}

	opts := append(m.baseOpts(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// A partition added later (a new topic, or one read from its
		// start, which needs its offset listed first) joins the next
		// fetch: keep the wait of an idle fetch short so it does not sit
		// behind one for the default 5 s. KafkaOpts may override it.
		kgo.FetchMaxWait(time.Second),
		// Transaction markers come through so a partition's stored offset
		// can move past them: after catching up it then equals the end.
		kgo.KeepControlRecords(),
		kgo.ConsumePartitions(consumeOffsets(parts, stored)),
	)
	cl, err := kgo.NewClient(append(opts, m.cfg.KafkaOpts...)...)
	if err != nil {
		return permanentError{fmt.Errorf("creating the Kafka consumer: %w", err)}
	}
	defer cl.Close()
	m.log.Info("mirror consuming", "partitions", countPartitions(parts), "topics", slices.Sorted(maps.Keys(parts)),
		"resuming_partitions", len(stored), "database", m.db.redacted)
	return m.consumeWith(ctx, adm, cl, parts)
}

// consumeWith runs the workers, the poll loop and the partition refresh of
// one session, and waits for all of them: until ctx ends (nil) or the
// first of them fails (its error, and the others are stopped).
func (m *Mirror) consumeWith(ctx context.Context, adm *kadm.Client, cl *kgo.Client, parts map[string][]int32) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := make([]*worker, m.cfg.Workers)
	for i := range workers {
		workers[i] = &worker{in: make(chan fetched, 8), m: m, limit: m.cfg.BatchRecords}
	}

	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	run := func(f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil {
				errOnce.Do(func() { firstErr = err })
				cancel()
			}
		}()
	}
	for _, w := range workers {
		run(w.run)
	}
	run(func(ctx context.Context) error { return m.poll(ctx, cl, workers) })
	run(func(ctx context.Context) error { return m.refresh(ctx, adm, cl, parts) })
	wg.Wait()
	return firstErr
}

// clientOpts are the options of the session's admin client.
func (m *Mirror) clientOpts() []kgo.Opt {
	return append(m.baseOpts(), m.cfg.KafkaOpts...)
}

// baseOpts are the options every client starts from; KafkaOpts come after
// the mirror's own, so they can override them.
func (m *Mirror) baseOpts() []kgo.Opt {
	return []kgo.Opt{kgo.SeedBrokers(m.cfg.Brokers...), kgo.ClientID("invsync-mirror")}
}

// poll fetches and hands each partition's records to its worker, in order.
func (m *Mirror) poll(ctx context.Context, cl *kgo.Client, workers []*worker) error {
	var lastErrLog time.Time
	for {
		fetches := cl.PollRecords(ctx, 4*m.cfg.BatchRecords)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.Canceled) || time.Since(lastErrLog) < 10*time.Second {
				return
			}
			lastErrLog = time.Now()
			m.log.Warn("mirror fetch failed; the client retries", "topic", topic, "partition", p, "err", err)
		})
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			tp := topicPartition{p.Topic, p.Partition}
			if len(p.Records) > 0 {
				select {
				case workers[int(p.Partition)%len(workers)].in <- fetched{tp: tp, records: p.Records}:
				case <-ctx.Done():
					return
				}
			}
			// Known only once the worker commits; until then the lag
			// includes these records.
			m.progress.fetched(tp, p.LastStableOffset)
		})
	}
}

// waitForTopics returns the partitions of the mirrored topics that exist,
// waiting (and saying so once) while none does.
func (m *Mirror) waitForTopics(ctx context.Context, adm *kadm.Client) (map[string][]int32, error) {
	logged := false
	for {
		parts, err := m.listPartitions(ctx, adm)
		if err != nil {
			return nil, err
		}
		if len(parts) > 0 {
			return parts, nil
		}
		if !logged {
			m.log.Info("mirror waiting for the topics to be created", "topics", m.decoders.topics())
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(m.cfg.RefreshInterval):
		}
	}
}

// listPartitions returns the partitions of every mirrored topic that
// exists.
func (m *Mirror) listPartitions(ctx context.Context, adm *kadm.Client) (map[string][]int32, error) {
	wanted := m.decoders.topics()
	details, err := adm.ListTopics(ctx, wanted...)
	if err != nil {
		return nil, kafkaError{fmt.Errorf("listing topics: %w", err)}
	}
	out := map[string][]int32{}
	for _, t := range wanted {
		d, ok := details[t]
		if !ok || d.Err != nil || len(d.Partitions) == 0 {
			continue
		}
		out[t] = d.Partitions.Numbers()
		slices.Sort(out[t])
	}
	return out, nil
}

// setTargets sets the catch-up targets (each partition's last stable
// offset now), unless the mirror has caught up already.
func (m *Mirror) setTargets(ctx context.Context, adm *kadm.Client, parts map[string][]int32) error {
	if _, caught, _, _ := m.progress.snapshot(); caught {
		return nil
	}
	listed, err := adm.ListCommittedOffsets(ctx, slices.Collect(maps.Keys(parts))...)
	if err != nil {
		return kafkaError{fmt.Errorf("listing the end offsets: %w", err)}
	}
	targets := map[topicPartition]int64{}
	listed.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Partition >= 0 && o.Offset >= 0 {
			targets[topicPartition{o.Topic, o.Partition}] = o.Offset
		}
	})
	m.progress.setTargets(targets)
	return nil
}

// refresh looks for mirrored topics and partitions created after the
// session began and starts consuming them from their stored offsets.
func (m *Mirror) refresh(ctx context.Context, adm *kadm.Client, cl *kgo.Client, known map[string][]int32) error {
	t := time.NewTicker(m.cfg.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		parts, err := m.listPartitions(ctx, adm)
		if err != nil {
			if ctx.Err() == nil {
				m.log.Warn("mirror could not look for new partitions; trying again later", "err", err)
			}
			continue
		}
		added := map[string][]int32{}
		for topic, ps := range parts {
			for _, p := range ps {
				if !slices.Contains(known[topic], p) {
					added[topic] = append(added[topic], p)
				}
			}
		}
		if len(added) == 0 {
			continue
		}
		stored, err := m.store.readOffsets(ctx)
		if err != nil {
			return dbError{err}
		}
		cl.AddConsumePartitions(consumeOffsets(added, stored))
		for topic, ps := range added {
			known[topic] = append(known[topic], ps...)
		}
		m.log.Info("mirror consuming new partitions", "partitions", added)
	}
}

// consumeOffsets says where to start each partition: its stored next
// offset, or the start of the log for a partition never consumed.
func consumeOffsets(parts map[string][]int32, stored map[topicPartition]int64) map[string]map[int32]kgo.Offset {
	out := map[string]map[int32]kgo.Offset{}
	for topic, ps := range parts {
		out[topic] = map[int32]kgo.Offset{}
		for _, p := range ps {
			if next, ok := stored[topicPartition{topic, p}]; ok {
				out[topic][p] = kgo.NewOffset().At(next)
			} else {
				out[topic][p] = kgo.NewOffset().AtStart()
			}
		}
	}
	return out
}

func countPartitions(parts map[string][]int32) int {
	n := 0
	for _, ps := range parts {
		n += len(ps)
	}
	return n
}

// kafkaError marks a failure talking to Kafka, for the log line.
type kafkaError struct{ err error }

func (e kafkaError) Error() string { return e.err.Error() }
func (e kafkaError) Unwrap() error { return e.err }
