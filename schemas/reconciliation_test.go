package schemas

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"
)

// TestReconciliationRoundTrips: each reconciliation record decodes to what
// was encoded, and garbage is refused as malformed.
func TestReconciliationRoundTrips(t *testing.T) {
	s, err := New(context.Background(), Config{TopicPrefix: "t."})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 26, 10, 15, 0, 0, time.UTC)
	str := func(v string) *string { return &v }
	i64 := func(v int64) *int64 { return &v }
	ps := []CloudPosition{{ItemID: "I", LocationID: "L", LotNumber: "", OnHand: 95, Version: 18}, {ItemID: "J", LocationID: "M", LotNumber: "LOT", OnHand: -1, Version: 0}}
	cmds := []Command{
		{CommandID: "c1", Kind: "REPORT_PIECE", WarehouseID: "WH", IssuedAt: at, By: "cloud-1",
			Report: &ReportPiece{PieceID: "r#3", ReportID: "r", Complete: true, ItemFrom: str("A"), ItemTo: str("Z"), Positions: ps}},
		{CommandID: "c2", Kind: "DISCREPANCY_UPDATE", WarehouseID: "WH", ItemID: "I", IssuedAt: at, By: "sup",
			Discrepancy: &DiscrepancyChange{DiscrepancyID: "d-1", Status: str("RESOLVED"), Resolution: str("WRITTEN_OFF"), Note: "n"}},
		{CommandID: "c3", Kind: "COUNT_DECISION", WarehouseID: "WH", ItemID: "I", IssuedAt: at, By: "sup",
			Count: &HeldCountDecision{TransactionID: "tx", Approve: true}},
	}
	for _, c := range cmds {
		b, err := s.AppendCommand(nil, &c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.DecodeCommand(b)
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Errorf("command round trip:\n got %+v, %v\nwant %+v", got, err, c)
		}
	}
	d := Discrepancy{DiscrepancyID: "d-1", WarehouseID: "WH", ItemID: "I", LocationID: "L", Kind: "MISMATCH", WarehouseOnHand: 95,
		WarehouseVersion: 18, CloudOnHand: i64(100), CloudVersion: i64(18), Status: "OPEN", ReportID: "r", OpenedAt: at, UpdatedAt: at,
		Sequence: 1, History: []DiscrepancyStep{{At: at, By: "cloud-1", Status: "OPEN", Note: "found"}}}
	b, err := s.AppendDiscrepancy(nil, &d)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.DecodeDiscrepancy(b); err != nil || !reflect.DeepEqual(got, d) {
		t.Errorf("discrepancy round trip:\n got %+v, %v\nwant %+v", got, err, d)
	}
	ct := CountTask{CountTaskID: "ct-1", WarehouseID: "WH", LocationID: "L", ItemID: str("I"), Reason: "r", Status: "DONE",
		CreatedAt: at, CreatedBy: "sup", CompletedAt: &at, CompletedBy: str("tx")}
	b, err = s.AppendCountTask(nil, &ct)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.DecodeCountTask(b); err != nil || !reflect.DeepEqual(got, ct) {
		t.Errorf("count task round trip:\n got %+v, %v\nwant %+v", got, err, ct)
	}
	rep := CloudPositionsReport{ReportID: "r", WarehouseID: "WH", Complete: false, Positions: ps}
	b, err = s.AppendCloudPositionsReport(nil, &rep)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.DecodeCloudPositionsReport(b); err != nil || !reflect.DeepEqual(got, rep) {
		t.Errorf("report round trip:\n got %+v, %v\nwant %+v", got, err, rep)
	}
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
