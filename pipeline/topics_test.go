package pipeline

import (
	"testing"

	"github.com/invsync/invsync/schemas"
)

// TestTopicProperties pins what EnsureTopics creates for each topic of the
// table to what deployments already have: a change here changes existing
// clusters' topics, and must be deliberate.
func TestTopicProperties(t *testing.T) {
	const n = 12
	type props struct {
		partitions int32
		cleanup    string // cleanup.policy, "" for the broker's default
		retention  string // retention.ms, "" for the broker's default
	}
	keep := func(p int32) props { return props{p, "", "-1"} }
	compact := func(p int32) props { return props{p, "compact", ""} }
	want := map[string]props{
		schemas.TopicTransactions:        keep(n),
		schemas.TopicInventoryEvents:     keep(n),
		schemas.TopicStateChangelog:      compact(n),
		schemas.TopicDeadLetter:          keep(n),
		schemas.TopicAllocationRequests:  keep(n),
		schemas.TopicAllocationDecisions: keep(n),
		schemas.TopicPositionSnapshots:   {n, "", ""},
		schemas.TopicCatalog:             compact(1),
		schemas.TopicLocks:               compact(1),
		schemas.TopicTokens:              compact(1),
		schemas.TopicCommands:            keep(n),
		schemas.TopicDiscrepancies:       keep(n),
		schemas.TopicCountTasks:          compact(1),
		schemas.TopicCloudPositions:      keep(n),
	}
	table := schemas.TopicTable()
	if len(table) != len(want) {
		t.Errorf("the table has %d topics, want %d", len(table), len(want))
	}
	for _, spec := range table {
		w, ok := want[spec.Suffix]
		if !ok {
			t.Errorf("topic %s is not pinned here", spec.Suffix)
			continue
		}
		configs := topicConfigs(spec)
		get := func(k string) string {
			if v := configs[k]; v != nil {
				return *v
			}
			return ""
		}
		got := props{topicPartitions(spec, n), get("cleanup.policy"), get("retention.ms")}
		if got != w || len(configs) > 1 {
			t.Errorf("topic %s is created with %+v (configs %d), want %+v", spec.Suffix, got, len(configs), w)
		}
	}
	// The partition counts every instance checks: all but the single
	// partition topics and cloud-positions, which a group of its own reads.
	topics := schemas.NewTopics("x.")
	checked := map[string]bool{}
	for _, name := range topics.Partitioned() {
		checked[name] = true
	}
	for suffix, w := range want {
		if should := w.partitions == n && suffix != schemas.TopicCloudPositions; checked[topics.Name(suffix)] != should {
			t.Errorf("topic %s: partition count checked %v, want %v", suffix, checked[topics.Name(suffix)], should)
		}
	}
}
