package scanner

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/invsync/invsync/api"

	"github.com/google/uuid"

	"github.com/invsync/invsync/processors"
)

// Rejection is a scan the server did not take, waiting for the operator:
// rejected at upload (Stage "ingest": never written), or accepted and then
// rejected when applied (Stage "apply": VERSION_CONFLICT, LOCATION_LOCKED,
// a late rejection found by polling). It stays until dismissed, retried or
// corrected.
type Rejection struct {
	TransactionID string    `json:"transactionId"`
	Timestamp     time.Time `json:"timestamp"`
	Scan          Scan      `json:"scan"`
	Stage         string    `json:"stage"`
	Code          string    `json:"code"`
	Message       string    `json:"message"`
	RejectedAt    time.Time `json:"rejectedAt"`
	// Replaces is the earlier rejected scan this one retried or corrected.
	Replaces string `json:"replaces,omitempty"`
}

// The operator functions below work on the local queue only (no network)
// and take no context: each is one short SQLite transaction.

// Rejections lists the rejections waiting for attention, oldest scan first.
func (d *Device) Rejections() ([]Rejection, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer d.leave()
	ctx := context.Background()
	rows, err := d.db.QueryContext(ctx, `SELECT id, body, COALESCE(outcome, ''), code, COALESCE(message, ''),
		rejected_at, COALESCE(replaces, '') FROM queue WHERE state = 'rejected' ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("listing rejections: %w", err)
	}
	defer rows.Close()
	var out []Rejection
	for rows.Next() {
		var r Rejection
		var body []byte
		var outcome string
		var at int64
		if err := rows.Scan(&r.TransactionID, &body, &outcome, &r.Code, &r.Message, &at, &r.Replaces); err != nil {
			return nil, fmt.Errorf("listing rejections: %w", err)
		}
		if r.Scan, err = decodeScan(body); err != nil {
			return nil, err
		}
		r.Timestamp, r.Scan.At = r.Scan.At, time.Time{}
		r.RejectedAt = time.UnixMilli(at).UTC()
		r.Stage = "ingest"
		if outcome == string(api.OutcomeRejected) {
			r.Stage = "apply"
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing rejections: %w", err)
	}
	return out, nil
}

// Dismiss closes a rejection without replacing it (the operator handled it
// another way). ErrNotFound when no rejection with that id waits.
func (d *Device) Dismiss(txid string) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.leave()
	return d.resolve(context.Background(), txid, "dismissed", "", nil)
}

// DismissAll dismisses every rejection waiting and returns how many.
func (d *Device) DismissAll() (int, error) {
	if err := d.enter(); err != nil {
		return 0, err
	}
	defer d.leave()
	ctx := context.Background()
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("dismissing rejections: %w", err)
	}
	defer tx.Rollback()
	now := d.cfg.Now().UnixMilli()
	if _, err := tx.ExecContext(ctx, `INSERT INTO history (seq, id, scanned_at, body, resolution, result, code, message, outcome, replaces, done_at)
		SELECT seq, id, scanned_at, body, 'dismissed', result, code, message, outcome, replaces, ? FROM queue WHERE state = 'rejected'`, now); err != nil {
		return 0, fmt.Errorf("dismissing rejections: %w", err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM queue WHERE state = 'rejected'`)
	if err != nil {
		return 0, fmt.Errorf("dismissing rejections: %w", err)
	}
	n, _ := res.RowsAffected()
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("dismissing rejections: %w", err)
	}
	return int(n), nil
}

// RetryWithVersion answers a VERSION_CONFLICT: it queues the same scan
// again with expectedVersion set to version (the record's version the
// operator has now seen), under a new transactionId, and closes the
// rejection as retried. The scan keeps its original device timestamp: it
// is the same physical event, and a count is an observation at its moment.
// ErrNotRetryable for other rejections (use Correct), ErrNotFound when no
// rejection with that id waits.
func (d *Device) RetryWithVersion(txid string, version int64) (Queued, error) {
	if err := d.enter(); err != nil {
		return Queued{}, err
	}
	defer d.leave()
	return d.replace(context.Background(), txid, "retried", func(old Scan, code string) (Scan, error) {
		if code != processors.CodeVersionConflict {
			return Scan{}, fmt.Errorf("%w: %s was rejected %s; correct it or dismiss it", ErrNotRetryable, txid, code)
		}
		old.ExpectedVersion = &version
		return old, nil
	})
}

// Correct replaces a rejected scan with a corrected one: s is queued under
// a new transactionId (with the rejected scan's device timestamp when s.At
// is zero) and the rejection is closed as corrected. ErrNotFound when no
// rejection with that id waits; s is validated like any scan.
func (d *Device) Correct(txid string, s Scan) (Queued, error) {
	if err := d.enter(); err != nil {
		return Queued{}, err
	}
	defer d.leave()
	return d.replace(context.Background(), txid, "corrected", func(old Scan, _ string) (Scan, error) {
		if s.At.IsZero() {
			s.At = old.At
		}
		return s, nil
	})
}

// replace queues the scan build makes of the rejected txid and closes the
// rejection, in one transaction.
func (d *Device) replace(ctx context.Context, txid, resolution string, build func(old Scan, code string) (Scan, error)) (Queued, error) {
	var body []byte
	var code string
	err := d.db.QueryRowContext(ctx, `SELECT body, code FROM queue WHERE id = ? AND state = 'rejected'`, txid).Scan(&body, &code)
	if errors.Is(err, sql.ErrNoRows) {
		return Queued{}, fmt.Errorf("%w: %s", ErrNotFound, txid)
	}
	if err != nil {
		return Queued{}, fmt.Errorf("reading rejection %s: %w", txid, err)
	}
	old, err := decodeScan(body)
	if err != nil {
		return Queued{}, err
	}
	s, err := build(old, code)
	if err != nil {
		return Queued{}, err
	}
	id, err := uuid.NewRandom()
	if err != nil {
		return Queued{}, fmt.Errorf("making transactionId: %w", err)
	}
	q := Queued{TransactionID: id.String(), Timestamp: s.At.UTC().Truncate(time.Millisecond)}
	newBody, err := encodeScan(s, q.TransactionID, q.Timestamp)
	if err != nil {
		return Queued{}, err
	}
	if err := d.resolve(ctx, txid, resolution, q.TransactionID, func(tx *sql.Tx) error {
		return insertQueued(ctx, tx, q, newBody, txid)
	}); err != nil {
		return Queued{}, err
	}
	d.notify()
	return q, nil
}

// resolve moves the rejection txid to the history with resolution, running
// also (if any) in the same transaction.
func (d *Device) resolve(ctx context.Context, txid, resolution, replacedBy string, also func(*sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", txid, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO history (seq, id, scanned_at, body, resolution, result, code, message, outcome, replaces, replaced_by, done_at)
		SELECT seq, id, scanned_at, body, ?, result, code, message, outcome, replaces, ?, ? FROM queue WHERE id = ? AND state = 'rejected'`,
		resolution, nullStr(replacedBy), d.cfg.Now().UnixMilli(), txid)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", txid, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, txid)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM queue WHERE id = ?`, txid); err != nil {
		return fmt.Errorf("resolving %s: %w", txid, err)
	}
	if also != nil {
		if err := also(tx); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("resolving %s: %w", txid, err)
	}
	return nil
}
