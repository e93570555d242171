package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
	"github.com/invsync/invsync/state"
)

// ProcessingConfig configures the processors' consumer group.
type ProcessingConfig struct {
	// Brokers are the seed brokers. Required.
	Brokers []string
	// Group is the consumer group every instance joins (default
	// "invsync-processors"); partitions are shared out among its members.
	Group string
	// TransactionalID identifies this instance's transactional producer.
	// It must be unique per instance and stable across its restarts, so a
	// restarted instance fences its own zombie. Required.
	TransactionalID string
	Topics          Topics
	Store           *state.Store
	Processor       *processors.Processor
	Codec           *schemas.Set
	Notifier        *Notifier[processors.Outcome]
	// Decisions receives committed allocation decisions; may be nil.
	Decisions *Notifier[processors.Allocation]
	Logger    *slog.Logger
	// Meter records the processing metrics; nil means no metrics.
	Meter metric.Meter
	// SessionTimeout is how long the group waits for a silent member
	// before moving its partitions (default 10 s; Kafka's minimum is 6 s).
	SessionTimeout time.Duration
	// MaxPollRecords bounds one transaction's input (default 5000).
	MaxPollRecords int
	// ClientOpts are appended to the Kafka client's options (TLS, SASL,
	// hooks such as kprom/kotel, timeouts).
	ClientOpts []kgo.Opt
	// SessionOpts are appended to the transactional session's options
	// only (after ClientOpts), e.g. metrics hooks that may hook one
	// client.
	SessionOpts []kgo.Opt
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// SnapshotInterval is how often every owned partition publishes a
	// reconciliation snapshot of its stock records (see timers.go);
	// 0 means never.
	SnapshotInterval time.Duration
}

// Processing consumes the transactions topic in a consumer group and, per
// poll, applies the records of every owned partition inside one Kafka
// transaction that also carries the output events, the state changelog and
// the consumed offsets (exactly-once, KIP-447). Local state is written only
// after that transaction commits.
type Processing struct {
	cfg ProcessingConfig
	log *slog.Logger
	adm *kadm.Client
	// ticker writes timer ticks (timers.go); not transactional.
	ticker *kgo.Client

	decompressor kgo.Decompressor

	mu    sync.Mutex
	owned map[int32]phase
	// assignedAt: when each owned partition was assigned. A partition
	// that receives no input is verified once a transaction timeout has
	// passed since then: by that time any previous owner's transaction
	// has committed or been aborted by the coordinator.
	assignedAt map[int32]time.Time
	joined     bool
	restoring  map[int32]int64 // partition -> changelog records left to replay
	lastTick   map[int32]time.Time
	lag        map[int32]int64

	applied    metric.Int64Counter
	duplicates metric.Int64Counter
	deadLetter metric.Int64Counter
	latency    metric.Float64Histogram
	restored   metric.Int64Counter
	aborts     metric.Int64Counter
	snapshots  metric.Int64Counter
}

// NewProcessing validates cfg and returns a Processing ready to Run.
func NewProcessing(cfg ProcessingConfig) (*Processing, error) {
	var errs []error
	if len(cfg.Brokers) == 0 {
		errs = append(errs, errors.New("no brokers"))
	}
	if cfg.TransactionalID == "" {
		errs = append(errs, errors.New("no transactional id"))
	}
	if cfg.Store == nil || cfg.Processor == nil || cfg.Codec == nil || cfg.Notifier == nil {
		errs = append(errs, errors.New("store, processor, codec and notifier are required"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("configuring processing: %w", errors.Join(errs...))
	}
	if cfg.Group == "" {
		cfg.Group = "invsync-processors"
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	if cfg.MaxPollRecords <= 0 {
		cfg.MaxPollRecords = 5000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Meter == nil {
		cfg.Meter = noop.NewMeterProvider().Meter("invsync")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Processing{
		cfg:        cfg,
		log:        cfg.Logger.With("component", "processing"),
		owned:      map[int32]phase{},
		assignedAt: map[int32]time.Time{},
		restoring:  map[int32]int64{},
		lastTick:   map[int32]time.Time{},
		lag:        map[int32]int64{},

		decompressor: kgo.DefaultDecompressor(),
	}
	m := cfg.Meter
	p.applied, _ = m.Int64Counter("invsync.transactions.applied", metric.WithDescription("Transactions applied or rejected by the processors, by type and status."))
	p.duplicates, _ = m.Int64Counter("invsync.transactions.redelivered", metric.WithDescription("Input records whose transactionId already had an outcome (no effect)."))
	p.deadLetter, _ = m.Int64Counter("invsync.records.dead_lettered", metric.WithDescription("Input records that could not be decoded, sent to the dead-letter topic."))
	p.latency, _ = m.Float64Histogram("invsync.apply.latency", metric.WithUnit("s"),
		metric.WithDescription("From HTTP acceptance to the commit of the transaction that applied it."),
		metric.WithExplicitBucketBoundaries(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
	p.restored, _ = m.Int64Counter("invsync.restore.records", metric.WithDescription("Changelog records replayed into local state."))
	p.aborts, _ = m.Int64Counter("invsync.transactions.aborted", metric.WithDescription("Kafka transactions aborted (rebalance, fencing, errors); their input is reprocessed."))
	p.snapshots, _ = m.Int64Counter("invsync.snapshot.records", metric.WithDescription("Stock records published in reconciliation snapshots."))
	_, _ = m.Int64ObservableGauge("invsync.consumer.lag", metric.WithDescription("Records of the transactions topic not yet processed, per owned partition."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			p.mu.Lock()
			defer p.mu.Unlock()
			for part, lag := range p.lag {
				o.Observe(lag, metric.WithAttributes(attribute.Int("partition", int(part))))
			}
			return nil
		}))
	_, _ = m.Int64ObservableGauge("invsync.restore.remaining", metric.WithDescription("Changelog records left to replay before a partition is served."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			p.mu.Lock()
			defer p.mu.Unlock()
			for part, left := range p.restoring {
				o.Observe(left, metric.WithAttributes(attribute.Int("partition", int(part))))
			}
			return nil
		}))
	return p, nil
}

// PartitionStatus says whether this instance owns a partition and whether
// its state is restored (safe to read).
type PartitionStatus struct {
	Owned, Restored bool
}

// Partition reports the status of one partition.
func (p *Processing) Partition(part int32) PartitionStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	ph, ok := p.owned[part]
	return PartitionStatus{Owned: ok, Restored: ph >= restored}
}

// Ready reports whether the instance has joined the group and restored
// every partition it owns, with a reason when it has not.
func (p *Processing) Ready() (bool, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.joined {
		return false, "waiting for a partition assignment from the consumer group"
	}
	var pending []int32
	for part, ph := range p.owned {
		if ph == unrestored {
			pending = append(pending, part)
		}
	}
	if len(pending) > 0 {
		sort.Slice(pending, func(i, j int) bool { return pending[i] < pending[j] })
		return false, fmt.Sprintf("restoring state of partitions %v", pending)
	}
	return true, ""
}

// Run consumes until ctx ends. A failed session (fenced producer, lost
// connection beyond the client's retries, a state write error) is closed and
// started again with every partition re-restored; Run returns only when ctx
// ends.
func (p *Processing) Run(ctx context.Context) error {
	adm, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(p.cfg.Brokers...)}, p.cfg.ClientOpts...)...)
	if err != nil {
		return fmt.Errorf("creating admin client: %w", err)
	}
	defer adm.Close()
	p.adm = kadm.NewClient(adm)
	p.ticker, err = kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(p.cfg.Brokers...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks())}, p.cfg.ClientOpts...)...)
	if err != nil {
		return fmt.Errorf("creating tick client: %w", err)
	}
	defer p.ticker.Close()

	// Back off 0.5 s, 1 s, 2 s, 4 s between failed sessions; a session
	// that ran for a minute was healthy and starts the sequence again. The
	// cap is short because the usual cause, a broker restarting, is over
	// in seconds and every second here is a second of scans not applied.
	const minBackoff, maxBackoff = 500 * time.Millisecond, 4 * time.Second
	backoff := minBackoff
	for {
		began := time.Now()
		err := p.runSession(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(began) > time.Minute {
			backoff = minBackoff
		}
		p.log.Error("processing session failed; restarting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (p *Processing) runSession(ctx context.Context) error {
	t := p.cfg.Topics
	opts := []kgo.Opt{
		kgo.SeedBrokers(p.cfg.Brokers...),
		kgo.ConsumerGroup(p.cfg.Group),
		kgo.ConsumeTopics(t.Transactions, t.AllocationRequests),
		kgo.TransactionalID(p.cfg.TransactionalID),
		kgo.TransactionTimeout(transactionTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
		kgo.FetchMaxWait(250 * time.Millisecond),
		kgo.SessionTimeout(p.cfg.SessionTimeout),
		kgo.RebalanceTimeout(30 * time.Second),
		// Range assignment gives each member the same partition numbers
		// of both input topics (they are co-partitioned by stock key),
		// so one member owns all of a stock key's input and state.
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.joined = true
			for _, part := range m[t.Transactions] {
				p.owned[part] = unrestored
				p.assignedAt[part] = time.Now()
			}
			p.log.Info("partitions assigned", "partitions", m[t.Transactions])
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			p.drop(m[t.Transactions], "revoked")
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			p.drop(m[t.Transactions], "lost")
		}),
	}
	opts = append(append(opts, p.cfg.ClientOpts...), p.cfg.SessionOpts...)
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return fmt.Errorf("creating transactional session: %w", err)
	}
	defer func() {
		// Leave the group so the partitions move at once, then forget
		// them: whoever owns them next restores from the changelog.
		sess.Close()
		p.mu.Lock()
		p.owned = map[int32]phase{}
		p.assignedAt = map[int32]time.Time{}
		p.joined = false
		p.lag = map[int32]int64{}
		p.mu.Unlock()
	}()

	// Initialise the transactional producer before restoring anything:
	// it fences this instance's previous incarnation and aborts the
	// transaction a crash left open, which would otherwise hold the
	// changelog's last stable offset below its records until the
	// transaction timed out (Kafka Streams' initTransactions does the
	// same before restoring).
	if _, _, err := sess.Client().ProducerID(ctx); err != nil {
		return fmt.Errorf("initialising the transactional producer %s: %w", p.cfg.TransactionalID, err)
	}

	// The restorer only sends raw fetch requests (see fetchChangelog).
	restorer, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(p.cfg.Brokers...)}, p.cfg.ClientOpts...)...)
	if err != nil {
		return fmt.Errorf("creating restore client: %w", err)
	}
	defer restorer.Close()

	lastSweep := time.Now()
	for {
		if _, err := p.restorePending(ctx, sess, restorer, nil); err != nil {
			return err
		}
		if time.Since(lastSweep) >= time.Second {
			lastSweep = time.Now()
			if _, err := p.restorePending(ctx, sess, restorer, p.quietPartitions()); err != nil {
				return err
			}
			p.tickDue(ctx)
		}
		pollCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fetches := sess.PollRecords(pollCtx, p.cfg.MaxPollRecords)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if fetches.IsClientClosed() {
			return errors.New("client closed")
		}
		var fatal error
		fetches.EachError(func(topic string, part int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			p.log.Warn("fetch error", "topic", topic, "partition", part, "err", err)
		})
		if fatal != nil {
			return fatal
		}
		if fetches.NumRecords() == 0 {
			continue
		}
		if err := p.process(ctx, sess, restorer, fetches); err != nil {
			return err
		}
	}
}

func (p *Processing) drop(parts []int32, why string) {
	if len(parts) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, part := range parts {
		delete(p.owned, part)
		delete(p.assignedAt, part)
		delete(p.lag, part)
		delete(p.lastTick, part)
		delete(p.restoring, part)
	}
	p.log.Info("partitions "+why, "partitions", parts)
}

// quietPartitions are owned partitions restored but not yet verified whose
// assignment is older than the transaction timeout (see assignedAt).
func (p *Processing) quietPartitions() map[int32]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out map[int32]bool
	for part, ph := range p.owned {
		if ph == restored && time.Since(p.assignedAt[part]) > transactionTimeout+5*time.Second {
			if out == nil {
				out = map[int32]bool{}
			}
			out[part] = true
		}
	}
	return out
}

// transactionTimeout is the processors' Kafka transaction timeout.
const transactionTimeout = 60 * time.Second

// phase is how far a newly assigned partition's state has been brought.
type phase int

const (
	// unrestored: assigned, local state not yet caught up.
	unrestored phase = iota
	// restored: caught up to the changelog's stable end as of the
	// assignment; readable. A previous owner's last transaction may
	// still have been open then.
	restored
	// verified: caught up again after the first records were fetched,
	// when the group's offsets (and so the previous owner's
	// transactions) were known stable. Only then is it processed.
	verified
)

// restorePending restores every owned partition not yet restored, and
// verifies those in also (partitions about to be processed) that are not
// yet verified.
//
// A partition is verified only once its state agrees with the group's
// committed input offsets (checkInputs); it returns the partitions whose
// input had to be rewound to agree, whose records fetched so far must not
// be applied.
func (p *Processing) restorePending(ctx context.Context, sess *kgo.GroupTransactSession, cl *kgo.Client, also map[int32]bool) (map[int32]bool, error) {
	p.mu.Lock()
	var parts, verifying []int32
	for part, ph := range p.owned {
		if ph == unrestored || (also[part] && ph != verified) {
			parts = append(parts, part)
			if also[part] {
				verifying = append(verifying, part)
			}
		}
	}
	p.mu.Unlock()
	if len(parts) == 0 {
		return nil, nil
	}
	if err := p.restore(ctx, cl, parts); err != nil {
		return nil, err
	}
	rewound, err := p.checkInputs(ctx, sess, cl, verifying)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	for _, part := range parts {
		if _, ok := p.owned[part]; ok {
			if also[part] {
				p.owned[part] = verified
			} else {
				p.owned[part] = restored
			}
		}
	}
	p.mu.Unlock()
	return rewound, nil
}

// inputKey is the state key holding the next offset of input topic that a
// partition's state has consumed. It is written in the same Kafka
// transaction as the group's consumed offsets, so once a partition is
// restored the two must be equal.
func inputKey(topic string) []byte { return append([]byte{tagInput}, topic...) }

// tagInput is the pipeline's one key tag in a partition's state; the
// processors' tags are other letters (processors/record.go).
const tagInput = 'i'

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
// the offsets.
func (p *Processing) checkInputs(ctx context.Context, sess *kgo.GroupTransactSession, cl *kgo.Client, parts []int32) (map[int32]bool, error) {
	if len(parts) == 0 {
		return nil, nil
	}
	committed, err := p.adm.FetchOffsets(ctx, p.cfg.Group)
	if err != nil {
		return nil, fmt.Errorf("fetching the group's committed offsets: %w", err)
	}
	topics := []string{p.cfg.Topics.Transactions, p.cfg.Topics.AllocationRequests}
	var rewind map[string]map[int32]kgo.EpochOffset
	var rewound map[int32]bool
	for _, part := range parts {
		for rebuilt := false; ; rebuilt = true {
			rebuild := false
			for _, topic := range topics {
				c, ok := committed.Lookup(topic, part)
				if !ok || c.Err != nil || c.At < 0 {
					continue // nothing committed: consumption starts at the log start, reapplying idempotently
				}
				have, ok, err := p.inputOffset(part, topic)
				if err != nil {
					return nil, err
				}
				switch {
				case !ok || have == c.At:
				case have < c.At && topic != p.cfg.Topics.Transactions:
					// The cloud may write allocation requests in Kafka
					// transactions: a commit marker after the last
					// request puts the committed offset one past the
					// state's. Only ingest writes the transactions topic,
					// without markers, so a gap there is real.
				case !rebuilt:
					rebuild = true
					p.log.Error("partition state disagrees with the group's committed input offset; rebuilding it from the changelog",
						"partition", part, "topic", topic, "state_next_offset", have, "committed_offset", c.At)
				case have > c.At:
					p.log.Warn("input offsets were moved back behind the partition's state; re-read input is recognised as duplicates",
						"partition", part, "topic", topic, "state_next_offset", have, "committed_offset", c.At)
				default:
					if rewind == nil {
						rewind, rewound = map[string]map[int32]kgo.EpochOffset{}, map[int32]bool{}
					}
					if rewind[topic] == nil {
						rewind[topic] = map[int32]kgo.EpochOffset{}
					}
					rewind[topic][part] = kgo.EpochOffset{Epoch: -1, Offset: have}
					rewound[part] = true
					p.log.Error("the group's committed offset is past the input this partition's state applied; rewinding to apply it",
						"partition", part, "topic", topic, "state_next_offset", have, "committed_offset", c.At)
				}
			}
			if !rebuild {
				break
			}
			if err := p.cfg.Store.Drop(part); err != nil {
				return nil, err
			}
			if err := p.restore(ctx, cl, []int32{part}); err != nil {
				return nil, err
			}
		}
	}
	if rewind != nil {
		sess.Client().SetOffsets(rewind)
	}
	return rewound, nil
}

// inputOffset reads the next offset of topic that partition part's state
// has consumed, if it records one.
func (p *Processing) inputOffset(part int32, topic string) (int64, bool, error) {
	v, ok, err := p.cfg.Store.Partition(part).Get(inputKey(topic))
	if err != nil || !ok {
		return 0, false, err
	}
	if len(v) != 8 {
		return 0, false, fmt.Errorf("partition %d: input offset of %s is %d bytes, want 8", part, topic, len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), true, nil
}

// restore replays the changelog of parts from each one's local offset up to
// the last stable offset, so local state equals what Kafka committed.
func (p *Processing) restore(ctx context.Context, cl *kgo.Client, parts []int32) error {
	topic := p.cfg.Topics.Changelog
	ends, err := p.adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("listing changelog end offsets: %w", err)
	}
	ends, err = p.awaitStable(ctx, topic, parts, ends)
	if err != nil {
		return err
	}
	starts, err := p.adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("listing changelog start offsets: %w", err)
	}
	target := map[int32]int64{} // partition -> stable end to reach
	pos := map[int32]int64{}    // partition -> next offset to read
	var total int64
	for _, part := range parts {
		end, ok := ends.Lookup(topic, part)
		start, ok2 := starts.Lookup(topic, part)
		if !ok || !ok2 || end.Err != nil || start.Err != nil {
			return fmt.Errorf("changelog partition %d offsets unavailable: %v %v", part, end.Err, start.Err)
		}
		next, err := p.cfg.Store.Offset(part)
		if err != nil {
			return err
		}
		if next < start.Offset || next > end.Offset {
			// Truncated past our copy, or the topic was recreated:
			// the local copy cannot be caught up, rebuild it.
			p.log.Warn("local state of partition cannot be caught up; rebuilding from the changelog",
				"partition", part, "local_offset", next, "log_start", start.Offset, "log_end", end.Offset)
			if err := p.cfg.Store.Drop(part); err != nil {
				return err
			}
			next = start.Offset
		}
		if next < end.Offset {
			target[part] = end.Offset
			pos[part] = next
			total += end.Offset - next
			p.mu.Lock()
			p.restoring[part] = end.Offset - next
			p.mu.Unlock()
		}
	}
	if len(target) == 0 {
		return nil
	}
	began := time.Now()
	p.log.Info("restoring partitions from the changelog", "partitions", len(target), "records", total)
	lastLog := time.Now()
	var done int64
	for len(target) > 0 {
		progressed, err := p.fetchChangelog(ctx, cl, target, pos)
		if err != nil {
			return err
		}
		done += progressed
		p.mu.Lock()
		for part, tgt := range target {
			p.restoring[part] = max(tgt-pos[part], 0)
			if pos[part] >= tgt {
				delete(target, part)
				delete(p.restoring, part)
			}
		}
		p.mu.Unlock()
		if time.Since(lastLog) > 5*time.Second {
			lastLog = time.Now()
			p.log.Info("restoring", "done", done, "of", total, "partitions_left", len(target), "positions", pos, "targets", target)
		}
	}
	p.log.Info("restore complete", "records", done, "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// fetchChangelog fetches once from each partition in target, from pos, and
// replays what it reads. It uses raw read_committed fetches rather than a
// consumer because it needs the position past what it read even when what
// it read was all aborted (a transaction aborted without a visible marker,
// as a broker recovering from a crash may do): only the fetch response
// says how far the log was read. It returns the offsets advanced.
func (p *Processing) fetchChangelog(ctx context.Context, cl *kgo.Client, target, pos map[int32]int64) (int64, error) {
	topic := p.cfg.Topics.Changelog
	md, err := p.adm.Metadata(ctx, topic)
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
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID = -1
		req.MaxWaitMillis = 200
		req.MinBytes = 1
		req.MaxBytes = 64 << 20
		req.IsolationLevel = 1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = topic, td.ID
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
		resp, err := req.RequestWith(ctx, cl.Broker(int(leader)))
		if err != nil {
			return 0, fmt.Errorf("fetching changelog from broker %d: %w", leader, err)
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			return 0, fmt.Errorf("fetching changelog from broker %d: %w", leader, err)
		}
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				rp := &resp.Topics[i].Partitions[j]
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
				}, rp, p.decompressor, nil)
				if fp.Err != nil {
					return 0, fmt.Errorf("decoding changelog partition %d: %w", rp.Partition, fp.Err)
				}
				if next <= from {
					continue
				}
				muts := make([]state.Mutation, 0, len(fp.Records))
				for _, r := range fp.Records {
					if !r.Attrs.IsControl() {
						muts = append(muts, state.Mutation{Key: r.Key, Value: r.Value})
					}
				}
				if err := p.cfg.Store.Replay(rp.Partition, muts, next); err != nil {
					return 0, err
				}
				p.restored.Add(ctx, int64(len(muts)))
				advanced += next - from
				pos[rp.Partition] = next
			}
		}
	}
	return advanced, nil
}

// awaitStable waits (up to a transaction timeout) until no open
// transaction holds the changelog's stable offset below its end on parts: a
// previous owner's last transaction may still be writing its markers, and
// restoring only to the stable offset would miss what it commits.
func (p *Processing) awaitStable(ctx context.Context, topic string, parts []int32, lso kadm.ListedOffsets) (kadm.ListedOffsets, error) {
	deadline := time.Now().Add(70 * time.Second)
	for {
		hwm, err := p.adm.ListEndOffsets(ctx, topic)
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
				p.log.Warn("changelog partitions still have an open transaction; restoring to their stable offset", "partitions", open)
			}
			return lso, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if lso, err = p.adm.ListCommittedOffsets(ctx, topic); err != nil {
			return nil, fmt.Errorf("listing changelog stable offsets: %w", err)
		}
	}
}

// process applies one poll's records inside one Kafka transaction.
func (p *Processing) process(ctx context.Context, sess *kgo.GroupTransactSession, restorer *kgo.Client, fetches kgo.Fetches) error {
	t := p.cfg.Topics
	byPart := map[int32][]*kgo.Record{}
	lag := map[int32]int64{}
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if (fp.Topic != t.Transactions && fp.Topic != t.AllocationRequests) || len(fp.Records) == 0 {
			return
		}
		byPart[fp.Partition] = append(byPart[fp.Partition], fp.Records...)
		lag[fp.Partition] += max(fp.HighWatermark-(fp.Records[len(fp.Records)-1].Offset+1), 0)
	})
	if len(byPart) == 0 {
		return nil
	}
	// Records were fetched, so the group's offsets were stable: any
	// previous owner's transaction on these partitions has ended, and the
	// changelog's stable end is final. Catch up before applying.
	also := map[int32]bool{}
	for part, recs := range byPart {
		also[part] = true
		// Transactions and allocation requests of one stock key arrive
		// on two topics; take them in the order they were written.
		sort.SliceStable(recs, func(i, j int) bool { return recs[i].Timestamp.Before(recs[j].Timestamp) })
	}
	rewound, err := p.restorePending(ctx, sess, restorer, also)
	if err != nil {
		return err
	}
	for part := range rewound {
		delete(byPart, part) // read again from the state's offset by the next poll
	}
	if len(byPart) == 0 {
		return nil
	}
	tx, err := p.begin(sess)
	if err != nil {
		return err
	}
	defer tx.discard()
	// Partitions are independent: apply them in parallel, one goroutine
	// each, at most GOMAXPROCS at a time.
	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
		sem   = make(chan struct{}, runtime.GOMAXPROCS(0))
	)
	for part := range byPart {
		tx.batch(part) // create every batch before the goroutines start
	}
	for part, recs := range byPart {
		wg.Add(1)
		sem <- struct{}{}
		go func(part int32, recs []*kgo.Record) {
			defer func() { <-sem; wg.Done() }()
			fail := func(err error) {
				errMu.Lock()
				if first == nil {
					first = err
				}
				errMu.Unlock()
			}
			b := tx.batches[part]
			var buf []byte
			for _, rec := range recs {
				if err := p.applyRecord(ctx, tx, b, part, rec, &buf); err != nil {
					fail(fmt.Errorf("partition %d offset %d of %s: %w", part, rec.Offset, rec.Topic, err))
					return
				}
			}
			if err := p.runTimers(ctx, tx, b, part); err != nil {
				fail(fmt.Errorf("partition %d timers: %w", part, err))
			}
		}(part, recs)
	}
	wg.Wait()
	if first != nil {
		p.abort(ctx, sess)
		return first
	}
	// Record how far each partition's state has consumed its input, in
	// the same transaction as the group's offsets (see checkInputs).
	for part, recs := range byPart {
		next := map[string]int64{}
		for _, r := range recs {
			next[r.Topic] = max(next[r.Topic], r.Offset+1)
		}
		for topic, off := range next {
			if err := tx.batches[part].Set(inputKey(topic), binary.BigEndian.AppendUint64(nil, uint64(off))); err != nil {
				p.abort(ctx, sess)
				return err
			}
		}
	}
	committed, err := p.commit(ctx, sess, tx)
	if p.log.Enabled(ctx, slog.LevelDebug) {
		for part, recs := range byPart {
			p.log.Debug("poll applied", "committed", committed, "err", err, "partition", part, "records", len(recs),
				"first", recs[0].Topic+"@"+strconv.FormatInt(recs[0].Offset, 10),
				"last", recs[len(recs)-1].Topic+"@"+strconv.FormatInt(recs[len(recs)-1].Offset, 10))
		}
	}
	if err != nil || !committed {
		return err
	}
	p.mu.Lock()
	for part, l := range lag {
		p.lag[part] = l
	}
	p.mu.Unlock()
	return nil
}

// txWork is one Kafka transaction's work: a state batch per partition, the
// produced records' outcome, and what to publish once it commits.
type txWork struct {
	sess      *kgo.GroupTransactSession
	p         *Processing
	now       time.Time
	batches   map[int32]*state.Batch
	mu        sync.Mutex
	prodErr   error
	lastOff   map[int32]int64
	resMu     sync.Mutex // guards the three slices below: partitions apply in parallel
	outcomes  []processors.Outcome
	decisions []processors.Allocation
	applied   []appliedTx
	// snapshotRecords counts the snapshot records published (timers.go).
	snapshotRecords atomic.Int64
}

func (p *Processing) begin(sess *kgo.GroupTransactSession) (*txWork, error) {
	if err := sess.Begin(); err != nil {
		return nil, fmt.Errorf("beginning transaction: %w", err)
	}
	return &txWork{sess: sess, p: p, now: p.cfg.Now(), batches: map[int32]*state.Batch{}, lastOff: map[int32]int64{}}, nil
}

func (w *txWork) batch(part int32) *state.Batch {
	b, ok := w.batches[part]
	if !ok {
		b = w.p.cfg.Store.NewBatch(part)
		w.batches[part] = b
	}
	return b
}

func (w *txWork) discard() {
	for _, b := range w.batches {
		b.Discard()
	}
}

func (w *txWork) produce(ctx context.Context, r *kgo.Record) {
	changelog := w.p.cfg.Topics.Changelog
	w.sess.Produce(ctx, r, func(r *kgo.Record, err error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if err != nil {
			if w.prodErr == nil {
				w.prodErr = err
			}
			return
		}
		if r.Topic == changelog && r.Offset > w.lastOff[r.Partition] {
			w.lastOff[r.Partition] = r.Offset
		}
	})
}

// decide produces allocation decisions for partition part.
func (w *txWork) decide(ctx context.Context, part int32, decs []processors.Allocation) error {
	for i := range decs {
		d := DecisionToWire(&decs[i])
		v, err := w.p.cfg.Codec.AppendAllocationDecision(nil, &d)
		if err != nil {
			return fmt.Errorf("encoding decision %s: %w", d.DecisionID, err)
		}
		w.produce(ctx, &kgo.Record{Topic: w.p.cfg.Topics.AllocationDecisions, Partition: part, Key: []byte(d.AllocationID), Value: v})
	}
	w.resMu.Lock()
	w.decisions = append(w.decisions, decs...)
	w.resMu.Unlock()
	return nil
}

// applyRecord applies one input record to its partition's batch and queues
// what it produces.
func (p *Processing) applyRecord(ctx context.Context, w *txWork, b *state.Batch, part int32, rec *kgo.Record, buf *[]byte) error {
	t := p.cfg.Topics
	deadLetter := func(err error) {
		p.log.Error("undecodable input record sent to the dead-letter topic", "topic", rec.Topic, "partition", part, "offset", rec.Offset, "err", err)
		p.deadLetter.Add(ctx, 1)
		w.produce(ctx, &kgo.Record{Topic: t.DeadLetter, Partition: part, Key: rec.Key, Value: rec.Value,
			Headers: []kgo.RecordHeader{{Key: "error", Value: []byte(err.Error())},
				{Key: "source", Value: []byte(fmt.Sprintf("%s/%d/%d", rec.Topic, rec.Partition, rec.Offset))}}})
	}
	if rec.Topic == t.AllocationRequests {
		wr, err := p.cfg.Codec.DecodeAllocationRequest(rec.Value)
		if err != nil {
			deadLetter(err)
			return nil
		}
		req := AllocRequestFromWire(&wr)
		if msg := checkAllocRequest(&req); msg != "" {
			deadLetter(errors.New(msg))
			return nil
		}
		res, err := p.cfg.Processor.Allocate(b, &req, w.now)
		if err != nil {
			return err
		}
		if res.Duplicate || res.Unknown {
			if res.Mismatch {
				p.log.Warn("allocation request reuses an allocationId with a different body; ignored", "allocation", req.AllocationID)
			}
			return nil
		}
		return w.decide(ctx, part, res.Decisions)
	}

	if isTick(rec) {
		return nil // only wakes the partition's timers (timers.go)
	}
	wtx, err := p.cfg.Codec.DecodeTransaction(rec.Value)
	if err != nil {
		deadLetter(err)
		return nil
	}
	tx := FromWire(&wtx)
	res, err := p.cfg.Processor.Apply(b, &tx, w.now)
	if err != nil {
		return err
	}
	w.resMu.Lock()
	w.outcomes = append(w.outcomes, res.Outcome)
	if !res.Duplicate {
		w.applied = append(w.applied, appliedTx{typ: tx.Type, status: res.Outcome.Status, code: res.Outcome.Code, received: tx.ReceivedAt})
	}
	w.resMu.Unlock()
	if res.Duplicate {
		p.duplicates.Add(ctx, 1)
		return nil
	}
	for i := range res.Events {
		we := EventToWire(&res.Events[i])
		*buf, err = p.cfg.Codec.AppendInventoryEvent((*buf)[:0], &we)
		if err != nil {
			return fmt.Errorf("encoding event %s: %w", we.EventID, err)
		}
		w.produce(ctx, &kgo.Record{Topic: t.Events, Partition: part, Key: rec.Key, Value: append([]byte(nil), (*buf)...)})
	}
	return w.decide(ctx, part, res.Decisions)
}

// checkAllocRequest validates what arrives from the requests topic, which
// the cloud writes directly.
func checkAllocRequest(r *processors.AllocRequest) string {
	if msg := processors.ValidAllocationID("allocationId", r.AllocationID); msg != "" {
		return msg
	}
	if r.Action == processors.ActionAllocate && r.Quantity <= 0 {
		return fmt.Sprintf("quantity must be > 0, got %d", r.Quantity)
	}
	if r.WarehouseID == "" || r.ItemID == "" {
		return "warehouseId and itemId are required"
	}
	return ""
}

// commit produces every batch's changelog, ends the Kafka transaction and,
// once committed, writes the batches to the store and publishes results.
func (p *Processing) commit(ctx context.Context, sess *kgo.GroupTransactSession, w *txWork) (bool, error) {
	for part, b := range w.batches {
		for _, m := range b.Mutations() {
			w.produce(ctx, &kgo.Record{Topic: p.cfg.Topics.Changelog, Partition: part, Key: m.Key, Value: m.Value})
		}
	}
	if err := sess.Client().Flush(ctx); err != nil {
		return false, fmt.Errorf("flushing transaction: %w", err)
	}
	w.mu.Lock()
	perr := w.prodErr
	w.mu.Unlock()
	try := kgo.TryCommit
	if perr != nil {
		p.log.Warn("a produce in the transaction failed; aborting it", "err", perr)
		try = kgo.TryAbort
	}
	committed, err := sess.End(ctx, try)
	if err != nil || !committed {
		p.aborts.Add(ctx, 1)
		if err != nil {
			return false, fmt.Errorf("ending transaction: %w", err)
		}
		p.log.Info("transaction aborted (rebalance or produce failure); input will be reprocessed")
		return false, nil
	}
	for part, b := range w.batches {
		if b.Empty() {
			continue
		}
		off, ok := w.lastOff[part]
		if !ok {
			return false, fmt.Errorf("partition %d: changelog offsets missing after commit", part)
		}
		if err := b.Commit(off + 1); err != nil {
			// Kafka has the change; local state catches up from the
			// changelog when the session restarts.
			return false, err
		}
	}
	for _, a := range w.applied {
		p.applied.Add(ctx, 1, metric.WithAttributes(attribute.String("type", string(a.typ)),
			attribute.String("status", a.status), attribute.String("code", a.code)))
		p.latency.Record(ctx, time.Since(a.received).Seconds())
	}
	if n := w.snapshotRecords.Load(); n > 0 {
		p.snapshots.Add(ctx, n)
	}
	p.cfg.Notifier.Publish(w.outcomes)
	if p.cfg.Decisions != nil {
		p.cfg.Decisions.Publish(w.decisions)
	}
	return true, nil
}

type appliedTx struct {
	typ      processors.TxType
	status   string
	code     string
	received time.Time
}

func (p *Processing) abort(ctx context.Context, sess *kgo.GroupTransactSession) {
	if _, err := sess.End(ctx, kgo.TryAbort); err != nil {
		p.log.Warn("aborting transaction", "err", err)
	}
	p.aborts.Add(ctx, 1)
}
