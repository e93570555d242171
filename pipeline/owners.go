package pipeline

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// clientIDPrefix marks the processing clients of invsync instances: their
// Kafka client id is clientIDPrefix + the instance's advertised HTTP URL,
// so any instance can find which peer owns a partition from the consumer
// group's description, with no registry of its own.
const clientIDPrefix = "invsync@"

// ClientID is the Kafka client id an instance advertising url uses.
func ClientID(url string) string { return clientIDPrefix + url }

// Owners maps partitions to the HTTP URL of the instance owning them, from
// the consumer group's current assignment (cached for a second). Safe for
// concurrent use.
type Owners struct {
	adm   *kadm.Client
	group string
	topic string
	self  string

	mu    sync.Mutex
	at    time.Time
	owner map[int32]string
	peers []string
}

// NewOwners reads group's assignment of topic; self is this instance's URL.
func NewOwners(adm *kadm.Client, group, topic, self string) *Owners {
	return &Owners{adm: adm, group: group, topic: topic, self: self}
}

func (o *Owners) refresh(ctx context.Context) error {
	o.mu.Lock()
	fresh := time.Since(o.at) < time.Second
	o.mu.Unlock()
	if fresh {
		return nil
	}
	groups, err := o.adm.DescribeGroups(ctx, o.group)
	if err != nil {
		return fmt.Errorf("describing consumer group %s: %w", o.group, err)
	}
	g, ok := groups[o.group]
	if !ok || g.Err != nil {
		return fmt.Errorf("describing consumer group %s: %v", o.group, g.Err)
	}
	owner := map[int32]string{}
	var peers []string
	for _, m := range g.Members {
		url, ok := strings.CutPrefix(m.ClientID, clientIDPrefix)
		if !ok {
			continue
		}
		if url != o.self {
			peers = append(peers, url)
		}
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range c.Topics {
				if t.Topic != o.topic {
					continue
				}
				for _, p := range t.Partitions {
					owner[p] = url
				}
			}
		}
	}
	o.mu.Lock()
	o.at, o.owner, o.peers = time.Now(), owner, peers
	o.mu.Unlock()
	return nil
}

// OwnerURL returns the URL of the instance that owns partition p, "" when
// it is this instance or nobody (a rebalance is in progress).
func (o *Owners) OwnerURL(ctx context.Context, p int32) (string, error) {
	if err := o.refresh(ctx); err != nil {
		return "", err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if u := o.owner[p]; u != o.self {
		return u, nil
	}
	return "", nil
}

// PeerURLs returns the URLs of the other instances in the group.
func (o *Owners) PeerURLs(ctx context.Context) ([]string, error) {
	if err := o.refresh(ctx); err != nil {
		return nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.peers...), nil
}
