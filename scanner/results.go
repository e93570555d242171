package scanner

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/invsync/invsync/api"
)

// applyResults records a batch's answers and the successful attempt in one
// transaction. accepted and duplicate move to the history; rejected, and
// accepted-but-not-applied (outcome rejected), stay in the queue for the
// operator. A scan without a result in the answer stays queued: nothing is
// assumed about it.
func (d *Device) applyResults(ctx context.Context, batch []queuedRow, res []api.Result, now time.Time) (Progress, error) {
	var p Progress
	byID := make(map[string]*api.Result, len(res))
	for i := range res {
		if _, seen := byID[res[i].TransactionID]; !seen {
			byID[res[i].TransactionID] = &res[i]
		}
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return p, fmt.Errorf("recording results: %w", err)
	}
	defer tx.Rollback()
	ms := now.UnixMilli()
	for _, row := range batch {
		r := byID[row.id]
		if r == nil {
			d.cfg.Logger.Warn("the server's answer has no result for a scan; it stays queued", "transactionId", row.id)
			continue
		}
		switch {
		case (r.Status == api.StatusAccepted || r.Status == api.StatusDuplicate) && r.Outcome != nil && r.Outcome.Status == api.OutcomeRejected:
			err = markRejected(ctx, tx, row.id, r.Status, r.Outcome.Code, r.Outcome.Message, api.OutcomeRejected, ms)
			p.Rejected++
		case r.Status == api.StatusAccepted || r.Status == api.StatusDuplicate:
			err = moveToHistory(ctx, tx, row.id, r, ms)
			if r.Status == api.StatusAccepted {
				p.Accepted++
			} else {
				p.Duplicate++
			}
		case r.Status == api.StatusRejected:
			err = markRejected(ctx, tx, row.id, api.StatusRejected, r.Code, r.Message, "", ms)
			p.Rejected++
		default:
			d.cfg.Logger.Warn("unknown result status; the scan stays queued", "transactionId", row.id, "status", r.Status)
			continue
		}
		if err != nil {
			return p, err
		}
	}
	if err := recordAttempt(ctx, tx, now, kindOK, "", "", time.Time{}); err != nil {
		return p, err
	}
	if err := tx.Commit(); err != nil {
		return p, fmt.Errorf("recording results: %w", err)
	}
	p.Done = p.Accepted + p.Duplicate + p.Rejected
	return p, nil
}

// markRejected keeps a rejected scan in the queue for the operator.
func markRejected(ctx context.Context, x execer, id string, status api.UploadStatus, code *api.ErrorCode, msg *string, outcomeStatus api.OutcomeStatus, ms int64) error {
	c, m := deref(code), deref(msg)
	if c == "" {
		c = "REJECTED"
	}
	_, err := x.ExecContext(ctx, `UPDATE queue SET state = 'rejected', result = ?, code = ?, message = ?, outcome = ?, rejected_at = ?
		WHERE id = ?`, string(status), c, nullStr(m), nullStr(string(outcomeStatus)), ms, id)
	if err != nil {
		return fmt.Errorf("recording rejection of %s: %w", id, err)
	}
	return nil
}

func moveToHistory(ctx context.Context, x execer, id string, r *api.Result, ms int64) error {
	var oStatus, oCode, oMsg string
	var onHand, version sql.NullInt64
	if o := r.Outcome; o != nil {
		oStatus, oCode, oMsg = string(o.Status), deref(o.Code), deref(o.Message)
		if o.ResultingOnHand != nil {
			onHand = sql.NullInt64{Int64: *o.ResultingOnHand, Valid: true}
		}
		if o.Version != nil {
			version = sql.NullInt64{Int64: *o.Version, Valid: true}
		}
	}
	if _, err := x.ExecContext(ctx, `INSERT INTO history
		(seq, id, scanned_at, body, resolution, result, code, message, outcome, resulting_on_hand, version, replaces, done_at)
		SELECT seq, id, scanned_at, body, 'synced', ?, ?, ?, ?, ?, ?, replaces, ? FROM queue WHERE id = ?`,
		string(r.Status), nullStr(oCode), nullStr(oMsg), nullStr(oStatus), onHand, version, ms, id); err != nil {
		return fmt.Errorf("moving %s to history: %w", id, err)
	}
	if _, err := x.ExecContext(ctx, `DELETE FROM queue WHERE id = ?`, id); err != nil {
		return fmt.Errorf("removing %s from queue: %w", id, err)
	}
	return nil
}

func deref[S ~string](s *S) string {
	if s == nil {
		return ""
	}
	return string(*s)
}
