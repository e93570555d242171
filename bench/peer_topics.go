package bench

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/invsync/invsync/schemas"
	"github.com/twmb/franz-go/pkg/kadm"
)

// createPeerTopics creates the run's input and output topics with the
// broker's default replication.
func createPeerTopics(ctx context.Context, adm *kadm.Client, t peerTopics, partitions int32) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, topic := range []string{t.input, t.output} {
		if _, err := adm.CreateTopic(ctx, partitions, -1, nil, topic); err != nil {
			return fmt.Errorf("creating the peer's topic %s: %w", topic, err)
		}
	}
	return nil
}

// deletePeerTopics deletes what a run left on the broker: its topics, the
// peer's changelogs and its consumer group. Best effort: a failure is
// printed, not returned, since the measurements stand without it.
func deletePeerTopics(adm *kadm.Client, t peerTopics, out io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topics := []string{t.input, t.output}
	if !t.floor {
		topics = append(topics, t.internal()...)
	}
	resps, err := adm.DeleteTopics(ctx, topics...)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		fmt.Fprintf(out, "%s: deleting the run's topics: %v\n", t.owner(), err)
	}
	gr, err := adm.DeleteGroups(ctx, t.appID)
	if err == nil {
		err = gr.Error()
	}
	if err != nil {
		fmt.Fprintf(out, "%s: deleting consumer group %s: %v\n", t.owner(), t.appID, err)
	}
}

// peerTopics names one run's topics and application.
type peerTopics struct {
	input, output, appID string
	floor                bool // the exactly-once floor's: no Kafka Streams changelogs
}

// newFloorTopics names the exactly-once floor's topics; appID is its
// consumer group and transactional id.
func newFloorTopics(prefix, run string) peerTopics {
	t := newPeerTopics(prefix, run)
	t.appID, t.floor = "invsync-floor-"+run, true
	return t
}

func newPeerTopics(prefix, run string) peerTopics {
	return peerTopics{
		input:  prefix + run + "." + schemas.TopicTransactions,
		output: prefix + run + "." + schemas.TopicInventoryEvents,
		appID:  "invsync-kstreams-" + run,
	}
}

// internal are the topics Kafka Streams creates for the application: one
// changelog per store (names fixed by bench/kstreams' ApplyTransaction).
func (t peerTopics) internal() []string {
	return []string{t.appID + "-stock-records-changelog", t.appID + "-applied-transactions-changelog"}
}

// owner names who the topics are for, in messages.
func (t peerTopics) owner() string {
	if t.floor {
		return PeerFloor
	}
	return "kstreams peer"
}
