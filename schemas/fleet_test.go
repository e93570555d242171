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
