// Package pipeline is invsync's Kafka plumbing: the transactional consumer
// group that feeds owned partitions to the processors (session.go,
// process.go, txwork.go), changelog restore (restore.go, inputs.go), the
// timers (timers.go), the catalog and lock tables every instance keeps
// (table.go, catalog.go, locks.go), the producer ingest writes through, the
// read side over local state (queries.go, owners.go) and topic admin. It
// holds no inventory rules; those are in package processors. The embedded
// broker is in the subpackage embedded.
package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/invsync/invsync/schemas"
)

// ErrPartitionsDisagree: an existing partitioned topic has another
// partition count than the deployment's. Waiting does not help.
var ErrPartitionsDisagree = errors.New("topic partition count disagrees with --partitions")

// EnsureTopics creates any missing topic with the given partition count and
// replication factor (-1: the broker's default), and checks that the
// partitioned topics that already exist agree on their partition count.
func EnsureTopics(ctx context.Context, adm *kadm.Client, t schemas.Topics, partitions int32, replication int16) error {
	compact := map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
	keep := map[string]*string{"retention.ms": kadm.StringPtr("-1")}
	want := []struct {
		name       string
		partitions int32
		configs    map[string]*string
	}{
		{t.Transactions, partitions, keep},
		{t.InventoryEvents, partitions, keep},
		{t.Changelog, partitions, compact},
		{t.DeadLetter, partitions, keep},
		{t.AllocationRequests, partitions, keep},
		{t.AllocationDecisions, partitions, keep},
		// Each snapshot supersedes the one before: the broker's
		// default retention, not forever.
		{t.PositionSnapshots, partitions, nil},
		{t.Catalog, 1, compact},
		{t.Locks, 1, compact},
		{t.Tokens, 1, compact},
		{t.Commands, partitions, keep},
		{t.Discrepancies, partitions, keep},
		{t.CountTasks, 1, compact},
		{t.CloudPositions, partitions, keep},
		{t.ScannerStatus, 1, compact},
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
	details, err := adm.ListTopics(ctx, t.Partitioned()...)
	if err != nil {
		return fmt.Errorf("describing topics: %w", err)
	}
	for _, name := range t.Partitioned() {
		d, ok := details[name]
		if !ok || d.Err != nil {
			return fmt.Errorf("topic %s is not available: %v", name, d.Err)
		}
		if got := int32(len(d.Partitions)); got != partitions {
			return fmt.Errorf("%w: topic %s has %d partitions but --partitions is %d: every invsync instance and every partitioned topic must agree (use --partitions %d, or another --topic-prefix)",
				ErrPartitionsDisagree, name, got, partitions, got)
		}
	}
	return nil
}
