package schemas

import (
	"context"
	"errors"
	"testing"
)

// TestReconciliationErrors: garbage is refused as malformed, a record is
// not decoded as another kind, and an unknown enum symbol is not encoded.
// (Their round trips are in TestRoundTrip.)
func TestReconciliationErrors(t *testing.T) {
	s := newSet(t)
	rep := sampleCloudPositionsReport()
	b := mustAppend(t, s.AppendCloudPositionsReport, &rep)
	if _, err := s.DecodeCloudPositionsReport(append(b[:5:5], 0xff, 0xff, 0xff)); !errors.Is(err, ErrMalformed) {
		t.Errorf("garbage report: %v, want ErrMalformed", err)
	}
	if _, err := s.DecodeCommand(b); !errors.Is(err, ErrWrongSchema) {
		t.Errorf("a report decoded as a command: %v, want ErrWrongSchema", err)
	}
	if _, err := s.AppendDiscrepancy(nil, &Discrepancy{Kind: "NOPE", Status: "OPEN"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("an unknown kind encoded: %v", err)
	}
}

// FuzzDecodeCloudPositionsReport: what the cloud writes to the
// cloud-positions topic is outside input; no payload may panic or make the
// decoder allocate beyond its bound.
func FuzzDecodeCloudPositionsReport(f *testing.F) {
	s, err := New(context.Background(), Config{TopicPrefix: "t."})
	if err != nil {
		f.Fatal(err)
	}
	good, _ := s.AppendCloudPositionsReport(nil, &CloudPositionsReport{ReportID: "r", WarehouseID: "WH",
		Positions: []CloudPosition{{ItemID: "I", LocationID: "L", OnHand: 1, Version: 2}}})
	f.Add(good)
	// A block count of 2^31 - 1 items in a few bytes.
	huge := append(append([]byte{}, good[:5]...), 2, 'r', 4, 'W', 'H', 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0x0f)
	f.Add(huge)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := s.DecodeCloudPositionsReport(b)
		if err == nil && len(r.Positions) > len(b) {
			t.Fatalf("%d positions from %d bytes", len(r.Positions), len(b))
		}
		_, _ = s.DecodeCommand(b)
	})
}
