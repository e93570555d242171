package ingest

import (
	"testing"

	"github.com/invsync/invsync/auth"
	"github.com/invsync/invsync/processors"
)

// A subscriber that falls streamBuffer events behind is dropped at once;
// the others keep theirs.
func TestStreamHubDropsSlowSubscriber(t *testing.T) {
	h := newStreamHub()
	p := auth.Principal{TokenID: "t1", Role: auth.RoleSupervisor, Warehouses: []string{"WH-001"}}
	slow, err := h.subscribe(p, "")
	if err != nil {
		t.Fatal(err)
	}
	fast, _ := h.subscribe(p, "")
	for i := range streamBuffer + 1 {
		h.publish(StreamEvent{Kind: StreamLock, ID: string(rune('a' + i%26)), Warehouses: []string{"WH-001"}})
		<-fast.ch
	}
	select {
	case <-slow.gone:
	default:
		t.Fatal("the subscriber that did not read is still subscribed")
	}
	select {
	case <-fast.gone:
		t.Fatal("the subscriber that read was dropped")
	default:
	}
	// The dropped one no longer counts against its token's cap.
	if h.perToken["t1"] != 1 {
		t.Errorf("token t1 counts %d streams, want 1", h.perToken["t1"])
	}
}

// Command results become discrepancy and held-count events of their
// warehouse; refusals and duplicates change nothing.
func TestStreamCommandEvents(t *testing.T) {
	s := &Server{stream: newStreamHub()}
	sub, _ := s.stream.subscribe(auth.Principal{TokenID: "a", Role: auth.RoleAdmin, Warehouses: []string{"*"}}, "")
	s.notifyCommand(processors.CommandResult{Code: "REFUSED", Discrepancy: &processors.Discrepancy{DiscrepancyID: "no"}})
	s.notifyCommand(processors.CommandResult{Duplicate: true, Discrepancy: &processors.Discrepancy{DiscrepancyID: "no"}})
	s.notifyCommand(processors.CommandResult{Discrepancy: &processors.Discrepancy{DiscrepancyID: "d-1", WarehouseID: "WH-001"}})
	s.notifyCommand(processors.CommandResult{Discrepancies: []processors.Discrepancy{{DiscrepancyID: "d-2", WarehouseID: "WH-002"}}})
	s.notifyCommand(processors.CommandResult{Held: &processors.HeldCount{Transaction: processors.Transaction{TransactionID: "tx-9", WarehouseID: "WH-001"}}})
	want := []StreamEvent{
		{Kind: StreamDiscrepancy, ID: "d-1", Warehouses: []string{"WH-001"}},
		{Kind: StreamDiscrepancy, ID: "d-2", Warehouses: []string{"WH-002"}},
		{Kind: StreamHeld, ID: "tx-9", Warehouses: []string{"WH-001"}},
	}
	for _, w := range want {
		got := <-sub.ch
		if got.Kind != w.Kind || got.ID != w.ID || len(got.Warehouses) != 1 || got.Warehouses[0] != w.Warehouses[0] {
			t.Errorf("event %+v, want %+v", got, w)
		}
	}
	if len(sub.ch) != 0 {
		t.Errorf("%d events more than wanted", len(sub.ch))
	}
}
