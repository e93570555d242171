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

// EnsureTopics creates any missing topic of the topic table
// (schemas.TopicTable) with its partitioning, cleanup policy and retention,
// using the given partition count and replication factor (-1: the broker's
// default), and checks that the partitioned topics that already exist agree
// on their partition count.
func EnsureTopics(ctx context.Context, adm *kadm.Client, t schemas.Topics, partitions int32, replication int16) error {
	for _, spec := range schemas.TopicTable() {
		name := t.Name(spec.Suffix)
		resp, err := adm.CreateTopic(ctx, topicPartitions(spec, partitions), replication, topicConfigs(spec), name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w", name, err)
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

// topicPartitions is the partition count spec is created with.
func topicPartitions(spec schemas.TopicSpec, partitions int32) int32 {
	if spec.Partitioning == schemas.PartitionSingle {
		return 1
	}
	return partitions
}

// topicConfigs are the topic configs spec is created with: the ones its
// cleanup policy and retention set; the broker's defaults for the rest.
func topicConfigs(spec schemas.TopicSpec) map[string]*string {
	if spec.Cleanup == schemas.CleanupCompact {
		return map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
	}
	if spec.Retention == schemas.RetainForever {
		return map[string]*string{"retention.ms": kadm.StringPtr("-1")}
	}
	return nil
}
