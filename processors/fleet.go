package processors

import (
	"slices"
	"sort"
	"time"
)

// A scanner's status as the fleet view shows it (spec, "Console and fleet").
const (
	FleetRed     = "red"
	FleetOffline = "offline"
	FleetYellow  = "yellow"
	FleetGreen   = "green"
)

// FleetStatuses are the statuses in the order the rules try them.
var FleetStatuses = []string{FleetRed, FleetOffline, FleetYellow, FleetGreen}

// Fleet thresholds of the status rules.
const (
	// FleetOfflineAfter: a scanner not seen for longer is offline.
	FleetOfflineAfter = 2 * time.Minute
	// FleetStaleQueue: a scan held on a device for longer makes it red.
	FleetStaleQueue = 8 * time.Hour
)

// DeviceReport is what a device last said about its queue: a heartbeat,
// or the "device" object of an upload. ReceivedAt is the server's clock
// when it arrived; SentAt the device's.
type DeviceReport struct {
	ScannerID      string
	ReceivedAt     time.Time
	SentAt         time.Time
	Queued         int64
	OldestQueuedAt *time.Time
	Rejected       int64
	AppVersion     string
	// LastUploadAt is the last upload received from the scanner, carried
	// forward by reports that are not uploads; nil if none yet.
	LastUploadAt *time.Time
	// Uploads are the scanner's last uploads as ingest saw them, newest
	// first, at most MaxRecentUploads; a report that is not an upload
	// carries none and keeps those already known (MergeUploads).
	Uploads []ScannerUpload
}

// MaxRecentUploads is how many uploads a scanner's record keeps, and
// MaxUploadRejections how many rejected transactions each keeps by id.
const (
	MaxRecentUploads    = 20
	MaxUploadRejections = 20
)

// ScannerUpload is one upload of a scanner as ingest answered it: when it
// arrived (server clock), how many transactions it held, and how many were
// accepted, duplicate and rejected, with the first rejected ones.
type ScannerUpload struct {
	At                                          time.Time
	Transactions, Accepted, Duplicate, Rejected int64
	Rejections                                  []UploadRejection
}

// UploadRejection is a rejected transaction of an upload and its code.
type UploadRejection struct {
	TransactionID, Code string
}

// MergeUploads returns the newest MaxRecentUploads of a and b together,
// newest first, each upload once: two instances may publish one scanner's
// record at nearly the same time, and a late, older record must not drop
// the uploads a newer one holds.
func MergeUploads(a, b []ScannerUpload) []ScannerUpload {
	out := make([]ScannerUpload, 0, len(a)+len(b))
	out = append(append(out, a...), b...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	kept := out[:0]
	for _, u := range out {
		if slices.ContainsFunc(kept, func(k ScannerUpload) bool { return sameUpload(k, u) }) {
			continue
		}
		kept = append(kept, u)
		if len(kept) == MaxRecentUploads {
			break
		}
	}
	if len(kept) == 0 {
		return nil
	}
	return slices.Clone(kept)
}

// sameUpload: one upload seen twice (published, then read back; the
// record keeps milliseconds).
func sameUpload(a, b ScannerUpload) bool {
	return a.At.UnixMilli() == b.At.UnixMilli() && a.Transactions == b.Transactions && a.Accepted == b.Accepted &&
		a.Duplicate == b.Duplicate && a.Rejected == b.Rejected && slices.Equal(a.Rejections, b.Rejections)
}

// FleetStatus decides a scanner's status at now by the spec's rules, in
// order: red (rejections waiting, a scan held more than FleetStaleQueue,
// or no valid token), offline (never seen, or not for FleetOfflineAfter),
// yellow (scans queued), green. r is nil for a scanner never seen;
// tokenValid reports whether the scanner holds an unrevoked, unexpired
// token.
func FleetStatus(r *DeviceReport, tokenValid bool, now time.Time) string {
	switch {
	case !tokenValid,
		r != nil && r.Rejected > 0,
		r != nil && r.OldestQueuedAt != nil && now.Sub(*r.OldestQueuedAt) > FleetStaleQueue:
		return FleetRed
	case r == nil, now.Sub(r.ReceivedAt) > FleetOfflineAfter:
		return FleetOffline
	case r.Queued > 0:
		return FleetYellow
	}
	return FleetGreen
}
