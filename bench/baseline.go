package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// baselineProducer describes the baseline producer's settings. They are
// the ingest producer's durability settings (acks=all, idempotent, 1 MiB
// batches, franz-go's default snappy compression) with a 5 ms linger.
const baselineProducer = "acks=all, idempotent, linger 5ms, batch 1 MiB, snappy"

// runBaseline measures what the broker does with no service in the way:
// one client produces n records (cycling through pool: the workload's own
// transaction records, keyed by stock key) as fast as it can to a fresh
// topic of the same partitions, another consumes them concurrently; the
// rate is n over the time from the first produce to the last consume. The
// topic is deleted afterwards, so an in-memory broker gives the memory
// back.
func runBaseline(ctx context.Context, adm *kadm.Client, brokers []string, topic string, partitions int32, pool recordPool, n int, out io.Writer) (Baseline, error) {
	res := Baseline{Topic: topic, Records: n, RecordBytes: pool.avg, Producer: baselineProducer}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()

	if _, err := adm.DeleteTopic(ctx, topic); err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
		return res, fmt.Errorf("deleting an old baseline topic %s: %w", topic, err)
	}
	if err := createTopic(ctx, adm, topic, partitions); err != nil {
		return res, err
	}
	defer func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer dcancel()
		_, _ = adm.DeleteTopic(dctx, topic)
	}()

	offsets := map[int32]kgo.Offset{}
	for p := range partitions {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchMaxWait(10*time.Millisecond))
	if err != nil {
		return res, fmt.Errorf("creating baseline consumer: %w", err)
	}
	defer cons.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		return res, fmt.Errorf("creating baseline producer: %w", err)
	}
	defer prod.Close()

	var consumed atomic.Int64
	consDone := make(chan time.Time, 1)
	go func() {
		for consumed.Load() < int64(n) {
			fs := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				return
			}
			consumed.Add(int64(fs.NumRecords()))
		}
		consDone <- time.Now()
	}()

	var produceErr atomic.Pointer[error]
	t0 := time.Now()
	defer everySecond(func() {
		fmt.Fprintf(out, "[baseline] %.1fs consumed %d of %d\n", time.Since(t0).Seconds(), consumed.Load(), n)
	})()
	for i := range n {
		k := i % len(pool.values)
		prod.Produce(ctx, &kgo.Record{Key: pool.keys[k], Value: pool.values[k]}, func(_ *kgo.Record, err error) {
			if err != nil {
				produceErr.CompareAndSwap(nil, &err)
			}
		})
	}
	if err := prod.Flush(ctx); err != nil {
		return res, fmt.Errorf("baseline: flushing: %w", err)
	}
	if e := produceErr.Load(); e != nil {
		return res, fmt.Errorf("baseline: producing: %w", *e)
	}
	res.ProduceTPS = float64(n) / time.Since(t0).Seconds()
	select {
	case end := <-consDone:
		res.Seconds = end.Sub(t0).Seconds()
		res.TPS = float64(n) / res.Seconds
	case <-ctx.Done():
		return res, fmt.Errorf("baseline: consumed %d of %d records: %w", consumed.Load(), n, ctx.Err())
	}
	fmt.Fprintf(out, "[baseline] %d records of %d B produced and consumed in %.2f s: %.0f rec/s (produce alone %.0f rec/s)\n",
		n, pool.avg, res.Seconds, res.TPS, res.ProduceTPS)
	return res, nil
}

// createTopic creates topic, retrying while a deletion of the same name
// is still in progress.
func createTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int32) error {
	for {
		_, err := adm.CreateTopic(ctx, partitions, -1, nil, topic)
		if err == nil {
			return nil
		}
		if !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("creating baseline topic %s: %w", topic, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("creating baseline topic %s: %w", topic, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
