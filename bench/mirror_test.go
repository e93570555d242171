package bench

import (
	"context"
	"testing"
	"time"

	"github.com/invsync/invsync/schemas"
)

// TestBenchPhase: the phase of a bench event is read from its eventId,
// and any other event has none.
func TestBenchPhase(t *testing.T) {
	codec, err := schemas.New(context.Background(), schemas.Config{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for id, want := range map[string]int{
		"evt-bench.mx7k14pae348dq.3.17-1": 3,
		"evt-bench.run.0.0":               0,
		"evt-bench.run.12.5-2":            12,
		"evt-bench.run.64.5-1":            -1, // beyond maxPhases
		"evt-tx-1-1":                      -1,
		"evt-bench.run":                   -1,
	} {
		e := schemas.InventoryEvent{EventID: id, Timestamp: now, EventType: schemas.EventInventoryReceipt, ItemID: "I", WarehouseID: "W",
			LocationID: "L", TransactionID: "tx", ScannerID: "S", UserID: "u", DeviceTimestamp: now, CorrectedTimestamp: now}
		v, err := codec.AppendInventoryEvent(nil, &e)
		if err != nil {
			t.Fatal(err)
		}
		if got := benchPhase(v); got != want {
			t.Errorf("benchPhase(%q) = %d, want %d", id, got, want)
		}
	}
	if got := benchPhase([]byte{0, 0, 0, 0, 1, 200}); got != -1 {
		t.Errorf("a truncated value gave phase %d", got)
	}
}

// TestPhaseNames follows the order in which Run creates its phases.
func TestPhaseNames(t *testing.T) {
	rep := Report{Latency: &Step{Name: "latency", Rate: 10000}, Steps: []Step{{Name: "step 1/2", Rate: 5000}, {Name: "step 2/2", Rate: 10000}}}
	names := phaseNames(rep)
	for id, want := range map[int]string{0: "preload", 1: "latency (10000 tx/s)", 2: "step 1/2 (5000 tx/s)", 3: "step 2/2 (10000 tx/s)", 4: "backlog"} {
		if names[id] != want {
			t.Errorf("phase %d named %q, want %q", id, names[id], want)
		}
	}
}
