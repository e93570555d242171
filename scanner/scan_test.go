package scanner

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseScan(t *testing.T) {
	cases := []struct {
		line string
		want string // "" = valid; else a fragment of the error
	}{
		{`{"type":"CYCLE_COUNT","warehouseId":"WH-001","itemId":"I","locationId":"A","quantity":0}`, ""},
		{`{"type":"MOVE","warehouseId":"W","itemId":"I","locationId":"A","toLocationId":"B","quantity":3,"lotNumber":null,"allocationId":null}`, ""},
		{`{"type":"ADJUSTMENT","warehouseId":"W","itemId":"I","locationId":"A","quantity":-4,"expectedVersion":17,"override":true,"reasonCode":"DAMAGE"}`, ""},
		{`{"type":"CYCLE_COUNT","warehouseId":"W","itemId":"I","locationId":"A","quantity":5,"countTaskId":"ct-1"}`, ""},
		{`{"type":"CYCLE_COUNT","warehouseId":"W","itemId":"I","locationId":"A"}`, "quantity is required"},
		{`{"type":"PICK","warehouseId":"W","itemId":"I","locationId":"A","quantity":0}`, "must be > 0"},
		{`{"type":"PICK","warehouseId":"W","itemId":"I","locationId":"A","quantity":2.5}`, "whole number"},
		{`{"type":"MOVE","warehouseId":"W","itemId":"I","locationId":"A","quantity":1}`, "toLocationId is required"},
		{`{"type":"RECEIPT","warehouseId":"W","itemId":"I","locationId":"A","quantity":1,"transactionId":"x","timestamp":"2026-01-01T00:00:00Z"}`, "transactionId is set by the scanner"},
		{`{"type":"RECEIPT","warehouseId":"W","itemId":"I","locationId":"A","quantity":1,"colour":"red"}`, `unknown field "colour"`},
		{`{"type":"TELEPORT","warehouseId":"W","itemId":"I","locationId":"A","quantity":1}`, "TELEPORT"},
		{`{"type":"RECEIPT","warehouseId":"W","itemId":"I","locationId":"A","quantity":1,"countTaskId":"c"}`, "only for a CYCLE_COUNT"},
		{`{"type":"RECEIPT"`, "not valid JSON"},
		{`{"type":"RECEIPT","warehouseId":"W","itemId":"I","locationId":"A","quantity":1} {}`, "more than one"},
		{`{"warehouseId":5}`, "warehouseId must be a string"},
	}
	for _, c := range cases {
		s, err := ParseScan([]byte(c.line))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.line, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrInvalidScan)):
			t.Errorf("%s: error %v, want one containing %q", c.line, err, c.want)
		case c.want == "" && s.Type == "":
			t.Errorf("%s: parsed to an empty scan", c.line)
		}
	}
	s, _ := ParseScan([]byte(cases[2].line))
	if s.Quantity != -4 || s.ExpectedVersion == nil || *s.ExpectedVersion != 17 || !s.Override || s.ReasonCode != "DAMAGE" {
		t.Fatalf("parsed %+v", s)
	}
}

func TestMissingFieldsAreAllReported(t *testing.T) {
	_, err := ParseScan([]byte(`{"type":"RECEIPT"}`))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 4 {
		t.Fatalf("%v: want warehouseId, itemId, locationId and quantity reported together", err)
	}
}

func TestWireEncodingRoundTrips(t *testing.T) {
	v := int64(3)
	s := Scan{Type: "PICK", WarehouseID: "W", ItemID: "I", LocationID: "A", Quantity: 2, ExpectedVersion: &v,
		AllocationID: "AL-1", UserID: "u", At: time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)}
	b, err := encodeScan(s, "id-1", s.At)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"transactionId":"id-1","type":"PICK","timestamp":"2026-01-02T03:04:05.006Z","warehouseId":"W","itemId":"I","locationId":"A","quantity":2,"expectedVersion":3,"allocationId":"AL-1","userId":"u"}`
	if string(b) != want {
		t.Fatalf("encoded\n%s\nwant\n%s", b, want)
	}
	back, err := decodeScan(b)
	if err != nil || back.AllocationID != "AL-1" || !back.At.Equal(s.At) || *back.ExpectedVersion != 3 {
		t.Fatalf("decoded %+v %v", back, err)
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	err := Config{URL: "ftp://x", BatchSize: 5000, SyncEvery: -1, Token: "a b"}.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate: %v", err)
	}
	for _, want := range []string{"DataDir", "URL", "ScannerID", "BatchSize", "SyncEvery", "Token must not contain"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems %q lack %s", ve.Problems, want)
		}
	}
	if err := (Config{DataDir: "/tmp/x"}).Validate(); err != nil {
		t.Fatalf("an operator view needs only DataDir: %v", err)
	}
}

func TestComputeStatusRules(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		c    queueCounts
		st   syncState
		want string
	}{
		{"fresh", queueCounts{}, syncState{}, Green},
		{"synced", queueCounts{}, syncState{LastSuccessAt: now}, Green},
		{"queued", queueCounts{queued: 1}, syncState{}, Yellow},
		{"offline empty", queueCounts{}, syncState{Kind: kindOffline}, Yellow},
		{"offline for an hour", queueCounts{queued: 3}, syncState{Kind: kindOffline, LastSuccessAt: now.Add(-time.Hour)}, Yellow},
		{"failing 4m", queueCounts{queued: 1}, syncState{Kind: kindUnanswered, FailingSince: now.Add(-4 * time.Minute)}, Yellow},
		{"failing 5m", queueCounts{queued: 1}, syncState{Kind: kindUnanswered, FailingSince: now.Add(-5 * time.Minute)}, Red},
		{"rejection", queueCounts{rejected: 1}, syncState{LastSuccessAt: now}, Red},
		{"token", queueCounts{}, syncState{Kind: kindRefusedToken}, Red},
		{"bad request", queueCounts{queued: 1}, syncState{Kind: kindRefusedRequest}, Red},
	}
	for _, c := range cases {
		if got := computeStatus(c.c, c.st, now, DefaultRedAfter); got.Status != c.want || got.Message == "" {
			t.Errorf("%s: %s (%q), want %s", c.name, got.Status, got.Message, c.want)
		}
	}
}
