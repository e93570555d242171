package processors

import "time"

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
