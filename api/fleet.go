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

// ScannerList is the answer of GET /v1/scanners. Total and Offset are set
// when the request asked for a page (?limit=&offset=).
type ScannerList struct {
	Scanners []Scanner `json:"scanners"`
	Total    *int      `json:"total,omitempty"`
	Offset   *int      `json:"offset,omitempty"`
}
