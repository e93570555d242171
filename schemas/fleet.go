package schemas

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/linkedin/goavro/v2"
)

// ScannerStatus is a scanner's last report about its queue (Avro
// io.invsync.v1.ScannerStatus).
type ScannerStatus struct {
	ScannerID          string
	ReceivedAt, SentAt time.Time
	Queued, Rejected   int64
	OldestQueuedAt     *time.Time
	AppVersion         string
	LastUploadAt       *time.Time
	// RecentUploads are the scanner's last uploads, newest first; nil
	// when none (and in a record written before the field existed).
	RecentUploads []ScannerUpload
}

// ScannerUpload is one upload of a scanner as ingest answered it (Avro
// io.invsync.v1.ScannerUpload).
type ScannerUpload struct {
	At                                          time.Time
	Transactions, Accepted, Duplicate, Rejected int64
	Rejections                                  []UploadRejection // nil when none
}

// UploadRejection is a rejected transaction of an upload.
type UploadRejection struct {
	TransactionID, Code string
}

// AppendScannerStatus appends st to dst in wire format.
func (s *Set) AppendScannerStatus(dst []byte, st *ScannerStatus) ([]byte, error) {
	uploads := nativeArray(st.RecentUploads, func(u ScannerUpload) any {
		return map[string]any{"at": millis(u.At), "transactions": u.Transactions, "accepted": u.Accepted,
			"duplicate": u.Duplicate, "rejected": u.Rejected, "rejections": nativeArray(u.Rejections, func(r UploadRejection) any {
				return map[string]any{"transactionId": r.TransactionID, "code": r.Code}
			})}
	})
	return s.appendChecked(dst, kindScannerStatus, "scanner status", map[string]any{
		"scannerId": st.ScannerID, "receivedAt": millis(st.ReceivedAt), "sentAt": millis(st.SentAt),
		"queued": st.Queued, "oldestQueuedAt": optMillis(st.OldestQueuedAt), "rejected": st.Rejected,
		"appVersion": st.AppVersion, "lastUploadAt": optMillis(st.LastUploadAt), "recentUploads": uploads,
	})
}

// DecodeScannerStatus decodes a wire-format ScannerStatus, also one
// written before recentUploads was added (it then has none).
func (s *Set) DecodeScannerStatus(b []byte) (ScannerStatus, error) {
	n, err := s.decodeNative(b, kindScannerStatus, "scanner status")
	if err != nil {
		n, err = s.decodeLegacyScannerStatus(b, err)
		if err != nil {
			return ScannerStatus{}, err
		}
	}
	st := ScannerStatus{ScannerID: n.str("scannerId"), ReceivedAt: n.time("receivedAt"), SentAt: n.time("sentAt"),
		Queued: n.long("queued"), OldestQueuedAt: n.optTime("oldestQueuedAt"), Rejected: n.long("rejected"),
		AppVersion: n.str("appVersion"), LastUploadAt: n.optTime("lastUploadAt")}
	for _, u := range n.records("recentUploads") {
		up := ScannerUpload{At: u.time("at"), Transactions: u.long("transactions"), Accepted: u.long("accepted"),
			Duplicate: u.long("duplicate"), Rejected: u.long("rejected")}
		for _, r := range u.records("rejections") {
			up.Rejections = append(up.Rejections, UploadRejection{TransactionID: r.str("transactionId"), Code: r.str("code")})
		}
		st.RecentUploads = append(st.RecentUploads, up)
	}
	return st, nil
}

// scannerStatusAdded are the fields appended to ScannerStatus after
// records were written without them.
var scannerStatusAdded = map[string]bool{"recentUploads": true}

var legacyScannerStatus struct {
	once  sync.Once
	codec *goavro.Codec
	err   error
}

// decodeLegacyScannerStatus decodes b with the ScannerStatus schema as it
// was before recentUploads; cause is the current schema's error, returned
// when b is not such a record either.
func (s *Set) decodeLegacyScannerStatus(b []byte, cause error) (nativeRecord, error) {
	p, err := s.payload(b, kindScannerStatus)
	if err != nil {
		return nil, cause
	}
	l := &legacyScannerStatus
	l.once.Do(func() { l.codec, l.err = codecWithout(s.schemas[kindScannerStatus].Text, scannerStatusAdded) })
	if l.err != nil {
		return nil, cause
	}
	v, rest, err := l.codec.NativeFromBinary(p)
	m, ok := v.(map[string]any)
	if err != nil || len(rest) > 0 || !ok {
		return nil, cause
	}
	return nativeRecord(m), nil
}

// codecWithout is a codec of the record schema text without the fields
// named in drop.
func codecWithout(text string, drop map[string]bool) (*goavro.Codec, error) {
	var sch map[string]any
	if err := json.Unmarshal([]byte(text), &sch); err != nil {
		return nil, err
	}
	fields, _ := sch["fields"].([]any)
	kept := []any{}
	for _, f := range fields {
		if m, ok := f.(map[string]any); ok && !drop[fmt.Sprint(m["name"])] {
			kept = append(kept, f)
		}
	}
	sch["fields"] = kept
	out, err := json.Marshal(sch)
	if err != nil {
		return nil, err
	}
	return goavro.NewCodec(string(out))
}
