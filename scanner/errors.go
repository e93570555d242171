package scanner

import (
	"errors"
	"fmt"
	"time"
)

// Errors a Device returns. Match them with errors.Is; an *UploadError
// unwraps to one of the upload ones.
var (
	// ErrClosed: the Device was closed.
	ErrClosed = errors.New("scanner closed")
	// ErrNoServer: the Device was opened without a URL (for the operator
	// commands), so it queues and shows scans but cannot sync.
	ErrNoServer = errors.New("no server URL configured")
	// ErrLocked: another process (or another Device in this process)
	// syncs from the same data directory.
	ErrLocked = errors.New("data directory in use by another scanner")
	// ErrScannerMismatch: the data directory belongs to another scanner id.
	// Its queued scans must be sent under the id they were scanned with.
	ErrScannerMismatch = errors.New("data directory belongs to another scanner id")
	// ErrNewerSchema: the queue was written by a newer version of the
	// scanner; this one cannot read it safely.
	ErrNewerSchema = errors.New("queue written by a newer scanner version")
	// ErrInvalidScan: the scan failed local validation; nothing was queued.
	ErrInvalidScan = errors.New("invalid scan")
	// ErrNotFound: no rejected scan with that transactionId waits for
	// attention.
	ErrNotFound = errors.New("no such rejected scan")
	// ErrNotRetryable: RetryWithVersion on a rejection other than
	// VERSION_CONFLICT (correct it with Correct instead).
	ErrNotRetryable = errors.New("rejection is not a version conflict")

	// ErrOffline: the server could not be reached. Nothing of the request
	// is assumed accepted; the scans stay queued.
	ErrOffline = errors.New("server unreachable")
	// ErrUnanswered: the server was reached but did not answer usefully
	// (connection dropped, timeout, 5xx, 429, malformed answer). Nothing
	// is assumed accepted; the scans stay queued and are resent.
	ErrUnanswered = errors.New("upload not answered")
	// ErrTokenRefused: 401 or 403. Syncing stops until a new token is set
	// (SetToken) or the Device is reopened with one.
	ErrTokenRefused = errors.New("token refused")
	// ErrRequestRefused: the server refused the whole request as malformed
	// (400 and other 4xx): a bug or a misconfiguration, not a network
	// problem. The scans stay queued; the status is red.
	ErrRequestRefused = errors.New("upload refused")
	// ErrDeferred: the server asked (Retry-After) not to be called before
	// a time that has not come yet; nothing was sent.
	ErrDeferred = errors.New("sync deferred by Retry-After")
)

// UploadError describes a request that did not get a usable answer.
type UploadError struct {
	// Kind is one of ErrOffline, ErrUnanswered, ErrTokenRefused,
	// ErrRequestRefused, ErrDeferred.
	Kind error
	// StatusCode is the HTTP status, 0 without an answer.
	StatusCode int
	// Code and Message come from the server's error body when it had one.
	Code, Message string
	// RetryAfter is the server's Retry-After, zero when absent.
	RetryAfter time.Duration
	// Err is the transport error, if any.
	Err error
}

func (e *UploadError) Error() string {
	s := e.Kind.Error()
	if e.StatusCode != 0 {
		s += fmt.Sprintf(": HTTP %d", e.StatusCode)
	}
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the kind and the transport error.
func (e *UploadError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

// ValidationError lists every problem found in a Config or a Scan.
type ValidationError struct {
	What     string // "config" or "scan"
	Problems []string
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid " + e.What + ": " + e.Problems[0]
	}
	s := fmt.Sprintf("invalid %s (%d problems):", e.What, len(e.Problems))
	for _, p := range e.Problems {
		s += "\n  - " + p
	}
	return s
}

// Unwrap makes a scan's ValidationError match ErrInvalidScan.
func (e *ValidationError) Unwrap() error {
	if e.What == "scan" {
		return ErrInvalidScan
	}
	return nil
}
