package sim

import (
	"sync"
	"time"
)

// clock is simulated time: the duration since the day's start, running
// speed times faster than real time from start, frozen while paused (the
// hourly audits pause it so that truth, invsync and last-write-wins are
// read at one simulated moment).
type clock struct {
	speed float64
	// dayStart is the timestamp of the day's start: the real start of
	// the run less the day's length, so the day ends at the real start.
	dayStart time.Time

	mu        sync.Mutex
	realStart time.Time // zero until start
	pausedAt  time.Time
	pausedFor time.Duration
}

func newClock(speed float64, realStart time.Time, day time.Duration) *clock {
	return &clock{speed: speed, dayStart: realStart.Add(-day).UTC().Truncate(time.Millisecond)}
}

// start sets simulated time running from 0.
func (c *clock) start() {
	c.mu.Lock()
	c.realStart = time.Now()
	c.mu.Unlock()
}

// now is the simulated time since the day's start (0 before start).
func (c *clock) now() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.realStart.IsZero() {
		return 0
	}
	el := time.Since(c.realStart) - c.pausedFor
	if !c.pausedAt.IsZero() {
		el -= time.Since(c.pausedAt)
	}
	return time.Duration(float64(el) * c.speed)
}

func (c *clock) pause() {
	c.mu.Lock()
	if c.pausedAt.IsZero() {
		c.pausedAt = time.Now()
	}
	c.mu.Unlock()
}

func (c *clock) resume() {
	c.mu.Lock()
	if !c.pausedAt.IsZero() {
		c.pausedFor += time.Since(c.pausedAt)
		c.pausedAt = time.Time{}
	}
	c.mu.Unlock()
}

// stamp is the true timestamp of simulated moment t.
func (c *clock) stamp(t time.Duration) time.Time { return c.dayStart.Add(t) }

// clockOf formats simulated moment t as a time of day, "13:45".
func clockOf(t time.Duration) string {
	t = t.Truncate(time.Minute)
	return time.Time{}.Add(t).Format("15:04") + dayNote(t)
}

func dayNote(t time.Duration) string {
	if d := int(t / (24 * time.Hour)); d > 0 {
		return " (day " + string(rune('1'+d)) + ")"
	}
	return ""
}
