package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/metric"
)

// session is one transactional consumer-group session: the group member,
// its transactional producer, and the client that restores partitions from
// the changelog. A session ends on the first error it cannot recover from
// (Run starts a new one); the partitions it owned are forgotten and
// restored again by whoever owns them next.
type session struct {
	*Processing
	id       int // which of the instance's sessions (0 to Sessions-1)
	gs       *kgo.GroupTransactSession
	restorer *kgo.Client

	// sizes of the last committed transaction's results: the next one's
	// slices start at that capacity instead of growing to it by doubling.
	lastSizes txSizes

	// appliedAttrs holds the applied-transactions metric's attributes per
	// type, status and code, built once (publish).
	appliedAttrs map[appliedKind]metric.AddOption
}

// txSizes are the lengths of a transaction's result slices and of each
// partition's state batch.
type txSizes struct {
	outcomes, applied int
	batch             map[int32]int
}

// runSession runs session id until ctx ends or it fails.
func (p *Processing) runSession(ctx context.Context, id int) error {
	gs, err := kgo.NewGroupTransactSession(p.sessionOpts(id)...)
	if err != nil {
		return fmt.Errorf("creating transactional session: %w", err)
	}
	defer func() {
		// Leave the group so the partitions move at once, then forget
		// them: whoever owns them next restores from the changelog.
		gs.Close()
		if parts := p.own.reset(id); len(parts) > 0 {
			p.snaps.drop(parts)
		}
	}()

	// Initialise the transactional producer before restoring anything:
	// it fences this instance's previous incarnation and aborts the
	// transaction a crash left open, which would otherwise hold the
	// changelog's last stable offset below its records until the
	// transaction timed out (Kafka Streams' initTransactions does the
	// same before restoring).
	if _, _, err := gs.Client().ProducerID(ctx); err != nil {
		return fmt.Errorf("initialising the transactional producer %s: %w", p.transactionalID(id), err)
	}
	// The restorer only sends raw fetch requests (see fetchChangelog).
	restorer, err := kgo.NewClient(p.clientOpts()...)
	if err != nil {
		return fmt.Errorf("creating restore client: %w", err)
	}
	defer restorer.Close()
	s := &session{Processing: p, id: id, gs: gs, restorer: restorer, lastSizes: txSizes{batch: map[int32]int{}}}
	return s.loop(ctx)
}

// transactionalID is session id's transactional id: the configured one for
// the first session, with "-s<id>" after it for the others.
func (p *Processing) transactionalID(id int) string {
	if id == 0 {
		return p.cfg.TransactionalID
	}
	return p.cfg.TransactionalID + "-s" + strconv.Itoa(id)
}

// sessionOpts configure session id's group member and transactional
// producer.
func (p *Processing) sessionOpts(id int) []kgo.Opt {
	t := p.cfg.Topics
	opts := p.clientOpts(
		kgo.ConsumerGroup(p.cfg.Group),
		kgo.ConsumeTopics(t.Transactions, t.AllocationRequests, t.Commands),
		kgo.TransactionalID(p.transactionalID(id)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.SessionTimeout(p.cfg.SessionTimeout),
		// Three heartbeats a session, as Kafka recommends (the client's
		// default of 3 s refuses session timeouts below it).
		kgo.HeartbeatInterval(min(3*time.Second, p.cfg.SessionTimeout/3)),
		kgo.RebalanceTimeout(30*time.Second),
		// Range assignment gives each member the same partition numbers
		// of both input topics (they are co-partitioned by stock key),
		// so one member owns all of a stock key's input and state.
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			if stale := p.own.assign(id, m[t.Transactions], time.Now()); len(stale) > 0 {
				p.snaps.drop(stale)
				p.log.Info("partitions revoked (no revoke callback came before the new assignment)", "partitions", stale, "session", id)
			}
			p.log.Info("partitions assigned", "partitions", m[t.Transactions], "session", id)
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			p.dropPartitions(id, m[t.Transactions], "revoked")
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			p.dropPartitions(id, m[t.Transactions], "lost")
		}),
	)
	opts = append(opts, CycleOpts()...)
	if id > 0 {
		return opts
	}
	return append(opts, p.cfg.SessionOpts...)
}

// CycleOpts are the settings of a session's transaction cycle (consume,
// produce, commit) that bound its latency and its exactly-once reads. The
// bench's exactly-once floor (bench.PeerFloor) runs with the same, so that
// it measures the cycle invsync runs.
func CycleOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.TransactionTimeout(transactionTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		// Records wait for the commit's Flush, which ends every linger, instead
		// of leaving in bursts while the poll is applied: one produce request
		// per transaction rather than several, each of which the broker checks
		// against the transaction (KIP-890). Measured at 10,000 tx/s on Apache
		// Kafka, processors alone: p50 42 → 10 ms (BENCHMARKS.md). A batch that
		// fills, or the client's buffer filling, still goes at once.
		kgo.ProducerLinger(time.Second),
		kgo.FetchMaxWait(250 * time.Millisecond),
	}
}

func (p *Processing) dropPartitions(id int, parts []int32, why string) {
	if len(parts) == 0 {
		return
	}
	// A snapshot job is the partition's, whichever session runs it:
	// cancel only those of partitions this session still owned.
	if dropped := p.own.drop(id, parts); len(dropped) > 0 {
		p.snaps.drop(dropped)
	}
	p.log.Info("partitions "+why, "partitions", parts, "session", id)
}

// loop restores what is assigned, polls and processes, and once a second
// verifies quiet partitions and ticks those with a timer due.
func (s *session) loop(ctx context.Context) error {
	lastSweep := time.Now()
	for {
		if _, err := s.restorePending(ctx, nil); err != nil {
			return err
		}
		if time.Since(lastSweep) >= time.Second {
			lastSweep = time.Now()
			if _, err := s.restorePending(ctx, s.own.quiet(s.id, time.Now(), transactionTimeout+5*time.Second)); err != nil {
				return err
			}
			s.tickDue(ctx)
			s.settleCatchUps(ctx)
		}
		pollCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fetches := s.gs.PollRecords(pollCtx, s.cfg.MaxPollRecords)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if fetches.IsClientClosed() {
			return errors.New("client closed")
		}
		if err := s.fetchErrors(fetches); err != nil {
			return err
		}
		if fetches.NumRecords() == 0 {
			continue
		}
		if err := s.process(ctx, fetches); err != nil {
			return err
		}
	}
}

// fetchErrors logs the fetch errors the client retries by itself and
// returns the first one it does not (authorization, a topic that is gone):
// such an error ends the session rather than being logged forever.
func (s *session) fetchErrors(fetches kgo.Fetches) error {
	var fatal error
	fetches.EachError(func(topic string, part int32, err error) {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return
		}
		var ke *kerr.Error
		if errors.As(err, &ke) && !ke.Retriable {
			if fatal == nil {
				fatal = fmt.Errorf("fetching %s partition %d: %w", topic, part, err)
			}
			return
		}
		s.log.Warn("fetch error", "topic", topic, "partition", part, "err", err)
	})
	return fatal
}
