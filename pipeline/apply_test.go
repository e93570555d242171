package pipeline

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
)

// TestUnreadableInputIsDeadLettered: a record that does not decode, on
// each input topic, and a command that decodes but is refused go to the
// dead-letter topic as they were, with the reason and their origin in
// headers; the partition carries on with what follows them.
func TestUnreadableInputIsDeadLettered(t *testing.T) {
	r := newRig(t)
	m := r.start("a", "")
	refused, err := r.codec.AppendCommand(nil, &schemas.Command{CommandID: "CMD-1", Kind: "DISCREPANCY_UPDATE",
		WarehouseID: "WH-1", IssuedAt: time.Now(), By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	type origin struct{ topic, reason string } // reason "" when any decoding error will do
	want := map[string]origin{                 // by value
		"garbage on transactions":        {r.topics.Transactions, ""},
		"garbage on allocation requests": {r.topics.AllocationRequests, ""},
		"garbage on commands":            {r.topics.Commands, ""},
		string(refused):                  {r.topics.Commands, "a DISCREPANCY_UPDATE command carries a discrepancyId"},
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx,
		&kgo.Record{Topic: r.topics.Transactions, Value: []byte("garbage on transactions")},
		&kgo.Record{Topic: r.topics.AllocationRequests, Value: []byte("garbage on allocation requests")},
		&kgo.Record{Topic: r.topics.Commands, Value: []byte("garbage on commands")},
		&kgo.Record{Topic: r.topics.Commands, Key: []byte("WH-1"), Value: refused},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	txs := r.produce("dead", 0, 20)
	r.assertExactlyOnce(txs, m)

	dl := r.committedReader(r.topics.DeadLetter)
	defer dl.Close()
	var got []*kgo.Record
	pollUntil(dl, 30*time.Second, func(rec *kgo.Record) { got = append(got, rec) }, func() bool { return len(got) >= len(want) })
	if len(got) != len(want) {
		t.Fatalf("%d dead letters, want %d", len(got), len(want))
	}
	for _, rec := range got {
		o, ok := want[string(rec.Value)]
		if !ok {
			t.Errorf("unexpected dead letter %q", rec.Value)
			continue
		}
		delete(want, string(rec.Value))
		h := map[string]string{}
		for _, kv := range rec.Headers {
			h[kv.Key] = string(kv.Value)
		}
		if h["error"] == "" || (o.reason != "" && h["error"] != o.reason) {
			t.Errorf("dead letter %q: error header %q, want %q", rec.Value, h["error"], o.reason)
		}
		if prefix := o.topic + "/0/"; !strings.HasPrefix(h["source"], prefix) {
			t.Errorf("dead letter %q: source header %q, want %s<offset>", rec.Value, h["source"], prefix)
		}
	}
}

// TestRepeatedAllocationRequestIsAnswered: an allocation request sent again
// after it was decided (a client retrying a request whose answer a restart
// cut off) is answered to whoever waits for the allocation's decision, with
// the allocation as it stands, as a resent transaction is with its outcome;
// nothing is decided or published on Kafka a second time. Guard: the
// duplicate's publication in applyAllocRequest; without it the waiter of
// the retried request waits for a decision that never comes (the API's
// ?wait=decided then answers TENTATIVE after its full wait).
func TestRepeatedAllocationRequestIsAnswered(t *testing.T) {
	r := newRig(t)
	decisions := NewDecisionNotifier()
	r.startWith("a", "", func(pc *ProcessingConfig) { pc.Decisions = decisions }, nil)
	req := rigAlloc("AL-again", "IT-1")
	ctx := context.Background()
	decided := func(what string) processors.Allocation {
		t.Helper()
		ch, cancel := decisions.Subscribe(req.AllocationID)
		defer cancel()
		if err := r.producer.ProduceAllocation(ctx, &req); err != nil {
			t.Fatal(err)
		}
		select {
		case a := <-ch:
			return a
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: no decision published for %s within 30 s", what, req.AllocationID)
			return processors.Allocation{}
		}
	}
	first := decided("the request")
	again := decided("the same request sent again")
	if again.Status != first.Status || again.Sequence != first.Sequence || again.RequestedQuantity != first.RequestedQuantity {
		t.Errorf("the repeated request was answered with %+v, want the allocation as decided first, %+v", again, first)
	}

	cl := r.committedReader(r.topics.AllocationDecisions)
	defer cl.Close()
	n := 0
	// Read the whole window: a second decision would come after the first.
	pollUntil(cl, 3*time.Second, func(rec *kgo.Record) {
		if string(rec.Key) == req.AllocationID {
			n++
		}
	}, func() bool { return false })
	if n != 1 {
		t.Errorf("%d decisions of %s on the decisions topic, want 1", n, req.AllocationID)
	}
}
