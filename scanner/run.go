package scanner

import (
	"context"
	"errors"
	"time"
)

// ErrRunning: Run was called while another Run of the Device is going.
var ErrRunning = errors.New("scanner already running")

// Run syncs in the background until ctx ends or the Device is closed, then
// returns nil (an upload in flight is abandoned: nothing of it is assumed
// accepted). It syncs at once on start, right after a scan is queued when
// the last attempt succeeded (the device is online), and every SyncEvery,
// later if the server asked so with Retry-After. After a refused token it
// keeps running without sending until SetToken. It uses the caller's
// goroutine and one timer, nothing else; the timer runs on real time (only
// timestamps and the status use Config.Now). Sync errors are logged and
// reported to Config.AfterSync, never returned.
func (d *Device) Run(ctx context.Context) error {
	if err := d.enter(); err != nil {
		return err
	}
	if d.cfg.URL == "" {
		d.leave()
		return ErrNoServer
	}
	if !d.running.CompareAndSwap(false, true) {
		d.leave()
		return ErrRunning
	}
	defer d.running.Store(false)
	d.leave() // held only while syncing, so Close never waits on an idle Run
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-d.ctx.Done():
			return nil
		case <-d.wake:
			if !d.online() {
				continue // the next tick tries; a scan alone does not retry a failing server
			}
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
		case <-t.C:
		}
		if d.enter() != nil {
			return nil // closed
		}
		rep, err := d.sync(ctx)
		d.leave()
		if ctx.Err() != nil || d.ctx.Err() != nil {
			return nil
		}
		if d.cfg.AfterSync != nil {
			d.cfg.AfterSync(rep, err)
		}
		t.Reset(d.nextWait())
	}
}

// online reports whether the last attempt succeeded (or none was made).
func (d *Device) online() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lastKind == kindOK && !d.refused
}

// nextWait is SyncEvery, or longer when Retry-After asks for it.
func (d *Device) nextWait() time.Duration {
	d.mu.Lock()
	notBefore := d.retryNotBefore
	d.mu.Unlock()
	wait := d.cfg.SyncEvery
	if until := notBefore.Sub(d.cfg.Now()); until > wait {
		wait = until
	}
	return wait
}
