package pipeline

import (
	"testing"
	"time"

	"github.com/invsync/invsync/processors"
)

// TestTableReportsChanges: a report published through one instance is
// reported, by its key, to the change hooks of another (the console's
// stream learns of the fleet, tokens and locks this way).
func TestTableReportsChanges(t *testing.T) {
	ctx, _, a, b := twoFleetTables(t, "scanner-status-change")
	changed := make(chan string, 8)
	b.OnChange(func(key string) {
		if _, ok := b.Get(key); !ok {
			t.Errorf("change %s reported before it was applied", key)
		}
		changed <- key
	})
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for _, id := range []string{"S-1", "S-2"} {
		if err := a.Report(ctx, processors.DeviceReport{ScannerID: id, ReceivedAt: at, SentAt: at}, true); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"S-1", "S-2"} {
		select {
		case got := <-changed:
			if got != want {
				t.Errorf("change %q, want %q", got, want)
			}
		case <-ctx.Done():
			t.Fatalf("no change reported for %s", want)
		}
	}
}
