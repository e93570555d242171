package sim

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// schedule is the main loop's agenda: actions at simulated moments, run
// one at a time by the main loop (the only goroutine that touches the
// truth). Other goroutines (the cloud, the supervisor) add actions.
type schedule struct {
	mu  sync.Mutex
	h   agenda
	seq int
}

// action is something to do at a simulated moment.
type action struct {
	at   time.Duration
	seq  int
	what string
	do   func(ctx context.Context, t time.Duration) error
}

func (s *schedule) add(at time.Duration, what string, do func(ctx context.Context, t time.Duration) error) {
	s.mu.Lock()
	s.seq++
	heap.Push(&s.h, &action{at: at, seq: s.seq, what: what, do: do})
	s.mu.Unlock()
}

// next pops the earliest action due at or before t, or returns nil and
// the moment of the earliest (-1 when empty).
func (s *schedule) next(t time.Duration) (*action, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.h) == 0 {
		return nil, -1
	}
	if s.h[0].at > t {
		return nil, s.h[0].at
	}
	return heap.Pop(&s.h).(*action), 0
}

type agenda []*action

func (a agenda) Len() int { return len(a) }
func (a agenda) Less(i, j int) bool {
	if a[i].at != a[j].at {
		return a[i].at < a[j].at
	}
	return a[i].seq < a[j].seq
}
func (a agenda) Swap(i, j int) { a[i], a[j] = a[j], a[i] }
func (a *agenda) Push(x any)   { *a = append(*a, x.(*action)) }
func (a *agenda) Pop() any {
	old := *a
	x := old[len(old)-1]
	*a = old[:len(old)-1]
	return x
}
