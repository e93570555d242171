package scanner

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"
)

// deviceReport is a heartbeat's body and an upload's device object, as
// the server reads them (unknown fields refused).
type deviceReport struct {
	SentAt         string  `json:"sentAt"`
	Queued         *int    `json:"queued"`
	OldestQueuedAt *string `json:"oldestQueuedAt"`
	Rejected       *int    `json:"rejected"`
	AppVersion     string  `json:"appVersion"`
}

func (f *fakeServer) heartbeat(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var rep deviceReport
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil || rep.Queued == nil || rep.Rejected == nil || rep.SentAt == "" {
		writeErr(w, http.StatusBadRequest, "INVALID_REQUEST", "bad heartbeat")
		return
	}
	f.mu.Lock()
	f.beats = append(f.beats, rep)
	f.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeServer) heartbeats() []deviceReport {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]deviceReport(nil), f.beats...)
}

// TestDeviceReportsItsQueue: every upload carries the queue as it stood
// when sent, and a heartbeat after the sync says what is left.
func TestDeviceReportsItsQueue(t *testing.T) {
	f := newFakeServer(t)
	clk := newClock()
	cfg := testConfig(t, f.URL(), clk)
	cfg.BatchSize = 2
	d := openT(t, cfg)
	qs := queueN(t, d, clk, 0, 3)
	f.reject = func(tx map[string]any) (string, string) {
		if tx["userId"] == "u-2" {
			return "UNKNOWN_ITEM", "no such item"
		}
		return "", ""
	}
	if _, err := d.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d uploads, want 2", len(reqs))
	}
	first := reqs[0].device
	oldest := formatTime(qs[0].Timestamp)
	if first == nil || *first.Queued != 3 || *first.Rejected != 0 || first.OldestQueuedAt == nil || *first.OldestQueuedAt != oldest ||
		first.AppVersion != AppVersion {
		t.Fatalf("first upload's device = %+v, want 3 queued since %s", first, oldest)
	}
	if second := reqs[1].device; second == nil || *second.Queued != 1 || second.OldestQueuedAt == nil {
		t.Fatalf("second upload's device = %+v, want 1 queued", second)
	}
	beats := f.heartbeats()
	if len(beats) != 1 {
		t.Fatalf("%d heartbeats after one sync, want 1", len(beats))
	}
	if b := beats[0]; *b.Queued != 0 || b.OldestQueuedAt != nil || *b.Rejected != 1 || b.SentAt != clk.Now().Format(timeLayout) {
		t.Fatalf("heartbeat after the sync = %+v, want nothing queued, 1 rejected", b)
	}

	// An empty queue still reports: the heartbeat is the contact.
	clk.Add(30 * time.Second)
	if _, err := d.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(f.heartbeats()); n != 2 {
		t.Fatalf("%d heartbeats after two syncs, want 2", n)
	}
	// Offline: the sync fails as before, and no heartbeat follows it.
	f.srv.Close()
	queueN(t, d, clk, 10, 1)
	if _, err := d.Sync(context.Background()); err == nil {
		t.Fatal("sync against a closed server succeeded")
	}
	if n := len(f.heartbeats()); n != 2 {
		t.Fatalf("%d heartbeats, want still 2", n)
	}
}
