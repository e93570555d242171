package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
)

// ErrUnavailable marks failures to reach Kafka: nothing was (or may be
// assumed) written, and the caller may retry. HTTP maps it to 503.
var ErrUnavailable = errors.New("kafka unavailable")

// Producer writes accepted transactions to the transactions topic with
// acks=all and the idempotent producer, keyed by stock key so each key's
// transactions stay in order on one partition. Safe for concurrent use.
type Producer struct {
	cl         *kgo.Client
	topic      string
	allocTopic string
	cmdTopic   string
	codec      *schemas.Set
	part       kgo.TopicPartitioner
	timeout    time.Duration
}

// NewProducer creates the producer's client. timeout bounds one Produce
// call (default 10 s): past it, the request is answered 503.
func NewProducer(brokers []string, topics schemas.Topics, codec *schemas.Set, timeout time.Duration, opts ...kgo.Opt) (*Producer, error) {
	topic := topics.Transactions
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	keyed := kgo.StickyKeyPartitioner(nil)
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		// Commands name their partition (a report piece is for one
		// partition); everything else goes by its stock key.
		kgo.RecordPartitioner(kgo.BasicConsistentPartitioner(func(topic string) func(*kgo.Record, int) int {
			if topic == topics.Commands {
				return func(r *kgo.Record, _ int) int { return int(r.Partition) }
			}
			tp := keyed.ForTopic(topic)
			return func(r *kgo.Record, n int) int { return tp.Partition(r, n) }
		})),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(time.Millisecond),
		kgo.RecordDeliveryTimeout(timeout),
		kgo.ProducerBatchMaxBytes(1 << 20),
	}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("creating producer: %w", err)
	}
	return &Producer{cl: cl, topic: topic, allocTopic: topics.AllocationRequests, cmdTopic: topics.Commands, codec: codec, timeout: timeout,
		part: kgo.StickyKeyPartitioner(nil).ForTopic(topic)}, nil
}

// Close flushes and closes the client.
func (p *Producer) Close() { p.cl.Close() }

// Partition is the partition a stock key maps to among n (the producer's
// own partitioner: Kafka's murmur2, as every Kafka client computes it).
func (p *Producer) Partition(stockKey string, n int32) int32 {
	return int32(p.part.Partition(&kgo.Record{Key: []byte(stockKey)}, int(n)))
}

// Produce writes txs and returns, for each, nil once it is acknowledged by
// all in-sync replicas, or an error wrapping ErrUnavailable.
func (p *Producer) Produce(ctx context.Context, txs []processors.Transaction) []error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	recs := make([]*kgo.Record, len(txs))
	errs := make([]error, len(txs))
	for i := range txs {
		w := ToWire(&txs[i])
		v, err := p.codec.AppendTransaction(nil, &w)
		if err != nil {
			errs[i] = fmt.Errorf("encoding transaction %s: %w", txs[i].TransactionID, err)
			continue
		}
		recs[i] = &kgo.Record{Topic: p.topic, Key: []byte(txs[i].StockKey()), Value: v}
	}
	send := make([]*kgo.Record, 0, len(recs))
	at := make(map[*kgo.Record]int, len(recs)) // results come in completion order
	for i, r := range recs {
		if r != nil {
			send = append(send, r)
			at[r] = i
		}
	}
	// ProduceSync ends the linger once the request's records are queued:
	// an upload waits for its acknowledgement, not for the linger too.
	for _, res := range p.cl.ProduceSync(ctx, send...) {
		if res.Err != nil {
			errs[at[res.Record]] = fmt.Errorf("%w: %w", ErrUnavailable, res.Err)
		}
	}
	return errs
}

// ProduceAllocation writes an allocation request (or cancellation) to the
// requests topic, keyed by stock key like the cloud's own requests.
func (p *Producer) ProduceAllocation(ctx context.Context, req *processors.AllocRequest) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	w := AllocRequestToWire(req)
	v, err := p.codec.AppendAllocationRequest(nil, &w)
	if err != nil {
		return fmt.Errorf("encoding allocation request %s: %w", req.AllocationID, err)
	}
	rec := &kgo.Record{Topic: p.allocTopic, Key: []byte(processors.StockKey(req.WarehouseID, req.ItemID)), Value: v}
	if err := p.cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// PartitionedCommand is a command and the partition it is for.
type PartitionedCommand struct {
	Partition int32
	Command   processors.Command
}

// ProduceCommands writes commands to the commands topic (acks=all), each on
// its partition, issued at at by the token named by. An error wraps
// ErrUnavailable: none of them may be assumed written.
func (p *Producer) ProduceCommands(ctx context.Context, cmds []PartitionedCommand, by string, at time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	recs := make([]*kgo.Record, 0, len(cmds))
	for i := range cmds {
		w := CommandToWire(&cmds[i].Command, at, by)
		v, err := p.codec.AppendCommand(nil, &w)
		if err != nil {
			return fmt.Errorf("encoding command %s: %w", w.CommandID, err)
		}
		recs = append(recs, &kgo.Record{Topic: p.cmdTopic, Partition: cmds[i].Partition, Key: []byte(w.CommandID), Value: v})
	}
	if err := p.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}
