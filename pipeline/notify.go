package pipeline

import (
	"context"
	"sync"

	"github.com/invsync/invsync/processors"
)

// Notifier hands committed results (transaction outcomes, allocation
// decisions) to whoever waits for them in this process (HTTP ?wait=...,
// ingest's pending set). It only ever publishes what a committed Kafka
// transaction produced. Safe for concurrent use.
type Notifier[T any] struct {
	key     func(T) string
	mu      sync.Mutex
	waiters map[string][]chan T
	hooks   []func(T)
}

// NewNotifier returns an empty Notifier whose items are identified by key.
func NewNotifier[T any](key func(T) string) *Notifier[T] {
	return &Notifier[T]{key: key, waiters: map[string][]chan T{}}
}

// NewOutcomeNotifier publishes transaction outcomes by transactionId.
func NewOutcomeNotifier() *Notifier[processors.Outcome] {
	return NewNotifier(func(o processors.Outcome) string { return o.TransactionID })
}

// NewDecisionNotifier publishes allocation decisions by allocationId.
func NewDecisionNotifier() *Notifier[processors.Allocation] {
	return NewNotifier(func(a processors.Allocation) string { return a.AllocationID })
}

// NewCommandNotifier publishes command results by commandId (a report
// piece's command id is its piece id).
func NewCommandNotifier() *Notifier[processors.CommandResult] {
	return NewNotifier(func(r processors.CommandResult) string { return r.CommandID })
}

// OnOutcome registers fn to be called with every published outcome. fn must
// not block. Register hooks before the pipeline runs.
func (n *Notifier[T]) OnOutcome(fn func(T)) {
	n.mu.Lock()
	n.hooks = append(n.hooks, fn)
	n.mu.Unlock()
}

// Subscribe returns a channel that receives the outcome of txid once it is
// published, and a function that must be called to release the
// subscription. Subscribe before producing, or check the store after
// subscribing, so an outcome published in between is not missed.
func (n *Notifier[T]) Subscribe(txid string) (<-chan T, func()) {
	ch := make(chan T, 4)
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
func (n *Notifier[T]) Wait(ctx context.Context, txid string) (T, error) {
	ch, cancel := n.Subscribe(txid)
	defer cancel()
	select {
	case o := <-ch:
		return o, nil
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// Publish delivers committed outcomes.
func (n *Notifier[T]) Publish(outcomes []T) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, o := range outcomes {
		for _, h := range n.hooks {
			h(o)
		}
		for _, ch := range n.waiters[n.key(o)] {
			select {
			case ch <- o:
			default:
			}
		}
	}
}
