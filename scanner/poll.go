package scanner

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/invsync/invsync/api"
)

// Polling of unsettled outcomes: a scan synced with outcome pending (the
// ?wait=applied bound passed) or held (a count awaiting review) may still
// be rejected. Up to pollBatch of them are asked about per Sync, each at
// most every PollEvery, for pollFor after syncing.
const (
	pollBatch = 20
	pollFor   = 24 * time.Hour
)

// pollPending asks the server about unsettled outcomes and moves late
// rejections back to the queue for the operator. A network failure ends
// polling for this Sync quietly (the uploads already recorded the
// server's reachability); a refused token is recorded like an upload's.
func (d *Device) pollPending(ctx, dbCtx context.Context) (late int, err error) {
	if d.cfg.PollEvery < 0 {
		return 0, nil
	}
	now := d.cfg.Now()
	rows, err := d.db.QueryContext(dbCtx, `SELECT id FROM history
		WHERE outcome IN ('pending', 'held') AND done_at > ? AND COALESCE(polled_at, done_at) <= ?
		ORDER BY done_at LIMIT ?`, now.Add(-pollFor).UnixMilli(), now.Add(-d.cfg.PollEvery).UnixMilli(), pollBatch)
	if err != nil {
		return 0, fmt.Errorf("reading unsettled outcomes: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("reading unsettled outcomes: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		data, _, err := d.call(ctx, http.MethodGet, "/v1/transactions/"+url.PathEscape(id), nil)
		var o api.Outcome
		if err == nil && json.Unmarshal(data, &o) != nil {
			err = errors.New("malformed outcome")
		}
		var ue *UploadError
		switch {
		case errors.As(err, &ue) && ue.Kind == ErrTokenRefused:
			return late, errors.Join(err, d.recordFailure(dbCtx, ue))
		case ctx.Err() != nil, ue != nil && ue.StatusCode == 0:
			// Interrupted, or no answer: ask again at the next Sync.
			d.cfg.Logger.Debug("polling an outcome got no answer", "transactionId", id, "err", err)
			return late, nil
		case err != nil:
			// 404, 5xx, a malformed answer: nothing to learn now.
			if _, err := d.db.ExecContext(dbCtx, `UPDATE history SET polled_at = ? WHERE id = ?`, now.UnixMilli(), id); err != nil {
				return late, fmt.Errorf("recording poll of %s: %w", id, err)
			}
			continue
		}
		rejected, err := d.settle(dbCtx, id, o, now)
		if err != nil {
			return late, err
		}
		if rejected {
			late++
		}
	}
	return late, nil
}

// settle records a polled outcome; a rejection moves the scan back to the
// queue, waiting for the operator.
func (d *Device) settle(ctx context.Context, id string, o api.Outcome, now time.Time) (rejected bool, err error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("settling %s: %w", id, err)
	}
	defer tx.Rollback()
	if o.Status == api.OutcomeRejected {
		if _, err := tx.ExecContext(ctx, `INSERT INTO queue (seq, id, scanned_at, body, state, result, code, message, outcome, rejected_at, replaces)
			SELECT seq, id, scanned_at, body, 'rejected', result, COALESCE(?, 'REJECTED'), ?, 'rejected', ?, replaces FROM history WHERE id = ?`,
			nullStr(deref(o.Code)), nullStr(deref(o.Message)), now.UnixMilli(), id); err != nil {
			return false, fmt.Errorf("recording late rejection of %s: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM history WHERE id = ?`, id); err != nil {
			return false, fmt.Errorf("recording late rejection of %s: %w", id, err)
		}
		rejected = true
	} else {
		var onHand, version sql.NullInt64
		if o.ResultingOnHand != nil {
			onHand = sql.NullInt64{Int64: *o.ResultingOnHand, Valid: true}
		}
		if o.Version != nil {
			version = sql.NullInt64{Int64: *o.Version, Valid: true}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE history SET outcome = ?, code = ?, message = ?,
			resulting_on_hand = COALESCE(?, resulting_on_hand), version = COALESCE(?, version), polled_at = ? WHERE id = ?`,
			nullStr(string(o.Status)), nullStr(deref(o.Code)), nullStr(deref(o.Message)), onHand, version, now.UnixMilli(), id); err != nil {
			return false, fmt.Errorf("recording outcome of %s: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("settling %s: %w", id, err)
	}
	return rejected, nil
}
