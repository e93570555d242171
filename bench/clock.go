package bench

import (
	"context"
	"time"
)

// clock is a bencher's time: nanoseconds since the run's epoch, and a wait
// for such a time. Runs leave bencher.clock nil and use the wall clock;
// tests set a clock they move by hand, so the open-loop schedule is checked
// step by step whatever the load on the machine.
type clock interface {
	// now is the time since the epoch, in nanoseconds.
	now() int64
	// sleepUntil returns true once now() >= t (at once if it already
	// is), or false if ctx is done first.
	sleepUntil(ctx context.Context, t int64) bool
}

// sleepUntil waits until t nanoseconds after the epoch; false means ctx was
// done first.
func (b *bencher) sleepUntil(ctx context.Context, t int64) bool {
	if b.clock != nil {
		return b.clock.sleepUntil(ctx, t)
	}
	d := time.Duration(t - b.now())
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
