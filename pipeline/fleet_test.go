package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
)

func startFleetTable(t *testing.T, brokers []string, topic string, codec *schemas.Set) *FleetTable {
	t.Helper()
	ft, err := NewFleetTable(brokers, topic, codec, nil)
	return startTable(t, ft, err)
}

// TestFleetReportsSharedByInstances: a report published through one
// instance is seen by another and by one that starts afterwards; a
// heartbeat keeps the last upload time; an older report arriving late does
// not replace a newer one.
func TestFleetReportsSharedByInstances(t *testing.T) {
	brokers := lockBrokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topic, codec := compactedTopic(ctx, t, brokers, "scanner-status-test")
	a, b := startFleetTable(t, brokers, topic, codec), startFleetTable(t, brokers, topic, codec)

	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	oldest := at.Add(-time.Hour)
	upload := processors.DeviceReport{ScannerID: "S-1", ReceivedAt: at, SentAt: at, Queued: 3, OldestQueuedAt: &oldest,
		AppVersion: "v1", LastUploadAt: &at}
	if err := a.Report(ctx, upload, true); err != nil {
		t.Fatal(err)
	}
	heartbeat := processors.DeviceReport{ScannerID: "S-1", ReceivedAt: at.Add(30 * time.Second), SentAt: at.Add(30 * time.Second), AppVersion: "v1"}
	if err := a.Report(ctx, heartbeat, true); err != nil {
		t.Fatal(err)
	}
	// An older report published later (another instance's slow write)
	// must not win.
	stale := processors.DeviceReport{ScannerID: "S-1", ReceivedAt: at.Add(10 * time.Second), SentAt: at, Queued: 9, AppVersion: "v1"}
	if err := b.Report(ctx, stale, true); err != nil {
		t.Fatal(err)
	}
	if err := a.Report(ctx, processors.DeviceReport{ScannerID: "S-2", ReceivedAt: at, SentAt: at, Rejected: 2}, false); err != nil {
		t.Fatal(err)
	}
	want := heartbeat
	want.LastUploadAt = &at
	c := startFleetTable(t, brokers, topic, codec)
	for name, ft := range map[string]*FleetTable{"a": a, "b": b, "late starter": c} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, ok := ft.Get("S-1")
			s2, ok2 := ft.Get("S-2")
			if ok && ok2 && got.ReceivedAt.Equal(want.ReceivedAt) && got.Queued == 0 && got.LastUploadAt != nil &&
				got.LastUploadAt.Equal(at) && got.OldestQueuedAt == nil && s2.Rejected == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: S-1 = %+v (%v), S-2 = %+v (%v); want %+v and S-2 with 2 rejected", name, got, ok, s2, ok2, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if n := len(ft.Reports()); n != 2 {
			t.Fatalf("%s: %d reports, want 2", name, n)
		}
	}
}
