// Package pipeline is invsync's Kafka plumbing: the topics, the embedded
// broker, the transactional consumer group that feeds owned partitions to
// the processors, changelog restore, the catalog and lock tables shared by
// every instance, and the producer ingest writes through. It holds no
// inventory rules; those are in package processors.
package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Topics are the names of every topic invsync uses, all under one prefix.
type Topics struct {
	// Transactions: accepted scanner transactions (Avro Transaction),
	// keyed by stock key. The processors' input.
	Transactions string
	// Events: applied stock changes (Avro InventoryEvent), keyed by stock
	// key. The output the cloud consumes.
	Events string
	// Changelog: the processors' state, one record per changed key,
	// partition for partition with Transactions. Compacted. Internal.
	Changelog string
	// Catalog: master data (Avro CatalogEntry), keyed "warehouse/<id>" or
	// "item/<id>". Compacted; read whole by every instance.
	Catalog string
	// Locks: location locks (Avro Lock), keyed by lockId; a lock's
	// release is a second record under its key. Compacted; read whole by
	// every instance, in log order, which decides who got a lock.
	Locks string
	// AllocationRequests: the cloud's allocation requests and
	// cancellations (Avro AllocationRequest), keyed by stock key; the
	// HTTP API writes here too. The processors' second input.
	AllocationRequests string
	// AllocationDecisions: every state change of an allocation (Avro
	// AllocationDecision), keyed by allocationId, so one allocation's
	// decisions are in order on one partition.
	AllocationDecisions string
	// PositionSnapshots: reconciliation snapshots (Avro PositionSnapshot),
	// keyed by stock key: every stock record of a partition, on the
	// partition of the same number, once per snapshot interval.
	PositionSnapshots string
	// DeadLetter: input records that could not be decoded, kept verbatim
	// with the reason in a header.
	DeadLetter string
}

// TopicsWithPrefix names the topics under prefix (default "invsync.").
func TopicsWithPrefix(prefix string) Topics {
	return Topics{
		Transactions: prefix + "transactions",
		Events:       prefix + "inventory-events",
		Changelog:    prefix + "state-changelog",
		Catalog:      prefix + "catalog",
		Locks:        prefix + "locks",
		DeadLetter:   prefix + "dead-letter",

		AllocationRequests:  prefix + "allocation-requests",
		AllocationDecisions: prefix + "allocation-decisions",
		PositionSnapshots:   prefix + "position-snapshots",
	}
}

// partitioned are the topics that must share one partition count: a stock
// key's input, state and output partitions are the same number.
func (t Topics) partitioned() []string {
	return []string{t.Transactions, t.Events, t.Changelog, t.DeadLetter, t.AllocationRequests, t.AllocationDecisions, t.PositionSnapshots}
}

// EnsureTopics creates any missing topic with the given partition count and
// replication factor (-1: the broker's default), and checks that the
// partitioned topics that already exist agree on their partition count.
func EnsureTopics(ctx context.Context, adm *kadm.Client, t Topics, partitions int32, replication int16) error {
	compact := map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
	keep := map[string]*string{"retention.ms": kadm.StringPtr("-1")}
	want := []struct {
		name       string
		partitions int32
		configs    map[string]*string
	}{
		{t.Transactions, partitions, keep},
		{t.Events, partitions, keep},
		{t.Changelog, partitions, compact},
		{t.DeadLetter, partitions, keep},
		{t.AllocationRequests, partitions, keep},
		{t.AllocationDecisions, partitions, keep},
		// Each snapshot supersedes the one before: the broker's
		// default retention, not forever.
		{t.PositionSnapshots, partitions, nil},
		{t.Catalog, 1, compact},
		{t.Locks, 1, compact},
	}
	for _, w := range want {
		resp, err := adm.CreateTopic(ctx, w.partitions, replication, w.configs, w.name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w", w.name, err)
		}
	}
	details, err := adm.ListTopics(ctx, t.partitioned()...)
	if err != nil {
		return fmt.Errorf("describing topics: %w", err)
	}
	for _, name := range t.partitioned() {
		d, ok := details[name]
		if !ok || d.Err != nil {
			return fmt.Errorf("topic %s is not available: %v", name, d.Err)
		}
		if got := int32(len(d.Partitions)); got != partitions {
			return fmt.Errorf("topic %s has %d partitions but --partitions is %d: every invsync instance and every partitioned topic must agree (use --partitions %d, or another --topic-prefix)",
				name, got, partitions, got)
		}
	}
	return nil
}
