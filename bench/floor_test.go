package bench

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/schemas"
)

// TestRunFloor runs the exactly-once floor end to end at low rates: every
// transaction's events are read exactly once, latencies are measured, and
// the run's topics and group are gone afterwards.
func TestRunFloor(t *testing.T) {
	brokers := testkit.Brokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	res, err := RunPeer(ctx, PeerConfig{Brokers: brokers, Floor: true, Partitions: 4, Records: 500, BatchSize: 50,
		LatencyRates: []int{200}, Rates: []int{400, 800}, StepDuration: 2 * time.Second}, &progress)
	t.Logf("progress:\n%s", lastLines(progress.Bytes(), 20))
	if err != nil {
		t.Fatalf("RunPeer: %v", err)
	}
	if res.Name != PeerFloor || res.Preload.Records != 500 || res.Settings["cycle"] == "" {
		t.Errorf("result %s, preload %d, settings %v: want the floor's, a preload of 500 and its cycle disclosed", res.Name, res.Preload.Records, res.Settings)
	}
	// Whether a 2-second step holds depends on the machine (a broker just
	// started, other packages' tests beside it); what every step must
	// show, held or not, is each transaction's events read exactly once.
	if len(res.Steps) < 2 {
		t.Fatalf("%d steps, want the latency step and at least one of the search", len(res.Steps))
	}
	for _, s := range res.Steps {
		if s.Offered == 0 || s.Seen != s.Offered || s.DuplicateEvents != 0 || s.Failed != 0 {
			t.Errorf("%s at %d tx/s: offered %d, seen %d, duplicates %d, failed %d (held %v %s); want all seen once", s.Name, s.Rate, s.Offered, s.Seen, s.DuplicateEvents, s.Failed, s.Held, s.Reason)
		}
		if s.P50Ms <= 0 || s.P99Ms < s.P50Ms {
			t.Errorf("%s: p50 %v ms, p99 %v ms", s.Name, s.P50Ms, s.P99Ms)
		}
	}
	if res.SustainedTPS != 0 && res.SustainedTPS != 400 && res.SustainedTPS != 800 {
		t.Errorf("sustained %d tx/s; want one of the search's steps", res.SustainedTPS)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range topics.Names() {
		if strings.HasPrefix(name, DefaultFloorTopicPrefix+res.RunID) {
			t.Errorf("topic %s left behind", name)
		}
	}
	groups, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := groups["invsync-floor-"+res.RunID]; ok {
		t.Errorf("group invsync-floor-%s left behind", res.RunID)
	}
}

// TestFloorRelayRefusesARecordItCannotDecode: a record that is not an Avro
// transaction ends the relay with ErrFloorFailed, and the transaction it
// was in is aborted, so the good record before it produced no event a
// read_committed reader sees.
func TestFloorRelayRefusesARecordItCannotDecode(t *testing.T) {
	brokers := testkit.Brokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	codec, err := schemas.New(ctx, schemas.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topics := newFloorTopics("test.floor.", "bad")
	if err := createPeerTopics(ctx, adm, topics, 1); err != nil {
		t.Fatal(err)
	}
	defer deletePeerTopics(adm, topics, testWriter{t})

	w := newWorkload(10, 1, time.Now())
	var txs []scanTx
	txs = w.receipt(txs, w.rng(0, 0), 0, 0, time.Now())
	good := peerWire(&txs[0], "SC-1", time.Now())
	v, err := codec.AppendTransaction(nil, &good)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx,
		&kgo.Record{Topic: topics.input, Value: v},
		&kgo.Record{Topic: topics.input, Value: []byte("not avro")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	failed := make(chan error, 1)
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	rl, err := startRelay(rctx, brokers, topics, codec, func(err error) { failed <- err })
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-failed:
		if !errors.Is(err, ErrFloorFailed) || !strings.Contains(err.Error(), "decoding") {
			t.Errorf("relay failed with %v; want ErrFloorFailed naming the record it could not decode", err)
		}
	case <-ctx.Done():
		t.Fatal("the relay did not fail on a record it cannot decode")
	}
	if err := rl.stop(); err == nil {
		t.Error("stop returned no error after the relay failed")
	}
	ends, err := adm.ListEndOffsets(ctx, topics.output)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics.output),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
	defer pcancel()
	if n := rd.PollFetches(pctx).NumRecords(); n != 0 {
		t.Errorf("a read_committed reader saw %d events of the aborted transaction (end offsets %v)", n, ends)
	}
}
