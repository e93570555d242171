package bench

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
)

var rewritePeerVectors = flag.Bool("rewrite-peer-vectors", false,
	"rewrite bench/kstreams/src/test/resources/vectors from invsync's encoders (the Java tests then hold the peer to them)")

// peerVectorDir holds wire-format records shared with the peer's Java
// tests (WireFormatTest): this side checks invsync's encoders produce
// exactly these bytes, the Java side that it decodes and encodes the same.
const peerVectorDir = "kstreams/src/test/resources/vectors"

func vectorTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// The known records of the vectors; WireFormatTest.java states the same
// values.
func vectorRecords() (schemas.Transaction, []schemas.InventoryEvent) {
	to, reason, lot, alloc := "B-02-03", "DAMAGE", "LOT-1", "ALLOC-9"
	ev := int64(7)
	body := make([]byte, 32)
	for i := range body {
		body[i] = byte(i)
	}
	tx := schemas.Transaction{
		TransactionID: "bench.vector.3.7", Type: schemas.TxMove, WarehouseID: "WH-001", ItemID: "ITEM-00042",
		LocationID: "A-01-01", LotNumber: "LOT-1", Quantity: 12, ToLocationID: &to, ExpectedVersion: &ev,
		Override: true, UserID: "user-7", ReasonCode: &reason, ScannerID: "SCANNER-08",
		DeviceTimestamp: vectorTime("2026-11-26T10:00:02Z"), CorrectedTimestamp: vectorTime("2026-11-26T10:00:02.5Z"),
		SentAt: vectorTime("2026-11-26T10:30:00.123Z"), ReceivedAt: vectorTime("2026-11-26T10:30:01Z"), BodyHash: body,
	}
	move := schemas.InventoryEvent{
		EventID: "evt-bench.vector.3.7-2", Timestamp: vectorTime("2026-11-26T10:30:01.25Z"),
		EventType: schemas.EventInventoryMove, ItemID: "ITEM-00042", WarehouseID: "WH-001", LocationID: "B-02-03",
		LotNumber: &lot, QuantityChange: 12, ResultingOnHand: 12, TransactionID: "bench.vector.3.7",
		ScannerID: "SCANNER-08", UserID: "user-7", Version: 1, Allocated: 0, Available: 12,
		DeviceTimestamp: vectorTime("2026-11-26T10:00:02Z"), CorrectedTimestamp: vectorTime("2026-11-26T10:00:02.5Z"),
	}
	pick := schemas.InventoryEvent{
		EventID: "evt-bench.vector.3.8-1", Timestamp: vectorTime("2026-11-26T10:30:02Z"),
		EventType: schemas.EventInventoryPick, ItemID: "ITEM-00001", WarehouseID: "WH-002", LocationID: "C-10-01",
		QuantityChange: -30, ResultingOnHand: -5, TransactionID: "bench.vector.3.8",
		ScannerID: "SCANNER-09", UserID: "user-8", Version: 4, Allocated: 0, Available: -5,
		DeviceTimestamp: vectorTime("2026-11-26T10:01:00Z"), CorrectedTimestamp: vectorTime("2026-11-26T10:01:00Z"),
		Warnings: []string{"NEGATIVE_ON_HAND"}, AllocationID: &alloc,
	}
	return tx, []schemas.InventoryEvent{move, pick}
}

func checkVector(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(peerVectorDir, name)
	if *rewritePeerVectors {
		if err := os.WriteFile(path, []byte(hex.EncodeToString(got)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the vector (go test -run TestPeerWireVectors -rewrite-peer-vectors writes it): %v", err)
	}
	want, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: invsync encodes\n%x\nthe vector the peer is tested against holds\n%x", name, got, want)
	}
}

// TestPeerWireVectors holds invsync's encoders to the byte vectors the
// peer's Java tests decode (the Transaction) and must encode (the events),
// and checks that the bench reads the eventId from such an event.
func TestPeerWireVectors(t *testing.T) {
	codec, err := schemas.New(context.Background(), schemas.Config{})
	if err != nil {
		t.Fatal(err)
	}
	tx, events := vectorRecords()
	v, err := codec.AppendTransaction(nil, &tx)
	if err != nil {
		t.Fatal(err)
	}
	checkVector(t, "transaction.hex", v)
	if back, err := codec.DecodeTransaction(v); err != nil || back.TransactionID != tx.TransactionID || *back.ToLocationID != *tx.ToLocationID {
		t.Errorf("the transaction vector does not decode back: %+v, %v", back, err)
	}
	for i, name := range []string{"event_move.hex", "event_pick.hex"} {
		v, err := codec.AppendInventoryEvent(nil, &events[i])
		if err != nil {
			t.Fatal(err)
		}
		checkVector(t, name, v)
		phase, seq, ok := parseEventID(v, "bench.vector.")
		if !ok || phase != 3 || seq != 7+i {
			t.Errorf("%s: parseEventID = %d, %d, %v; want 3, %d, true", name, phase, seq, ok, 7+i)
		}
	}

	// The schema ids the peer is told to expect and write are the ones in
	// the vectors' headers.
	r := &peerRun{codec: codec}
	txID, evID := r.schemaIDs()
	if txID != 1 || evID != 2 {
		t.Errorf("schemaIDs = %d, %d; want 1, 2 (the vectors' headers)", txID, evID)
	}
}

func TestPeerMixed(t *testing.T) {
	w := &workload{space: newCatalogSpace(processors.DemoCatalog()), records: 1000, seed: 7, run: "r"}
	counts := map[processors.TxType]int{}
	var txs []scanTx
	const n = 20000
	for i := range n {
		rng := w.rng(2, i)
		txs = peerMixed(w, txs[:0], rng, 2, i, time.Unix(0, 0), "u")
		if len(txs) != 1 {
			t.Fatalf("peerMixed appended %d transactions, want 1", len(txs))
		}
		if want := w.txID(2, i); txs[0].ID != want {
			t.Fatalf("transaction %d has id %s, want %s", i, txs[0].ID, want)
		}
		counts[txs[0].Type]++
	}
	if counts[processors.CycleCount] != 0 {
		t.Errorf("%d CYCLE_COUNTs in the peer's mix", counts[processors.CycleCount])
	}
	// invsync's mix renormalised without counts: 45:35:8:7 of 95.
	for typ, pct := range map[processors.TxType]float64{processors.Pick: 45, processors.Receipt: 35, processors.Move: 8, processors.Adjustment: 7} {
		got := float64(counts[typ]) / n
		if want := pct / 95; got < want-0.015 || got > want+0.015 {
			t.Errorf("%s: share %.3f, want %.3f", typ, got, want)
		}
	}
	// Deterministic: the same request draws the same transactions.
	a := peerMixed(w, nil, w.rng(2, 5), 2, 5, time.Unix(0, 0), "u")
	b := peerMixed(w, nil, w.rng(2, 5), 2, 5, time.Unix(0, 0), "u")
	if a[0] != b[0] {
		t.Errorf("peerMixed is not deterministic: %+v vs %+v", a[0], b[0])
	}
}

func TestPeerConfigValidate(t *testing.T) {
	if err := (PeerConfig{Brokers: []string{"127.0.0.1:9092"}}).withDefaults().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	err := PeerConfig{Partitions: -1, Records: -1, BatchSize: 5000, Senders: -1, Rates: []int{10, 5},
		LatencyRates: []int{0}, HeadlineRate: -1, StepDuration: time.Millisecond, CommitInterval: -1,
		StreamThreads: -1, RocksDBMemory: 1, StreamsConfig: map[string]string{"processing.guarantee": "at_least_once"}}.withDefaults().Validate()
	if err == nil {
		t.Fatal("no error for a configuration wrong in every field")
	}
	for _, want := range []string{"Brokers", "Partitions", "Records", "BatchSize", "Senders", "LatencyRates[0]",
		"must ascend", "HeadlineRate", "StepDuration", "CommitInterval", "StreamThreads", "RocksDBMemory", "processing.guarantee"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not mention %s: %v", want, err)
		}
	}
}

func TestPeerHeadline(t *testing.T) {
	r := PeerResult{Steps: []PeerStep{
		{Rate: 100, P50Ms: 1}, {Rate: 1000, P50Ms: 2}, {Rate: 10000, P50Ms: 3, P99Ms: 30},
		{Rate: 5000, P50Ms: 4}, {Rate: 10000, P50Ms: 5},
	}}
	r.headline(10000)
	if r.LatencyRate != 10000 || r.P50Ms != 3 || r.P99Ms != 30 {
		t.Errorf("headline(10000) = %d tx/s p50 %v p99 %v; want the first 10000 step (3, 30)", r.LatencyRate, r.P50Ms, r.P99Ms)
	}
	r.headline(4000)
	if r.LatencyRate != 5000 || r.P50Ms != 4 {
		t.Errorf("headline(4000) = %d tx/s p50 %v; want the 5000 step", r.LatencyRate, r.P50Ms)
	}
}

func TestPeerJarStale(t *testing.T) {
	root := t.TempDir()
	project := filepath.Join(root, "bench", "kstreams")
	write := func(path string, at time.Time) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, at, at); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-time.Hour)
	write(filepath.Join(project, "pom.xml"), old)
	write(filepath.Join(project, "src", "main", "java", "Main.java"), old)
	write(filepath.Join(project, "src", "test", "java", "MainTest.java"), time.Now())
	write(filepath.Join(root, "schemas", "transaction.avsc"), old)
	write(filepath.Join(root, "schemas", "inventory_event.avsc"), old)
	jar := filepath.Join(project, "target", peerJarName)
	if why, err := peerJarStale(project, jar); err != nil || why != "missing" {
		t.Errorf("no jar: %q, %v; want missing", why, err)
	}
	write(jar, old.Add(time.Minute))
	if why, err := peerJarStale(project, jar); err != nil || why != "" {
		t.Errorf("jar newer than its sources (a test source changed later): %q, %v; want up to date", why, err)
	}
	write(filepath.Join(project, "src", "main", "java", "Main.java"), time.Now())
	if why, _ := peerJarStale(project, jar); !strings.Contains(why, "Main.java") {
		t.Errorf("changed source: %q; want it named", why)
	}
	write(filepath.Join(project, "src", "main", "java", "Main.java"), old)
	write(filepath.Join(root, "schemas", "inventory_event.avsc"), time.Now())
	if why, _ := peerJarStale(project, jar); !strings.Contains(why, "inventory_event.avsc") {
		t.Errorf("changed schema: %q; want it named", why)
	}
	if got, err := findPeerProject(project); err != nil || got != project {
		t.Errorf("findPeerProject(%s) = %s, %v", project, got, err)
	}
	if _, err := findPeerProject(root); err == nil {
		t.Errorf("findPeerProject(%s) found a project without a pom.xml", root)
	}
}

// TestPeerProcessLifecycle drives peerProcess with stand-ins for the JVM
// (shell scripts taking its arguments): waiting for RUNNING, a graceful
// stop, a stop that must kill, a peer that fails, one that dies mid-run.
func TestPeerProcessLifecycle(t *testing.T) {
	if !onPath("sh") {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	script := func(name, body string) PeerConfig {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
		return PeerConfig{Brokers: []string{"127.0.0.1:1"}, Java: path}.withDefaults()
	}
	start := func(cfg PeerConfig) (*peerProcess, string) {
		t.Helper()
		logPath := filepath.Join(dir, filepath.Base(cfg.Java)+".log")
		p, err := startPeerProcess(context.Background(), cfg, "peer.jar", newPeerTopics("p.", "r"), 1, 2, dir, logPath)
		if err != nil {
			t.Fatal(err)
		}
		return p, logPath
	}
	ctx := context.Background()

	t.Run("graceful", func(t *testing.T) {
		p, logPath := start(script("graceful", `trap 'echo "KSTREAMS-STATE NOT_RUNNING"; exit 0' TERM
echo "KSTREAMS-STATE REBALANCING"; echo "KSTREAMS-STATE RUNNING"; echo "args: $*"
while :; do sleep 0.05; done
`))
		if err := p.waitRunning(ctx, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		// Both sizes are the running process's. They are not compared: the
		// kernel reports them from per-CPU counters folded in lazily, so
		// two reads a moment apart (even two of VmHWM) differ by pages.
		if rss, peak := p.rss(), p.peakRSS(); rss <= 0 || peak <= 0 {
			t.Errorf("rss %d, peak %d: want the running process's", rss, peak)
		}
		if err := p.stop(10 * time.Second); err != nil {
			t.Errorf("stop: %v", err)
		}
		if err := p.died(ctx); err != nil {
			t.Errorf("died after stop: %v; want nil", err)
		}
		log, _ := os.ReadFile(logPath)
		for _, want := range []string{"KSTREAMS-STATE RUNNING", "--input-topic p.r.transactions", "--output-topic p.r.inventory-events",
			"--application-id invsync-kstreams-r", "--commit-interval-ms 100", "--transaction-schema-id 1", "--event-schema-id 2",
			"KSTREAMS-STATE NOT_RUNNING", "stopped: <nil>"} {
			if !strings.Contains(string(log), want) {
				t.Errorf("log lacks %q:\n%s", want, log)
			}
		}
		if err := p.stop(time.Second); err != nil {
			t.Errorf("second stop: %v", err)
		}
	})
	t.Run("killed", func(t *testing.T) {
		p, _ := start(script("stubborn", `trap '' TERM
echo "KSTREAMS-STATE RUNNING"
while :; do sleep 0.05; done
`))
		if err := p.waitRunning(ctx, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		_ = p.stop(300 * time.Millisecond)
		select {
		case <-p.exited:
		default:
			t.Fatal("stop returned with the process still running")
		}
		if d := time.Since(t0); d > 5*time.Second {
			t.Errorf("stop took %s with a 300ms grace", d)
		}
	})
	t.Run("fails", func(t *testing.T) {
		p, _ := start(script("fails", `echo "KSTREAMS-STATE REBALANCING"; echo "KSTREAMS-STATE ERROR"; sleep 1; exit 1
`))
		err := p.waitRunning(ctx, 10*time.Second)
		if err == nil || !strings.Contains(err.Error(), "ERROR") {
			t.Errorf("waitRunning = %v; want the ERROR state", err)
		}
		_ = p.stop(time.Second)
		p, _ = start(script("exits", "echo starting; exit 2\n"))
		if err := p.waitRunning(ctx, 10*time.Second); !errors.Is(err, ErrPeerExited) {
			t.Errorf("waitRunning = %v; want ErrPeerExited", err)
		}
		_ = p.stop(time.Second)
	})
	t.Run("dies", func(t *testing.T) {
		p, _ := start(script("dies", `echo "KSTREAMS-STATE RUNNING"; sleep 0.3; exit 3
`))
		if err := p.waitRunning(ctx, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := p.died(ctx); !errors.Is(err, ErrPeerExited) || !strings.Contains(err.Error(), "exit status 3") {
			t.Errorf("died = %v; want ErrPeerExited with exit status 3", err)
		}
		if err := p.stop(time.Second); !errors.Is(err, ErrPeerExited) {
			t.Errorf("stop after the peer died = %v; want ErrPeerExited", err)
		}
	})
}

// peerKafka returns the real broker the peer tests run on, skipping the
// test loudly when there is none or no Java toolchain.
func peerKafka(t *testing.T) []string {
	t.Helper()
	brokers := os.Getenv("KAFKA_BROKERS")
	reason := ""
	switch {
	case brokers == "":
		reason = "KAFKA_BROKERS is not set (the Kafka Streams peer needs a real Kafka: bash scripts/kafka.sh up, then KAFKA_BROKERS=127.0.0.1:39092)"
	case !onPath("java"):
		reason = "java is not on PATH (the peer is a Java 17 application)"
	case !onPath("mvn"):
		reason = "mvn is not on PATH (the peer is built with Maven)"
	}
	if reason != "" {
		fmt.Fprintf(os.Stderr, "SKIP %s: %s\n", t.Name(), reason)
		t.Skip(reason)
	}
	return strings.Split(brokers, ",")
}

func onPath(cmd string) bool {
	_, err := exec.LookPath(cmd)
	return err == nil
}

// TestPeerAppliesOnceKafka runs the peer on the real broker with a small
// known sequence, then restarts it on the same state and resends: every
// event must be read exactly once, with the right onHand and version, and
// nothing for a duplicate, a count or a resend after the restart.
func TestPeerAppliesOnceKafka(t *testing.T) {
	brokers := peerKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cfg := PeerConfig{Brokers: brokers, CommitInterval: 50 * time.Millisecond}.withDefaults()
	jar, err := ensurePeerJar(ctx, cfg, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	codec, err := schemas.New(ctx, schemas.Config{})
	if err != nil {
		t.Fatal(err)
	}
	run := fmt.Sprintf("test%d", time.Now().UnixNano())
	topics := newPeerTopics(cfg.TopicPrefix, run)
	admCl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)
	if err := createPeerTopics(ctx, adm, topics, 4); err != nil {
		t.Fatal(err)
	}
	defer deletePeerTopics(adm, topics, testWriter{t})
	state := t.TempDir()
	logPath := filepath.Join(t.TempDir(), "peer.log")
	r := &peerRun{codec: codec}
	txID, evID := r.schemaIDs()
	start := func() *peerProcess {
		t.Helper()
		p, err := startPeerProcess(ctx, cfg, jar, topics, txID, evID, state, logPath)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.waitRunning(ctx, 3*time.Minute); err != nil {
			_ = p.stop(5 * time.Second)
			t.Fatalf("%v\n%s", err, peerLogTail(logPath))
		}
		return p
	}

	prod, err := newPeerProducer(brokers, topics.input)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	produce := func(txs ...scanTx) {
		t.Helper()
		for i := range txs {
			w := peerWire(&txs[i], "SCANNER-T", time.Now())
			v, err := codec.AppendTransaction(nil, &w)
			if err != nil {
				t.Fatal(err)
			}
			rec := &kgo.Record{Key: []byte(processors.StockKey(txs[i].Warehouse, txs[i].Item)), Value: v}
			if err := prod.ProduceSync(ctx, rec).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics.output),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	seen := map[string][]schemas.InventoryEvent{}
	// poll reads what the next fetch brings into seen.
	poll := func() {
		t.Helper()
		pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := cons.PollFetches(pctx)
		pcancel()
		fs.EachError(func(topic string, p int32, err error) {
			if ctx.Err() == nil && !isTimeout(err) {
				t.Errorf("reading %s[%d]: %v", topic, p, err)
			}
		})
		fs.EachRecord(func(rec *kgo.Record) {
			ev, err := codec.DecodeInventoryEvent(rec.Value)
			if err != nil {
				t.Errorf("decoding an event: %v", err)
				return
			}
			if want := processors.StockKey(ev.WarehouseID, ev.ItemID); string(rec.Key) != want {
				t.Errorf("event %s keyed %q, want %q", ev.EventID, rec.Key, want)
			}
			seen[ev.EventID] = append(seen[ev.EventID], ev)
		})
	}
	// read polls until want distinct eventIds have been read, then for
	// settle longer, so that a duplicate or an unexpected event shows.
	read := func(want int, settle time.Duration) {
		t.Helper()
		err := testkit.Within(90*time.Second, func() error {
			poll()
			if len(seen) < want {
				return testkit.Not("read %d of %d events", len(seen), want)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%v\n%s", err, peerLogTail(logPath))
		}
		// Reading on for settle lets time pass on purpose: a late
		// duplicate or an unexpected event has the time to show.
		for quiet := time.Now().Add(settle); time.Now().Before(quiet); {
			poll()
		}
	}

	tx := func(id string, typ processors.TxType, wh, item, loc, lot string, q int64, to string) scanTx {
		return scanTx{ID: run + "." + id, Type: typ, Timestamp: time.Now().UTC(), Warehouse: wh, Item: item,
			Location: loc, Lot: lot, Quantity: q, ToLocation: to, User: "tester"}
	}
	const wh, item, other = "WH-001", "ITEM-00042", "ITEM-00007"
	recv := tx("1", processors.Receipt, wh, item, "A-01-01", "LOT-1", 100, "")
	seq := []scanTx{
		recv,
		tx("2", processors.Pick, wh, item, "A-01-01", "LOT-1", 30, ""),
		tx("3", processors.Adjustment, wh, item, "A-01-01", "LOT-1", -5, ""),
		tx("4", processors.Move, wh, item, "A-01-01", "LOT-1", 10, "B-02-03"),
		recv, // a resend: changes nothing
		tx("5", processors.CycleCount, wh, item, "A-01-01", "LOT-1", 500, ""), // not the peer's job: no effect
		tx("6", processors.Pick, wh, item, "A-01-01", "LOT-1", 80, ""),
		tx("7", processors.Receipt, wh, other, "C-03-01", "", 7, ""),
		tx("8", processors.Adjustment, wh, item, "A-01-01", "LOT-2", 4, ""), // another lot: another record
	}
	type want struct {
		loc                     string
		change, onHand, version int64
		warn                    bool
	}
	expected := map[string]want{
		"1-1": {"A-01-01", 100, 100, 1, false},
		"2-1": {"A-01-01", -30, 70, 2, false},
		"3-1": {"A-01-01", -5, 65, 3, false},
		"4-1": {"A-01-01", -10, 55, 4, false},
		"4-2": {"B-02-03", 10, 10, 1, false},
		"6-1": {"A-01-01", -80, -25, 5, true},
		"7-1": {"C-03-01", 7, 7, 1, false},
		"8-1": {"A-01-01", 4, 4, 1, false},
	}
	check := func() {
		t.Helper()
		for suffix, w := range expected {
			id := "evt-" + run + "." + suffix
			evs := seen[id]
			if len(evs) != 1 {
				t.Errorf("%s read %d times, want once", id, len(evs))
				continue
			}
			ev := evs[0]
			if ev.LocationID != w.loc || ev.QuantityChange != w.change || ev.ResultingOnHand != w.onHand || ev.Version != w.version ||
				ev.Available != w.onHand || slices.Contains(ev.Warnings, "NEGATIVE_ON_HAND") != w.warn {
				t.Errorf("%s: location %s change %d onHand %d version %d available %d warnings %v; want %s %d %d %d (negative warning %v)",
					id, ev.LocationID, ev.QuantityChange, ev.ResultingOnHand, ev.Version, ev.Available, ev.Warnings, w.loc, w.change, w.onHand, w.version, w.warn)
			}
		}
		for id := range seen {
			if _, ok := expected[strings.TrimPrefix(id, "evt-"+run+".")]; !ok {
				t.Errorf("unexpected event %s", id)
			}
		}
	}

	peer := start()
	produce(seq...)
	read(len(expected), 2*time.Second)
	if err := peer.stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	check()

	// Restart on the same state dir and application id: the applied
	// transactionIds survived, so resending two of them changes nothing,
	// and a new transaction continues from the stored onHand and version.
	peer = start()
	defer func() { _ = peer.stop(30 * time.Second) }()
	produce(recv, seq[3], tx("9", processors.Receipt, wh, item, "A-01-01", "LOT-1", 25, ""))
	expected["9-1"] = want{"A-01-01", 25, 0, 6, false}
	read(len(expected), 2*time.Second)
	check()
	if t.Failed() {
		t.Logf("peer log:\n%s", peerLogTail(logPath))
	}
}

// TestRunPeerKafka runs RunPeer end to end for a few seconds at low rates:
// every transaction it produced must have been read exactly once.
func TestRunPeerKafka(t *testing.T) {
	brokers := peerKafka(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	res, err := RunPeer(ctx, PeerConfig{
		Brokers: brokers, Records: 500, BatchSize: 50, LatencyRates: []int{200}, Rates: []int{400, 800},
		StepDuration: 2 * time.Second, LogFile: filepath.Join(t.TempDir(), "peer.log"),
		StreamThreads: 2, // Streams shares the (de)serializers between threads: exercise that
	}, &progress)
	t.Logf("progress:\n%s", lastLines(progress.Bytes(), 30))
	if err != nil {
		t.Fatalf("RunPeer: %v\n%s", err, peerLogTail(res.Log))
	}
	if res.Name != PeerKStreams || res.Preload.Records != 500 || res.Preload.TPS <= 0 {
		t.Errorf("result %+v: want name kstreams and a preload of 500", res)
	}
	if len(res.Steps) < 2 {
		t.Fatalf("%d steps, want the latency step and at least one of the search", len(res.Steps))
	}
	for _, s := range res.Steps {
		if s.Offered == 0 || s.Seen != s.Offered || s.DuplicateEvents != 0 || s.Failed != 0 {
			t.Errorf("%s at %d tx/s: offered %d, seen %d, duplicates %d, failed %d; want all seen once", s.Name, s.Rate, s.Offered, s.Seen, s.DuplicateEvents, s.Failed)
		}
		if s.P50Ms <= 0 || s.P99Ms < s.P50Ms {
			t.Errorf("%s: p50 %v ms, p99 %v ms", s.Name, s.P50Ms, s.P99Ms)
		}
	}
	if res.LatencyRate != 800 && res.LatencyRate != 400 {
		t.Errorf("headline rate %d; want the step closest to 10000 that ran", res.LatencyRate)
	}
	if res.RSSMB <= 0 {
		t.Errorf("JVM RSS %v MB; want it measured", res.RSSMB)
	}
	t.Logf("kstreams peer: sustained %d tx/s, p50 %.1f ms, p99 %.1f ms at %d tx/s, RSS %.0f MB", res.SustainedTPS, res.P50Ms, res.P99Ms, res.LatencyRate, res.RSSMB)
}

func peerLogTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no peer log: %v)", err)
	}
	return lastLines(b, 40)
}

// testWriter writes progress to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
