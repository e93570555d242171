package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"
)

// Processing consumes the transactions and allocation-requests topics in a
// consumer group and, per poll, applies the records of every owned
// partition inside one Kafka transaction that also carries the output
// events, the state changelog and the consumed offsets (exactly-once,
// KIP-447). Local state is written only after that transaction commits.
//
// The files of this package follow one poll's path: session.go (the
// transactional consumer session and its poll loop), ownership.go (which
// partitions this instance owns and how far each is restored), restore.go
// (catching a partition's state up from the changelog), inputs.go (holding
// a partition's state to the group's committed offsets), process.go (one
// poll's records applied in parallel per partition), apply.go (one input
// record), txwork.go (the Kafka transaction's unit of work and its commit)
// timers.go (expiry and snapshots, decided inside the same transactions)
// and snapshots.go (the jobs that publish the snapshots).
type Processing struct {
	cfg ProcessingConfig
	log *slog.Logger
	adm *kadm.Client
	// ticker writes timer ticks (timers.go); not transactional.
	ticker *kgo.Client

	own          *ownership
	snaps        *snapshotJobs
	metrics      processingMetrics
	tracer       trace.Tracer
	processNames map[string]string // input topic -> its process span's name
	decompressor kgo.Decompressor
}

// transactionTimeout is the processors' Kafka transaction timeout.
const transactionTimeout = 60 * time.Second

// NewProcessing validates cfg and returns a Processing ready to Run.
func NewProcessing(cfg ProcessingConfig) (*Processing, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	p := &Processing{cfg: cfg, log: cfg.Logger.With("component", "processing"), own: newOwnership(cfg.Sessions),
		decompressor: kgo.DefaultDecompressor()}
	p.snaps = newSnapshotJobs(p)
	p.metrics = newProcessingMetrics(cfg.Meter, p)
	p.tracer = cfg.TracerProvider.Tracer(tracerName)
	p.processNames = processSpanNames(cfg.Topics)
	return p, nil
}

// Partition reports the status of one partition.
func (p *Processing) Partition(part int32) PartitionStatus { return p.own.status(part) }

// Ready reports whether the instance has joined the group and restored
// every partition it owns, with a reason when it has not (which
// partitions are restoring, and how far).
func (p *Processing) Ready() (bool, string) { return p.own.ready() }

// Run consumes until ctx ends, with ProcessingConfig.Sessions sessions in
// parallel. A failed session (fenced producer, lost connection beyond the
// client's retries, a state write error) is closed and started again with
// its partitions re-restored; Run returns only when ctx ends.
func (p *Processing) Run(ctx context.Context) error {
	adm, err := kgo.NewClient(p.clientOpts()...)
	if err != nil {
		return fmt.Errorf("creating admin client: %w", err)
	}
	defer adm.Close()
	p.adm = kadm.NewClient(adm)
	p.ticker, err = kgo.NewClient(p.clientOpts(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))...)
	if err != nil {
		return fmt.Errorf("creating tick client: %w", err)
	}
	defer p.ticker.Close()
	p.snaps.run(ctx)
	defer p.snaps.stop()

	var wg sync.WaitGroup
	for id := range p.cfg.Sessions {
		wg.Go(func() { p.keepSession(ctx, id) })
	}
	wg.Wait()
	return nil
}

// keepSession runs session id, starting it again after each failure, until
// ctx ends.
func (p *Processing) keepSession(ctx context.Context, id int) {
	// Back off 0.5 s, 1 s, 2 s, 4 s between failed sessions; a session
	// that ran for a minute was healthy and starts the sequence again. The
	// cap is short because the usual cause, a broker restarting, is over
	// in seconds and every second here is a second of scans not applied.
	const minBackoff, maxBackoff = 500 * time.Millisecond, 4 * time.Second
	backoff := minBackoff
	for {
		began := time.Now()
		err := p.runSession(ctx, id)
		if ctx.Err() != nil {
			return
		}
		if time.Since(began) > time.Minute {
			backoff = minBackoff
		}
		p.log.Error("processing session failed; restarting", "err", err, "in", backoff, "session", id)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// clientOpts are the seed brokers, opts, then the configured ClientOpts.
func (p *Processing) clientOpts(opts ...kgo.Opt) []kgo.Opt {
	return append(append([]kgo.Opt{kgo.SeedBrokers(p.cfg.Brokers...)}, opts...), p.cfg.ClientOpts...)
}
