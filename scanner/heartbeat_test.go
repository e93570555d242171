package scanner

import (
	"context"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/scanner/internal/fakeapi"
)

// TestDeviceReportsItsQueue: every upload carries the queue as it stood
// when sent, and a heartbeat after the sync says what is left.
func TestDeviceReportsItsQueue(t *testing.T) {
	srv, clk, d := onFake(t, func(c *Config) { c.BatchSize = 2 })
	qs := queueN(t, d, clk, 0, 3)
	srv.Mu.Lock()
	srv.Reject = fakeapi.RejectWhere("userId", "u-2", "UNKNOWN_ITEM", "no such item")
	srv.Mu.Unlock()
	mustSync(t, d)
	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d uploads, want 2", len(reqs))
	}
	first := reqs[0].Device
	oldest := api.FormatTime(qs[0].Timestamp)
	if first == nil || first.Queued != 3 || first.Rejected != 0 || first.OldestQueuedAt == nil || *first.OldestQueuedAt != oldest ||
		first.AppVersion != AppVersion {
		t.Fatalf("first upload's device = %+v, want 3 queued since %s", first, oldest)
	}
	if second := reqs[1].Device; second == nil || second.Queued != 1 || second.OldestQueuedAt == nil {
		t.Fatalf("second upload's device = %+v, want 1 queued", second)
	}
	beats := srv.Heartbeats()
	if len(beats) != 1 {
		t.Fatalf("%d heartbeats after one sync, want 1", len(beats))
	}
	if b := beats[0]; b.Queued != 0 || b.OldestQueuedAt != nil || b.Rejected != 1 || b.SentAt != api.FormatTime(clk.Now()) {
		t.Fatalf("heartbeat after the sync = %+v, want nothing queued, 1 rejected", b)
	}

	// An empty queue still reports: the heartbeat is the contact.
	clk.Advance(30 * time.Second)
	mustSync(t, d)
	if n := len(srv.Heartbeats()); n != 2 {
		t.Fatalf("%d heartbeats after two syncs, want 2", n)
	}
	// Offline: the sync fails as before, and no heartbeat follows it.
	srv.HTTP.Close()
	queueN(t, d, clk, 10, 1)
	if _, err := d.Sync(context.Background()); err == nil {
		t.Fatal("sync against a closed server succeeded")
	}
	if n := len(srv.Heartbeats()); n != 2 {
		t.Fatalf("%d heartbeats, want still 2", n)
	}
}
