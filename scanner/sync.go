package scanner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/invsync/invsync/api"
)

// SyncReport says what one Sync did.
type SyncReport struct {
	// Requests counts the uploads that were answered.
	Requests int
	// Accepted, Duplicate and Rejected count the answered scans
	// (Rejected includes scans accepted but rejected when applied).
	Accepted, Duplicate, Rejected int
	// LateRejected counts scans synced earlier with a pending outcome
	// that the server has since rejected.
	LateRejected int
	// Remaining is the number of scans still queued after the Sync, and
	// Rejections the number waiting for the operator.
	Remaining, Rejections int
}

// Sync makes one sync attempt: it uploads everything queued when it began,
// oldest first, in requests of at most BatchSize scans and MaxBodyBytes,
// until the queue is empty or a request goes unanswered. Each request's
// transactions are the stored bytes; only sentAt is set anew. It returns an
// *UploadError when a request got no usable answer (the scans stay queued;
// nothing of that request is assumed accepted), ErrNoServer without a URL,
// and, with a refused token, ErrTokenRefused without sending anything.
// A 413 halves the batch and goes on. Syncs of one Device run one at a time.
func (d *Device) Sync(ctx context.Context) (SyncReport, error) {
	if err := d.enter(); err != nil {
		return SyncReport{}, err
	}
	defer d.leave()
	return d.sync(ctx)
}

func (d *Device) sync(ctx context.Context) (SyncReport, error) {
	var rep SyncReport
	if d.cfg.URL == "" {
		return rep, ErrNoServer
	}
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(d.ctx, cancel) // Close aborts the upload in flight
	defer stop()
	// Results that came back are recorded even if ctx ends meanwhile.
	dbCtx := context.WithoutCancel(ctx)

	d.mu.Lock()
	refused, notBefore := d.refused, d.retryNotBefore
	d.mu.Unlock()
	now := d.cfg.Now()
	switch {
	case refused:
		return d.finish(dbCtx, rep, &UploadError{Kind: ErrTokenRefused,
			Message: "the token was refused: syncing is stopped until a new token is set"})
	case now.Before(notBefore):
		return d.finish(dbCtx, rep, &UploadError{Kind: ErrDeferred, RetryAfter: notBefore.Sub(now)})
	}
	total, maxSeq, err := d.queuedBounds(dbCtx)
	if err != nil {
		return rep, err
	}
	var after int64
	size := d.cfg.BatchSize
	var prog Progress
	prog.Total = total
	for {
		batch, err := d.nextBatch(dbCtx, after, maxSeq, size, d.cfg.MaxBodyBytes)
		if err != nil {
			return rep, err
		}
		if len(batch) == 0 {
			break
		}
		txs := make([][]byte, len(batch))
		for i, r := range batch {
			txs[i] = r.body
		}
		res, err := d.upload(ctx, d.withDevice(dbCtx, envelope(d.scannerID, d.cfg.Now(), txs)))
		var ue *UploadError
		if errors.As(err, &ue) && ue.StatusCode == http.StatusRequestEntityTooLarge {
			if len(batch) > 1 {
				size = len(batch) / 2
				continue
			}
			// One scan alone is too large for the server: no resend
			// can succeed, so the operator must see it.
			msg := "this scan alone is larger than the server accepts in one request (HTTP 413)"
			if err := markRejected(dbCtx, d.db, batch[0].id, api.StatusRejected, &tooLarge, &msg, "", d.cfg.Now().UnixMilli()); err != nil {
				return rep, err
			}
			rep.Rejected++
			after = batch[0].seq
			continue
		}
		if err != nil {
			if ue != nil {
				if rerr := d.recordFailure(dbCtx, ue); rerr != nil {
					return rep, errors.Join(err, rerr)
				}
			}
			return d.finish(dbCtx, rep, err)
		}
		p, err := d.applyResults(dbCtx, batch, res, d.cfg.Now())
		if err != nil {
			return rep, err
		}
		d.mu.Lock()
		d.lastKind, d.retryNotBefore = kindOK, time.Time{}
		d.mu.Unlock()
		rep.Requests++
		rep.Accepted += p.Accepted
		rep.Duplicate += p.Duplicate
		rep.Rejected += p.Rejected
		prog.Accepted, prog.Duplicate, prog.Rejected = rep.Accepted, rep.Duplicate, rep.Rejected
		prog.Done = rep.Accepted + rep.Duplicate + rep.Rejected
		if d.cfg.Progress != nil {
			d.cfg.Progress(prog)
		}
		after = batch[len(batch)-1].seq
	}
	late, err := d.pollPending(ctx, dbCtx)
	rep.LateRejected = late
	if err != nil {
		return d.finish(dbCtx, rep, err)
	}
	rep, err = d.finish(dbCtx, rep, d.maybePrune(dbCtx))
	if err == nil {
		d.heartbeat(ctx)
	}
	return rep, err
}

// tooLarge is the local rejection code of a scan the server answers 413
// on its own.
var tooLarge api.ErrorCode = "TOO_LARGE"

// finish fills the report's counts and passes err through.
func (d *Device) finish(ctx context.Context, rep SyncReport, err error) (SyncReport, error) {
	c, cerr := d.counts(ctx)
	if cerr != nil {
		return rep, errors.Join(err, cerr)
	}
	rep.Remaining, rep.Rejections = c.queued, c.rejected
	return rep, err
}

// recordFailure stores a request that got no usable answer and adjusts
// what the Device does next: a refused token stops syncing, a Retry-After
// defers it.
func (d *Device) recordFailure(ctx context.Context, ue *UploadError) error {
	now := d.cfg.Now()
	kind := map[error]string{ErrOffline: kindOffline, ErrUnanswered: kindUnanswered,
		ErrTokenRefused: kindRefusedToken, ErrRequestRefused: kindRefusedRequest}[ue.Kind]
	var notBefore time.Time
	if ue.RetryAfter > 0 {
		notBefore = now.Add(ue.RetryAfter)
	}
	d.mu.Lock()
	d.lastKind, d.retryNotBefore = kind, notBefore
	if kind == kindRefusedToken {
		d.refused = true
	}
	token := d.token
	d.mu.Unlock()
	if kind == kindRefusedToken {
		d.cfg.Logger.Error("the server refused the scanner's token: syncing stopped; re-enrol the scanner (get a new token)", "err", ue)
	} else {
		d.cfg.Logger.Warn("sync attempt failed; the scans stay queued", "kind", kind, "err", ue)
	}
	return recordAttempt(ctx, d.db, now, kind, ue.Error(), fingerprint(token), notBefore)
}

// maybePrune forgets old history at most once an hour.
func (d *Device) maybePrune(ctx context.Context) error {
	now := d.cfg.Now()
	d.mu.Lock()
	due := now.Sub(d.lastPrune) >= time.Hour
	if due {
		d.lastPrune = now
	}
	d.mu.Unlock()
	if !due {
		return nil
	}
	if err := d.pruneHistory(ctx, now); err != nil {
		return fmt.Errorf("after sync: %w", err)
	}
	return nil
}
