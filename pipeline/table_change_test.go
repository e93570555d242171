package pipeline

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
)

// TestTableReportsChanges: a report published through one instance is
// reported, by its key, to the change hooks of another (the console's
// stream learns of the fleet, tokens and locks this way).
func TestTableReportsChanges(t *testing.T) {
	brokers := lockBrokers(t)
	topic := fmt.Sprintf("scanner-status-change-%d", time.Now().UnixNano())
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, -1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, topic); err != nil {
		t.Fatal(err)
	}
	codec, err := schemas.New(ctx, schemas.Config{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := startFleetTable(t, brokers, topic, codec), startFleetTable(t, brokers, topic, codec)
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
