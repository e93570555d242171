package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

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
		schemas.TopicScannerStatus:       compact(1),
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

// TestEnsureTopicsCreatesTheTable: on a broker, EnsureTopics creates every
// topic of the table with its partition count and configs, and a second
// run accepts what the first created.
func TestEnsureTopicsCreatesTheTable(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topics := schemas.NewTopics("ensure.")
	for range 2 {
		if err := EnsureTopics(ctx, adm, topics, 3, -1); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for _, spec := range schemas.TopicTable() {
		names = append(names, topics.Name(spec.Suffix))
	}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		t.Fatal(err)
	}
	configs, err := adm.DescribeTopicConfigs(ctx, names...)
	if err != nil {
		t.Fatal(err)
	}
	for _, spec := range schemas.TopicTable() {
		name := topics.Name(spec.Suffix)
		if got, want := int32(len(details[name].Partitions)), topicPartitions(spec, 3); got != want {
			t.Errorf("%s has %d partitions, want %d", name, got, want)
		}
		rc, err := configs.On(name, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for key, want := range topicConfigs(spec) {
			found := false
			for _, cfg := range rc.Configs {
				if cfg.Key == key {
					found = true
					if cfg.Value == nil || *cfg.Value != *want {
						t.Errorf("%s: %s = %v, want %s", name, key, cfg.MaybeValue(), *want)
					}
				}
			}
			if !found {
				t.Errorf("%s: no config %s", name, key)
			}
		}
	}
}
