package mirror

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// progress tracks how far the mirror is: per partition the offset applied
// up to, the end of the partition as the last fetch saw it, and the
// catch-up targets. Safe for concurrent use.
type progress struct {
	mu      sync.Mutex
	next    map[topicPartition]int64 // stored next offset
	end     map[topicPartition]int64 // last stable offset seen in a fetch
	targets map[topicPartition]int64 // ends when catching up began
	applied int64                    // records applied since Run began
	caught  bool
	// caughtUp is closed once the mirror has caught up, for good.
	caughtUp chan struct{}
}

func newProgress() *progress {
	return &progress{
		next:     map[topicPartition]int64{},
		end:      map[topicPartition]int64{},
		caughtUp: make(chan struct{}),
	}
}

// started records the stored offsets a session starts from.
func (p *progress) started(stored map[topicPartition]int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for tp, o := range stored {
		p.next[tp] = o
	}
}

// setTargets sets what "caught up" means: every partition applied up to its
// end as listed when consumption started (partitions absent from targets
// are not waited for). Ignored once caught up.
func (p *progress) setTargets(targets map[topicPartition]int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.caught {
		return
	}
	p.targets = targets
	p.checkLocked()
}

// fetched records the end of a partition (its last stable offset) as a
// fetch reported it; a negative end (unknown) is ignored.
func (p *progress) fetched(tp topicPartition, end int64) {
	if end < 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.end[tp] = end
	p.checkLocked()
}

// committed records a committed batch.
func (p *progress) committed(b *batch) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for tp, rg := range b.offsets {
		p.next[tp] = rg.next
	}
	p.applied += int64(b.total)
	p.checkLocked()
}

// checkLocked closes caughtUp when every target partition has been applied
// up to its target, or up to the end a later fetch reported (the same
// thing, when a target was not reachable exactly).
func (p *progress) checkLocked() {
	if p.caught || p.targets == nil {
		return
	}
	for tp, target := range p.targets {
		next := p.next[tp]
		if next >= target {
			continue
		}
		if end, ok := p.end[tp]; ok && next >= end {
			continue
		}
		return
	}
	p.caught = true
	close(p.caughtUp)
}

// snapshot returns the records applied so far, whether the mirror has
// caught up, and the lag: records known to be in the partitions and not
// applied yet, in total and per topic.
func (p *progress) snapshot() (applied int64, caught bool, lag int64, byTopic map[string]int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	byTopic = map[string]int64{}
	for tp, end := range p.end {
		if l := end - p.next[tp]; l > 0 {
			lag += l
			byTopic[tp.Topic] += l
		}
	}
	for tp, target := range p.targets {
		if _, seen := p.end[tp]; seen {
			continue
		}
		if l := target - p.next[tp]; l > 0 {
			lag += l
			byTopic[tp.Topic] += l
		}
	}
	return p.applied, p.caught, lag, byTopic
}

// logProgress writes a progress line every interval until the mirror has
// caught up, then one line saying so.
func (p *progress) logProgress(ctx context.Context, log *slog.Logger, interval time.Duration, now func() time.Time) {
	if interval <= 0 {
		return
	}
	start := now()
	t := time.NewTicker(interval)
	defer t.Stop()
	var last int64
	lastAt := start
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.caughtUp:
			applied, _, lag, _ := p.snapshot()
			elapsed := now().Sub(start)
			log.Info("mirror caught up", "records_applied", applied, "lag", lag,
				"elapsed", elapsed.Round(time.Millisecond), "rate_per_s", rate(applied, elapsed))
			return
		case <-t.C:
			applied, _, lag, byTopic := p.snapshot()
			at := now()
			log.Info("mirror catching up", "records_applied", applied, "lag", lag, "lag_by_topic", byTopic,
				"rate_per_s", rate(applied-last, at.Sub(lastAt)))
			last, lastAt = applied, at
		}
	}
}

func rate(n int64, d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(float64(n) / d.Seconds())
}
