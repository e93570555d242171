package pipeline

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

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
	// restarted instance fences its own zombie. Required. With several
	// Sessions, session k > 0 uses TransactionalID + "-s" + k.
	TransactionalID string
	// Sessions is how many consumer-group members (each with its own
	// transactional producer) the instance runs (default 1). Each owns
	// its share of the partitions and commits on its own, so one
	// session's commit in flight does not hold the others' partitions:
	// while one waits for the broker, another applies. Keep it the same
	// across restarts: a session that no longer starts leaves a
	// transaction it had open to the transaction timeout (60 s), during
	// which read_committed consumers of its partitions wait.
	Sessions int
	// Topics names the topics. Required (Transactions, AllocationRequests,
	// InventoryEvents, Changelog, AllocationDecisions, PositionSnapshots,
	// DeadLetter).
	Topics schemas.Topics
	// Store is the local state; Processor the domain rules; Codec the Avro
	// codec; Notifier receives committed outcomes. Required.
	Store     *state.Store
	Processor *processors.Processor
	Codec     *schemas.Set
	Notifier  *Notifier[processors.Outcome]
	// Decisions receives committed allocation decisions; may be nil.
	Decisions *Notifier[processors.Allocation]
	// Commands receives the results of committed commands; may be nil.
	Commands *Notifier[processors.CommandResult]
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Meter records the processing metrics; nil means no metrics.
	Meter metric.Meter
	// Partitions is the partition count of the transactions topic, for
	// the invsync.partitions.total gauge (0: not reported).
	Partitions int32
	// TracerProvider traces each input record's processing (a CONSUMER
	// span in the producer's trace), the events it causes (their
	// traceparent header) and each Kafka transaction's commit (a span
	// linked to what it commits). Nil traces nothing.
	TracerProvider trace.TracerProvider
	// SessionTimeout is how long the group waits for a silent member
	// before moving its partitions (default 10 s; Kafka's minimum is 6 s).
	SessionTimeout time.Duration
	// MaxPollRecords bounds one transaction's input (default
	// DefaultMaxPollRecords).
	MaxPollRecords int
	// ClientOpts are appended to the Kafka client's options (TLS, SASL,
	// hooks such as kprom/kotel, timeouts).
	ClientOpts []kgo.Opt
	// SessionOpts are appended to the first transactional session's
	// options only (after ClientOpts), e.g. metrics hooks that may hook
	// one client.
	SessionOpts []kgo.Opt
	// Now is the clock of the domain (the apply time of transactions,
	// allocation expiry, snapshot slots); nil means time.Now.
	Now func() time.Time
	// SnapshotInterval is how often every owned partition publishes a
	// reconciliation snapshot of its stock records (see timers.go);
	// 0 means never.
	SnapshotInterval time.Duration
}

// MaxSessions bounds ProcessingConfig.Sessions.
const MaxSessions = 16

// validate reports every missing requirement at once.
func (cfg *ProcessingConfig) validate() error {
	var errs []error
	if len(cfg.Brokers) == 0 {
		errs = append(errs, errors.New("no brokers"))
	}
	if cfg.TransactionalID == "" {
		errs = append(errs, errors.New("no transactional id"))
	}
	t := cfg.Topics
	for name, v := range map[string]string{"transactions": t.Transactions, "allocation requests": t.AllocationRequests,
		"commands": t.Commands, "discrepancies": t.Discrepancies, "count tasks": t.CountTasks,
		"inventory events": t.InventoryEvents, "changelog": t.Changelog, "allocation decisions": t.AllocationDecisions,
		"position snapshots": t.PositionSnapshots, "dead letter": t.DeadLetter} {
		if v == "" {
			errs = append(errs, fmt.Errorf("no %s topic", name))
		}
	}
	if cfg.Sessions < 0 || cfg.Sessions > MaxSessions {
		errs = append(errs, fmt.Errorf("sessions %d: give 1 to %d (0 means 1)", cfg.Sessions, MaxSessions))
	}
	if cfg.Store == nil || cfg.Processor == nil || cfg.Codec == nil || cfg.Notifier == nil {
		errs = append(errs, errors.New("store, processor, codec and notifier are required"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("configuring processing: %w", errors.Join(errs...))
	}
	return nil
}

// withDefaults fills in the defaults documented on the fields.
func (cfg ProcessingConfig) withDefaults() ProcessingConfig {
	if cfg.Group == "" {
		cfg.Group = "invsync-processors"
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	if cfg.Sessions == 0 {
		cfg.Sessions = 1
	}
	if cfg.MaxPollRecords <= 0 {
		cfg.MaxPollRecords = DefaultMaxPollRecords
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.TracerProvider == nil {
		cfg.TracerProvider = tracenoop.NewTracerProvider()
	}
	if cfg.Meter == nil {
		cfg.Meter = noop.NewMeterProvider().Meter("invsync")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

// DefaultMaxPollRecords is ProcessingConfig.MaxPollRecords' default.
const DefaultMaxPollRecords = 5000
