package pipeline

import (
	"context"
	"sync"

	"github.com/invsync/invsync/processors"
)

// Notifier hands the outcomes of committed transactions to whoever waits
// for them in this process (HTTP ?wait=applied, ingest's pending set). It
// only ever publishes outcomes whose Kafka transaction committed. Safe for
// concurrent use.
type Notifier struct {
	mu      sync.Mutex
	waiters map[string][]chan processors.Outcome
	hooks   []func(processors.Outcome)
}

// NewNotifier returns an empty Notifier.
func NewNotifier() *Notifier {
	return &Notifier{waiters: map[string][]chan processors.Outcome{}}
}

// OnOutcome registers fn to be called with every published outcome. fn must
// not block. Register hooks before the pipeline runs.
func (n *Notifier) OnOutcome(fn func(processors.Outcome)) {
	n.mu.Lock()
	n.hooks = append(n.hooks, fn)
	n.mu.Unlock()
}

// Subscribe returns a channel that receives the outcome of txid once it is
// published, and a function that must be called to release the
// subscription. Subscribe before producing, or check the store after
// subscribing, so an outcome published in between is not missed.
func (n *Notifier) Subscribe(txid string) (<-chan processors.Outcome, func()) {
	ch := make(chan processors.Outcome, 1)
	n.mu.Lock()
	n.waiters[txid] = append(n.waiters[txid], ch)
	n.mu.Unlock()
	return ch, func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		list := n.waiters[txid]
		for i, c := range list {
			if c == ch {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(n.waiters, txid)
		} else {
			n.waiters[txid] = list
		}
	}
}

// Wait blocks until txid's outcome is published or ctx ends.
func (n *Notifier) Wait(ctx context.Context, txid string) (processors.Outcome, error) {
	ch, cancel := n.Subscribe(txid)
	defer cancel()
	select {
	case o := <-ch:
		return o, nil
	case <-ctx.Done():
		return processors.Outcome{}, ctx.Err()
	}
}

// Publish delivers committed outcomes.
func (n *Notifier) Publish(outcomes []processors.Outcome) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, o := range outcomes {
		for _, h := range n.hooks {
			h(o)
		}
		for _, ch := range n.waiters[o.TransactionID] {
			select {
			case ch <- o:
			default:
			}
		}
	}
}
