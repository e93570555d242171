package schemas

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestScannerStatusRoundTrip(t *testing.T) {
	s := newSet(t)
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	oldest, upload := at.Add(-time.Hour), at.Add(-time.Minute)
	for _, st := range []ScannerStatus{
		{ScannerID: "SCANNER-08", ReceivedAt: at, SentAt: at.Add(-3 * time.Second), Queued: 3, OldestQueuedAt: &oldest,
			Rejected: 1, AppVersion: "web 3", LastUploadAt: &upload},
		{ScannerID: "SCANNER-09", ReceivedAt: at, SentAt: at, AppVersion: ""},
		{ScannerID: "SCANNER-10", ReceivedAt: at, SentAt: at, LastUploadAt: &upload, RecentUploads: []ScannerUpload{
			{At: upload, Transactions: 3, Accepted: 1, Duplicate: 1, Rejected: 1,
				Rejections: []UploadRejection{{TransactionID: "c0ffee00-0000-4000-8000-000000000001", Code: "UNKNOWN_ITEM"}}},
			{At: upload.Add(-time.Minute), Transactions: 2, Accepted: 2},
		}},
	} {
		b, err := s.AppendScannerStatus(nil, &st)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.DecodeScannerStatus(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, st) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, st)
		}
	}
	b, _ := s.AppendScannerStatus(nil, &ScannerStatus{ScannerID: "S", ReceivedAt: at, SentAt: at})
	if _, err := s.DecodeToken(b); !errors.Is(err, ErrWrongSchema) {
		t.Fatalf("a scanner status decoded as a token: %v, want ErrWrongSchema", err)
	}
}

// A record written before recentUploads existed still decodes, with none;
// one written now with none does not decode as such a record.
func TestScannerStatusWithoutRecentUploads(t *testing.T) {
	s := newSet(t)
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	legacy, err := codecWithout(s.schemas[kindScannerStatus].Text, scannerStatusAdded)
	if err != nil {
		t.Fatal(err)
	}
	want := ScannerStatus{ScannerID: "SCANNER-08", ReceivedAt: at, SentAt: at, Queued: 2, OldestQueuedAt: &at, AppVersion: "web 2"}
	b, err := legacy.BinaryFromNative(s.headers[kindScannerStatus][:], map[string]any{
		"scannerId": want.ScannerID, "receivedAt": at, "sentAt": at, "queued": int64(2),
		"oldestQueuedAt": map[string]any{"long.timestamp-millis": at}, "rejected": int64(0), "appVersion": "web 2",
		"lastUploadAt": nil,
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.DecodeScannerStatus(b)
	if err != nil {
		t.Fatalf("a record without recentUploads: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("legacy record:\n got %+v\nwant %+v", got, want)
	}
	cur, err := s.AppendScannerStatus(nil, &want)
	if err != nil {
		t.Fatal(err)
	}
	if len(cur) != len(b)+1 {
		t.Fatalf("a record with no uploads is %d bytes, the legacy one %d: want one more (the empty array)", len(cur), len(b))
	}
	if _, err := s.DecodeScannerStatus(b[:len(b)-1]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a truncated legacy record: %v, want ErrMalformed", err)
	}
}
