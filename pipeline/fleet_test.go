package pipeline

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
)

func (s sharedTopic) startFleetTable(t *testing.T) *FleetTable {
	t.Helper()
	ft, err := NewFleetTable(s.brokers, s.topic, s.codec, nil)
	return startTable(t, ft, err)
}

// twoFleetTables starts two fleet tables, two instances' views, on a new
// compacted topic named after prefix; the context ends after a minute or
// with the test.
func twoFleetTables(t *testing.T, prefix string) (context.Context, sharedTopic, *FleetTable, *FleetTable) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	st := compactedTopic(ctx, t, prefix)
	return ctx, st, st.startFleetTable(t), st.startFleetTable(t)
}

// TestFleetReportsSharedByInstances: a report published through one
// instance is seen by another and by one that starts afterwards; a
// heartbeat keeps the last upload time; an older report arriving late does
// not replace a newer one.
func TestFleetReportsSharedByInstances(t *testing.T) {
	ctx, st, a, b := twoFleetTables(t, "scanner-status-test")

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
	c := st.startFleetTable(t)
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

// TestFleetRecentUploadsMerge: the uploads one instance records are seen
// by another and by a late starter, and a record published late by an
// instance that had not yet seen the newest upload (older, with only an
// older upload) neither replaces the newer report nor drops its upload.
func TestFleetRecentUploadsMerge(t *testing.T) {
	ctx, st, a, b := twoFleetTables(t, "scanner-status-uploads-test")

	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	newer := processors.ScannerUpload{At: at.Add(time.Minute), Transactions: 2, Accepted: 1, Rejected: 1,
		Rejections: []processors.UploadRejection{{TransactionID: "c0ffee00-0000-4000-8000-000000000002", Code: "UNKNOWN_ITEM"}}}
	older := processors.ScannerUpload{At: at, Transactions: 1, Duplicate: 1}
	t2 := newer.At
	if err := a.Report(ctx, processors.DeviceReport{ScannerID: "S-1", ReceivedAt: t2, SentAt: t2, Queued: 1, OldestQueuedAt: &at,
		LastUploadAt: &t2, Uploads: []processors.ScannerUpload{newer}}, true); err != nil {
		t.Fatal(err)
	}
	// The late record, as an instance that saw only the older upload
	// wrote it.
	late, err := st.codec.AppendScannerStatus(nil, &schemas.ScannerStatus{ScannerID: "S-1", ReceivedAt: at, SentAt: at, Queued: 7,
		OldestQueuedAt: &at, LastUploadAt: &at, RecentUploads: uploadsToWire([]processors.ScannerUpload{older})})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.cl.ProduceSync(ctx, &kgo.Record{Topic: st.topic, Key: []byte("S-1"), Value: late}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	want := []processors.ScannerUpload{newer, older}
	c := st.startFleetTable(t)
	for name, ft := range map[string]*FleetTable{"a": a, "b": b, "late starter": c} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, ok := ft.Get("S-1")
			if ok && got.ReceivedAt.Equal(t2) && got.Queued == 1 && uploadsEqual(got.Uploads, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: S-1 = %+v (%v); want received at %v, 1 queued, uploads %+v", name, got, ok, t2, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// A heartbeat through b keeps both uploads.
	hb := processors.DeviceReport{ScannerID: "S-1", ReceivedAt: t2.Add(time.Minute), SentAt: t2.Add(time.Minute)}
	if err := b.Report(ctx, hb, true); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Get("S-1"); !uploadsEqual(got.Uploads, want) || got.LastUploadAt == nil || !got.LastUploadAt.Equal(t2) {
		t.Fatalf("after a heartbeat: %+v, want uploads %+v and last upload %v", got, want, t2)
	}
}

func uploadsEqual(a, b []processors.ScannerUpload) bool {
	return slices.EqualFunc(a, b, func(x, y processors.ScannerUpload) bool {
		return x.At.Equal(y.At) && x.Transactions == y.Transactions && x.Accepted == y.Accepted && x.Duplicate == y.Duplicate &&
			x.Rejected == y.Rejected && slices.Equal(x.Rejections, y.Rejections)
	})
}
