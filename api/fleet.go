package api

import "time"

// DeviceReport is what a device says about its queue (spec, "Console and
// fleet"): the body of POST /v1/scanners/{scannerId}/heartbeat and an
// upload's "device" object. Queued counts the scans on the device not yet
// answered accepted or duplicate, Rejected the rejections waiting there;
// OldestQueuedAt (device time) is null when nothing is queued.
type DeviceReport struct {
	SentAt         string  `json:"sentAt"`
	Queued         int     `json:"queued"`
	OldestQueuedAt *string `json:"oldestQueuedAt"`
	Rejected       int     `json:"rejected"`
	AppVersion     string  `json:"appVersion"`
}

// Scanner is one scanner as GET /v1/scanners and GET /v1/scanners/{id}
// show it: every scanner token in scope, seen or not (LastSeenAt null),
// with its queue as last reported and its status (FleetRed, FleetOffline,
// FleetYellow, FleetGreen).
type Scanner struct {
	ScannerID      string     `json:"scannerId"`
	Warehouses     []string   `json:"warehouses"`
	LastSeenAt     *time.Time `json:"lastSeenAt"`
	LastUploadAt   *time.Time `json:"lastUploadAt"`
	Queued         int64      `json:"queued"`
	OldestQueuedAt *time.Time `json:"oldestQueuedAt"`
	Rejected       int64      `json:"rejected"`
	AppVersion     *string    `json:"appVersion"`
	Status         string     `json:"status"`
}

// ScannerDetail is the answer of GET /v1/scanners/{id}: the scanner as
// the list shows it, with its last uploads (at most 20, newest first; the
// list leaves them out to stay small).
type ScannerDetail struct {
	Scanner
	RecentUploads []ScannerUpload `json:"recentUploads"`
}

// ScannerUpload is one upload of a scanner as the server answered it: when
// it arrived (server clock), the transactions in the request, how many were
// accepted, duplicate and rejected, and the first 20 rejected ones.
type ScannerUpload struct {
	At           time.Time         `json:"at"`
	Transactions int64             `json:"transactions"`
	Accepted     int64             `json:"accepted"`
	Duplicate    int64             `json:"duplicate"`
	Rejected     int64             `json:"rejected"`
	Rejections   []UploadRejection `json:"rejections"`
}

// UploadRejection is a rejected transaction of an upload and its code.
type UploadRejection struct {
	TransactionID string `json:"transactionId"`
	Code          string `json:"code"`
}

// ScannerList is the answer of GET /v1/scanners. Total and Offset are set
// when the request asked for a page (?limit=&offset=).
type ScannerList struct {
	Scanners []Scanner `json:"scanners"`
	Total    *int      `json:"total,omitempty"`
	Offset   *int      `json:"offset,omitempty"`
}
