package scanner

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Status colours, as the device shows them.
const (
	Green  = "green"
	Yellow = "yellow"
	Red    = "red"
)

// Status is the device's sync status, computed from the queue and the
// stored record of sync attempts (so another process reading the same data
// directory computes the same).
//
//   - red: a rejection waits for the operator, or the server refused the
//     token (401/403) or the whole request (400 and other 4xx), or the
//     server has been reachable for RedAfter (5 minutes) without a
//     successful sync;
//   - yellow: scans are queued, or the last attempt could not reach the
//     server (offline), or it reached it without a usable answer for less
//     than RedAfter;
//   - green: nothing queued, no rejection waiting, and the last attempt
//     (if any) succeeded.
type Status struct {
	Status   string `json:"status"`
	Queued   int    `json:"queued"`
	Rejected int    `json:"rejected"`
	// LastSyncAt is the last answered upload, nil if none.
	LastSyncAt *time.Time `json:"lastSyncAt"`
	// Message says why the status is what it is, and what to do.
	Message string `json:"message"`

	ScannerID      string     `json:"scannerId"`
	LastAttemptAt  *time.Time `json:"lastAttemptAt"`
	LastError      string     `json:"lastError,omitempty"`
	OldestQueuedAt *time.Time `json:"oldestQueuedAt"`
	// Online is false when the last attempt could not reach the server.
	Online bool `json:"online"`
}

// Status computes the status now (Config.Now).
func (d *Device) Status() (Status, error) {
	if err := d.enter(); err != nil {
		return Status{}, err
	}
	defer d.leave()
	ctx := context.Background()
	c, err := d.counts(ctx)
	if err != nil {
		return Status{}, err
	}
	st, err := readSyncState(ctx, d.db)
	if err != nil {
		return Status{}, err
	}
	s := computeStatus(c, st, d.cfg.Now(), d.cfg.RedAfter)
	s.ScannerID = d.scannerID
	return s, nil
}

// queueCounts is what the status needs of the queue.
type queueCounts struct {
	queued, rejected int
	oldest           time.Time
}

func (d *Device) counts(ctx context.Context) (queueCounts, error) {
	var c queueCounts
	var oldest *int64
	err := d.db.QueryRowContext(ctx, `SELECT
		COUNT(*) FILTER (WHERE state = 'queued'),
		COUNT(*) FILTER (WHERE state = 'rejected'),
		MIN(scanned_at) FILTER (WHERE state = 'queued')
		FROM queue`).Scan(&c.queued, &c.rejected, &oldest)
	if err != nil {
		return c, fmt.Errorf("counting queue: %w", err)
	}
	if oldest != nil {
		c.oldest = time.UnixMilli(*oldest).UTC()
	}
	return c, nil
}

// computeStatus applies the status rules; a pure function of its inputs.
func computeStatus(c queueCounts, st syncState, now time.Time, redAfter time.Duration) Status {
	s := Status{Queued: c.queued, Rejected: c.rejected, LastError: st.LastError, Online: st.Kind != kindOffline}
	s.LastSyncAt, s.LastAttemptAt, s.OldestQueuedAt = timePtr(st.LastSuccessAt), timePtr(st.LastAttemptAt), timePtr(c.oldest)
	var red, yellow []string
	switch st.Kind {
	case kindRefusedToken:
		red = append(red, fmt.Sprintf("the server refused this scanner's token (%s): syncing is stopped; re-enrol the scanner: get a new scanner token from an admin and restart with it (INVSYNC_SCANNER_TOKEN)", st.LastError))
	case kindRefusedRequest:
		red = append(red, fmt.Sprintf("the server refused the upload as a bad request (%s): a bug or a wrong --url; the scans stay queued and are resent", st.LastError))
	case kindUnanswered:
		if since := now.Sub(st.FailingSince); !st.FailingSince.IsZero() && since >= redAfter {
			red = append(red, fmt.Sprintf("no successful sync for %s although the server is reachable: %s", since.Round(time.Second), st.LastError))
		} else {
			yellow = append(yellow, "the server is reachable but did not accept the last upload ("+st.LastError+"); retrying")
		}
	case kindOffline:
		yellow = append(yellow, "offline: the server could not be reached at the last attempt; retrying")
	}
	if c.rejected > 0 {
		red = append(red, fmt.Sprintf("%d rejected %s waiting for attention: see `invsync scanner rejections`, then correct, retry or dismiss them",
			c.rejected, plural(c.rejected, "scan", "scans")))
	}
	if c.queued > 0 {
		yellow = append(yellow, fmt.Sprintf("%d %s queued, oldest from %s", c.queued, plural(c.queued, "scan", "scans"), c.oldest.Format(time.RFC3339)))
	}
	switch {
	case len(red) > 0:
		s.Status, s.Message = Red, strings.Join(append(red, yellow...), "; ")
	case len(yellow) > 0:
		s.Status, s.Message = Yellow, strings.Join(yellow, "; ")
	default:
		s.Status, s.Message = Green, "all scans synced"
	}
	return s
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
