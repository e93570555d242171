package scanner

import (
	"context"
	"encoding/json"
	"fmt"
)

// queuedRow is a scan waiting to be sent.
type queuedRow struct {
	seq  int64
	id   string
	body []byte
}

// nextBatch returns the oldest queued scans with seq in (after, upTo], at
// most maxN of them and no more than fit a body of maxBytes (always at
// least one, so an oversized scan is sent and answered 413 rather than
// stuck).
func (d *Device) nextBatch(ctx context.Context, after, upTo int64, maxN, maxBytes int) ([]queuedRow, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT seq, id, body FROM queue
		WHERE state = 'queued' AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`, after, upTo, maxN)
	if err != nil {
		return nil, fmt.Errorf("reading queue: %w", err)
	}
	defer rows.Close()
	id, _ := json.Marshal(d.scannerID)
	size := envelopeOverhead(len(id))
	var batch []queuedRow
	for rows.Next() {
		var r queuedRow
		if err := rows.Scan(&r.seq, &r.id, &r.body); err != nil {
			return nil, fmt.Errorf("reading queue: %w", err)
		}
		size += len(r.body) + 1
		if len(batch) > 0 && size > maxBytes {
			break
		}
		batch = append(batch, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading queue: %w", err)
	}
	return batch, nil
}

// queuedBounds returns how many scans are queued and the newest one's seq:
// a Sync sends what was queued when it began, so a steady stream of new
// scans cannot keep it going forever.
func (d *Device) queuedBounds(ctx context.Context) (n int, maxSeq int64, err error) {
	err = d.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM queue WHERE state = 'queued'`).Scan(&n, &maxSeq)
	if err != nil {
		return 0, 0, fmt.Errorf("counting queue: %w", err)
	}
	return n, maxSeq, nil
}
