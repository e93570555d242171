package schemas

import "time"

// ScannerStatus is a scanner's last report about its queue (Avro
// io.invsync.v1.ScannerStatus).
type ScannerStatus struct {
	ScannerID          string
	ReceivedAt, SentAt time.Time
	Queued, Rejected   int64
	OldestQueuedAt     *time.Time
	AppVersion         string
	LastUploadAt       *time.Time
}

// AppendScannerStatus appends st to dst in wire format.
func (s *Set) AppendScannerStatus(dst []byte, st *ScannerStatus) ([]byte, error) {
	return s.appendChecked(dst, kindScannerStatus, "scanner status", map[string]any{
		"scannerId": st.ScannerID, "receivedAt": millis(st.ReceivedAt), "sentAt": millis(st.SentAt),
		"queued": st.Queued, "oldestQueuedAt": optMillis(st.OldestQueuedAt), "rejected": st.Rejected,
		"appVersion": st.AppVersion, "lastUploadAt": optMillis(st.LastUploadAt),
	})
}

// DecodeScannerStatus decodes a wire-format ScannerStatus.
func (s *Set) DecodeScannerStatus(b []byte) (ScannerStatus, error) {
	n, err := s.decodeNative(b, kindScannerStatus, "scanner status")
	if err != nil {
		return ScannerStatus{}, err
	}
	return ScannerStatus{ScannerID: n.str("scannerId"), ReceivedAt: n.time("receivedAt"), SentAt: n.time("sentAt"),
		Queued: n.long("queued"), OldestQueuedAt: n.optTime("oldestQueuedAt"), Rejected: n.long("rejected"),
		AppVersion: n.str("appVersion"), LastUploadAt: n.optTime("lastUploadAt")}, nil
}
