package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/internal/testkit"
)

// TestCrashKill9DuringUploads runs `invsync serve` as a child process,
// uploads offline backlogs from several scanners and kill -9s the process at
// random moments, restarting it each time. Scanners resend whatever got no
// answer, as devices do. At the end every transaction has been answered, and
// the test checks that each was applied exactly once: positions equal the
// ledger recomputed here from the spec's rules, there is one event per
// applied leg, and no eventId repeats.
//
// CRASH_MODE says what is killed:
//
//   - supervised (default): the two-command default, `invsync serve` with
//     its embedded broker in the supervised process of its own; only serve
//     is killed (a crash, an OOM kill, a redeploy) and the broker survives;
//   - power-cut: serve and its broker process are killed together, like a
//     power cut or a container that dies whole;
//   - in-process: serve with --embedded-kafka-in-process, the broker inside
//     the killed process;
//   - separate: a hand-started `invsync broker` the kills never touch.
//
// With KAFKA_BROKERS set it runs against that Kafka. CRASH_ROUNDS (default
// 4), CRASH_SCANNERS (8), CRASH_BATCHES (per scanner, 12 a round) and
// CRASH_BATCH_SIZE (20) size it; CRASH_SEED reproduces it (printed).
func TestCrashKill9DuringUploads(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a child process; skipped with -short")
	}
	rounds := envInt(t, "CRASH_ROUNDS", 4)
	scanners := envInt(t, "CRASH_SCANNERS", 8)
	batches := envInt(t, "CRASH_BATCHES", 12*rounds)
	batchSize := envInt(t, "CRASH_BATCH_SIZE", 20)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CRASH_SEED"); s != "" {
		seed = uint64(envInt(t, "CRASH_SEED", 0))
	}
	t.Logf("crash test: seed %d (CRASH_SEED=%d reproduces the workload and kill schedule), %d rounds", seed, seed, rounds)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	bin := buildBinary(t)
	dir := t.TempDir()
	catalogPath := filepath.Join(dir, "catalog.json")
	if err := os.WriteFile(catalogPath, []byte(crashCatalog), 0o644); err != nil {
		t.Fatal(err)
	}
	httpAddr, kafkaAddr := freeAddr(t), freeAddr(t)
	dataDir := filepath.Join(dir, "data")
	prefix, group := randomName("crash")+".", randomName("crash")
	args := []string{"serve", "--data-dir", dataDir, "--http-addr", httpAddr,
		"--embedded-kafka-addr", kafkaAddr, "--partitions", "4", "--topic-prefix", prefix, "--group", group,
		"--session-timeout", "6s", "--catalog", catalogPath, "--log-level", "info",
		"--rate-limit", "0"} // one token sends every request of the test
	if extra := os.Getenv("CRASH_SERVE_ARGS"); extra != "" {
		args = append(args, strings.Fields(extra)...)
	}
	brokers := []string{kafkaAddr}
	mode := os.Getenv("CRASH_MODE")
	if b := externalBrokers(); b != nil {
		mode = "external Kafka " + strings.Join(b, ",")
		args = append(args, "--brokers", strings.Join(b, ","))
		brokers = b
	}
	switch mode {
	case "", "supervised":
		mode = "supervised"
	case "power-cut":
	case "in-process":
		args = append(args, "--embedded-kafka-in-process")
	case "separate":
		bp := &child{t: t, bin: bin, log: filepath.Join(dir, "broker.log"),
			args: []string{"broker", "--data-dir", filepath.Join(dir, "broker"), "--embedded-kafka-addr", kafkaAddr}}
		bp.start()
		t.Cleanup(bp.kill)
		args = append(args, "--brokers", kafkaAddr)
	default:
		if externalBrokers() == nil {
			t.Fatalf("CRASH_MODE=%q is not supervised, power-cut, in-process or separate", mode)
		}
	}
	t.Logf("crash test: mode %s", mode)
	proc := &child{t: t, bin: bin, args: args, log: filepath.Join(dir, "invsync.log"), url: "http://" + httpAddr}
	proc.start()
	// A clean stop at the end stops the supervised broker too; a failed
	// test stops it by its pid.
	t.Cleanup(func() { proc.stop(); stopBroker(dataDir) })
	proc.waitReady(90 * time.Second)
	kill := proc.kill
	if mode == "power-cut" {
		kill = func() { killTogether(t, proc, dataDir) }
	}

	// The workload: scanners each with a backlog in batches, released a
	// round's share at a time (the first at the start, the next after each
	// restart), so that every kill falls while uploads are in flight.
	txs := crashWorkload(rng, scanners, batches, batchSize)
	queues, total := backlogs(txs, scanners)
	perRound := (batches + rounds - 1) / rounds
	var released atomic.Int64
	released.Store(int64(perRound))

	var (
		mu       sync.Mutex
		answered = map[string]string{} // transactionId -> accepted/duplicate
		order    []string              // transactionIds in the order first answered
	)
	ctx, cancel := context.WithCancel(context.Background())
	uploads := &deviceUploads{t: t, client: &http.Client{Timeout: 5 * time.Second}, queues: queues,
		rng:         func(s int) *rand.Rand { return rand.New(rand.NewPCG(seed, uint64(s))) },
		target:      func(*rand.Rand) string { return proc.url },
		retry:       200 * time.Millisecond,
		resendOneIn: 10,
		pause:       func(rng *rand.Rand) time.Duration { return time.Duration(100+rng.IntN(150)) * time.Millisecond },
		released:    func() int { return int(released.Load()) },
		mu:          &mu,
		answer: func(_ string, r api.Result) {
			if _, ok := answered[r.TransactionID]; !ok {
				order = append(order, r.TransactionID)
			}
			answered[r.TransactionID] = string(r.Status)
		}}
	uploads.start(ctx)

	// After each restart, how long until a read_committed reader can
	// reach everything written before it (the last stable offset of every
	// partition at or past the end offset seen at the restart): a
	// transaction the cut left open would hold it back.
	var (
		readableMu sync.Mutex
		readable   []time.Duration
		readableWG sync.WaitGroup
	)
	t.Cleanup(readableWG.Wait) // a failed test ends with none still logging
	readableAfterRestart := func(round int) {
		defer readableWG.Done()
		up := time.Now()
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
		if err != nil {
			t.Logf("round %d: readability not measured: %v", round, err)
			return
		}
		defer cl.Close()
		adm := kadm.NewClient(cl)
		topic := prefix + "inventory-events"
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil || ends.Error() != nil {
			t.Logf("round %d: readability not measured: %v %v", round, err, ends.Error())
			return
		}
		for ctx.Err() == nil {
			stable, err := adm.ListCommittedOffsets(ctx, topic)
			if err == nil && stable.Error() == nil {
				behind := 0
				ends.Each(func(e kadm.ListedOffset) {
					if s, ok := stable.Lookup(topic, e.Partition); !ok || s.Offset < e.Offset {
						behind++
					}
				})
				if behind == 0 {
					d := time.Since(up)
					readableMu.Lock()
					readable = append(readable, d)
					readableMu.Unlock()
					t.Logf("round %d: everything written before the restart readable (read_committed) %s after it", round, d.Round(time.Millisecond))
					return
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("round %d: last stable offset still behind the end offsets seen at the restart after 60 s", round)
		diagnoseTopic(t, brokers, topic)
	}

	// From the kill until a while after the restart, the transactions
	// answered last before the kill (those most likely accepted and not
	// yet applied) are looked up again and again: the answer may be
	// "pending", applied or "not known yet" (503), never 404, which tells
	// the device its accepted scan does not exist. Looking up continuously
	// covers the moment a partition is readable and its input not yet
	// applied, however short.
	notKnownYet := 0
	lookUpAnswered := func(round int, recent []string, stop <-chan struct{}) {
		codes := map[int]int{}
		var wrong string // the first answer other than 200 or 503
		lookups := &http.Client{Timeout: 2 * time.Second}
		for {
			select {
			case <-stop:
				notKnownYet += codes[http.StatusServiceUnavailable]
				t.Logf("round %d: transactions answered before the kill, looked up through the restart: %v by status", round, codes)
				if wrong != "" {
					t.Errorf("round %d: transactions answered before the kill, looked up through the restart, answered other than 200 or 503 (%v by status), first %s",
						round, codes, wrong)
				}
				return
			default:
			}
			for _, id := range recent {
				req, _ := http.NewRequest(http.MethodGet, proc.url+"/v1/transactions/"+id, nil)
				req.Header.Set("Authorization", "Bearer "+testAdminToken)
				resp, err := lookups.Do(req)
				if err != nil {
					time.Sleep(50 * time.Millisecond) // down: nobody answers
					break
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				codes[resp.StatusCode]++
				if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable && wrong == "" {
					wrong = fmt.Sprintf("%s: %d %s", id, resp.StatusCode, bytes.TrimSpace(body))
				}
			}
		}
	}

	downtime := time.Duration(0)
	for round := 0; round < rounds; round++ {
		time.Sleep(time.Duration(200+rng.IntN(1500)) * time.Millisecond)
		mu.Lock()
		recent := append([]string(nil), order[max(len(order)-40, 0):]...)
		mu.Unlock()
		kill()
		down := time.Now()
		stopLookups, lookedUp := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(lookedUp)
			lookUpAnswered(round+1, recent, stopLookups)
		}()
		endLookups := sync.OnceFunc(func() { close(stopLookups); <-lookedUp })
		t.Cleanup(endLookups) // a failed wait ends them too
		time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
		proc.start()
		proc.waitReady(90 * time.Second)
		wasDown := time.Since(down)
		downtime += wasDown
		readableWG.Add(1)
		go readableAfterRestart(round + 1)
		time.Sleep(2 * time.Second) // the processors catch up meanwhile
		endLookups()
		mu.Lock()
		t.Logf("round %d: killed -9 and restarted (%s down); %d/%d answered so far", round+1, wasDown.Round(time.Millisecond), len(answered), total)
		mu.Unlock()
		if round == rounds-1 {
			released.Store(math.MaxInt32) // what resends added, after the last kill
		} else {
			released.Add(int64(perRound))
		}
	}
	select {
	case <-done4uploads(&uploads.wg):
	case <-time.After(3*time.Minute + time.Duration(total/50)*time.Millisecond):
		cancel()
		t.Fatalf("uploads did not finish; %d of %d answered", len(answered), total)
	}
	cancel()
	if len(answered) != total {
		t.Fatalf("%d of %d transactions answered", len(answered), total)
	}

	// Wait until every transaction is applied.
	deadline := time.Now().Add(60 * time.Second)
	for _, b := range txs {
		for _, tx := range b.txs {
			testkit.Eventually(t, time.Until(deadline), func() error {
				var o api.Outcome
				switch code := do(t, "GET", proc.url+"/v1/transactions/"+tx.TransactionID, nil, &o); {
				case code == 200 && o.Status == "applied":
					return nil
				case code == 200 && o.Status == "rejected":
					return fmt.Errorf("%w: %s rejected by the processor: %+v", testkit.ErrStop, tx.TransactionID, o)
				default:
					return testkit.Not("%s not applied: %d %+v", tx.TransactionID, code, o)
				}
			})
		}
	}

	// Positions equal the ledger.
	want := expectedOnHand(txs)
	for key, onHand := range want {
		parts := strings.Split(key, "|")
		var pos api.Positions
		do(t, "GET", fmt.Sprintf("%s/v1/positions?warehouseId=WH-C1&itemId=%s&locationId=%s", proc.url, parts[0], parts[1]), nil, &pos)
		if len(pos.Positions) != 1 || pos.Positions[0].OnHand != onHand {
			t.Errorf("%s: want onHand %d, got %+v", key, onHand, pos.Positions)
		}
	}

	// One event per applied leg, no eventId twice.
	legs := stockEvents(txs)
	readableWG.Wait()
	slowest := time.Duration(0)
	for _, d := range readable {
		slowest = max(slowest, d)
	}
	readStart := time.Now()
	recs := consumeAll(t, brokers, prefix+"inventory-events", legs, 60*time.Second)
	readAll := time.Since(readStart)
	ids := map[string]int{}
	where := map[string][]string{}
	dupIDs := 0
	for _, r := range recs {
		var id string
		ev := decodeEvent(t, proc.url, nil, r.Value)
		id = ev["eventId"].(string)
		ids[id]++
		where[id] = append(where[id], fmt.Sprintf("p%d@%d", r.Partition, r.Offset))
		if ids[id] == 2 {
			dupIDs++
			if dupIDs <= 5 {
				t.Logf("event %s read twice: %v", id, where[id])
			}
		}
	}
	lost := 0
	for _, b := range txs {
		for _, tx := range b.txs {
			names := []string{"evt-" + tx.TransactionID + "-1"}
			if tx.Type == "MOVE" {
				names = []string{"evt-" + tx.TransactionID + "-1", "evt-" + tx.TransactionID + "-2"}
			}
			for _, n := range names {
				if ids[n] == 0 {
					lost++
					if lost <= 5 {
						t.Logf("event %s never read (transaction %s)", n, tx.TransactionID)
					}
				}
			}
		}
	}
	t.Logf("crash test: mode=%s rounds=%d kills=%d transactions=%d requests=%d failed_requests=%d events=%d lost=%d duplicated=%d downtime=%s readable_after_restart_max=%s (%d of %d restarts measured) read_all=%s not_known_yet_after_restart=%d",
		mode, rounds, rounds, total, uploads.sends, uploads.failures, len(recs), lost, dupIDs, downtime.Round(time.Millisecond),
		slowest.Round(time.Millisecond), len(readable), rounds, readAll.Round(time.Millisecond), notKnownYet)
	if len(recs) != legs || lost != 0 || dupIDs != 0 {
		t.Errorf("events: got %d, want %d; lost %d, duplicated %d", len(recs), legs, lost, dupIDs)
		diagnoseTopic(t, brokers, prefix+"inventory-events")
	}
	if t.Failed() {
		proc.dumpLog()
	}
}

// diagnoseTopic logs, per partition, the end offset, the last stable
// offset (what a read_committed consumer can reach) and the producers with
// an open transaction, to tell a stalled consumer from a lost event.
func diagnoseTopic(t *testing.T, brokers []string, topic string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hwm, _ := adm.ListEndOffsets(ctx, topic)
	lso, _ := adm.ListCommittedOffsets(ctx, topic)
	prods, perr := adm.DescribeProducers(ctx, kadm.TopicsSet{topic: {}})
	hwm.Each(func(h kadm.ListedOffset) {
		l, _ := lso.Lookup(topic, h.Partition)
		line := fmt.Sprintf("diagnosis %s[%d]: end %d, last stable %d", topic, h.Partition, h.Offset, l.Offset)
		if perr == nil {
			if pp, ok := prods[topic].Partitions[h.Partition]; ok {
				for _, p := range pp.ActiveProducers {
					if p.CurrentTxnStartOffset >= 0 {
						line += fmt.Sprintf("; open transaction of producer %d epoch %d from offset %d (last write %s ago)",
							p.ProducerID, p.ProducerEpoch, p.CurrentTxnStartOffset, time.Since(time.UnixMilli(p.LastTimestamp)).Round(time.Second))
					}
				}
			}
		}
		t.Log(line)
	})
	for _, iso := range []kgo.IsolationLevel{kgo.ReadCommitted(), kgo.ReadUncommitted()} {
		c, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(iso),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			return
		}
		reached := map[int32]int64{}
		count := map[int32]int{}
		rctx, rcancel := context.WithTimeout(context.Background(), 15*time.Second)
		for rctx.Err() == nil {
			f := c.PollFetches(rctx)
			f.EachError(func(_ string, p int32, err error) {
				if rctx.Err() == nil {
					t.Logf("diagnosis: fetch error on partition %d: %v", p, err)
				}
			})
			f.EachRecord(func(r *kgo.Record) { reached[r.Partition] = r.Offset; count[r.Partition]++ })
		}
		rcancel()
		c.Close()
		t.Logf("diagnosis (%v): last offset read per partition %v, records %v", iso, reached, count)
	}
}

const crashCatalog = `{
  "warehouses": [{"warehouseId": "WH-C1", "locations": ["L1", "L2", "L3", "L4"]}],
  "items": [{"itemId": "C-1"}, {"itemId": "C-2"}, {"itemId": "C-3"}, {"itemId": "C-4"}, {"itemId": "C-5"}, {"itemId": "C-6"},
            {"itemId": "C-7", "lotTracked": true, "abcClass": "A"}]
}`

type crashBatch struct {
	scanner int
	txs     []api.Transaction
}

// crashMix is the crash and chaos workloads' mix of transaction types.
var crashMix = txMix{receipts: 7, picks: 14, adjustments: 16, moves: 18,
	maxReceipt: 50, maxPick: 20, maxMove: 10, zeroAdjustment: 3}

// crashWorkload makes scanners×batches×size transactions of all five types
// with distinct device times at least a second apart, so the small clock
// correction of each send never reorders them.
func crashWorkload(rng *rand.Rand, scanners, batches, size int) []crashBatch {
	base := time.Now().Add(-time.Duration(scanners*batches*size)*time.Second - time.Hour).Truncate(time.Second)
	locs := []string{"L1", "L2", "L3", "L4"}
	var out []crashBatch
	n := 0
	for b := 0; b < batches; b++ {
		for s := 0; s < scanners; s++ {
			cb := crashBatch{scanner: s}
			for i := 0; i < size; i++ {
				n++
				tx := api.Transaction{
					TransactionID: fmt.Sprintf("crash-%d-%06d", s, n),
					Timestamp:     base.Add(time.Duration(n) * time.Second).Format(time.RFC3339Nano),
					WarehouseID:   "WH-C1",
					ItemID:        fmt.Sprintf("C-%d", 1+rng.IntN(6)),
					LocationID:    locs[rng.IntN(len(locs))],
				}
				crashMix.draw(rng, &tx, locs)
				cb.txs = append(cb.txs, tx)
			}
			out = append(out, cb)
		}
	}
	return out
}

// backlogs deals the batches out to the scanners' queues, in order, and
// counts their transactions.
func backlogs(batches []crashBatch, scanners int) (queues [][][]api.Transaction, total int) {
	queues = make([][][]api.Transaction, scanners)
	for _, b := range batches {
		queues[b.scanner] = append(queues[b.scanner], b.txs)
		total += len(b.txs)
	}
	return queues, total
}

// deviceUploads uploads every scanner's backlog (queues, as backlogs deals
// them) as devices do, one goroutine a scanner, until the queues are empty
// or ctx ends: a batch whose request fails stays first in its queue and is
// sent again after retry; an answered batch is, one time in resendOneIn,
// sent again later (the device lost the answer on its side); between
// batches a scanner waits pause. Every result must be for its batch's
// transaction, accepted or duplicate.
type deviceUploads struct {
	t           *testing.T
	client      *http.Client
	queues      [][][]api.Transaction
	rng         func(scanner int) *rand.Rand // a scanner's choices: target, resends, pauses
	target      func(rng *rand.Rand) string  // the server a request goes to
	retry       time.Duration
	resendOneIn int
	pause       func(rng *rand.Rand) time.Duration
	// released, when set, is how many batches each scanner may have had
	// answered by now: a scanner that has had that many waits for more,
	// so the load is spread over the test's faults. Nil releases all.
	released func() int

	// mu guards what the test reads while the uploads run: answer is
	// called under it with every result, and the counts are kept under it.
	mu                       *sync.Mutex
	answer                   func(url string, r api.Result)
	sends, failures, resends int

	wg sync.WaitGroup // one a scanner, done when its queue is
}

func (u *deviceUploads) start(ctx context.Context) {
	for s := range u.queues {
		rng := u.rng(s)
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			u.run(ctx, s, rng)
		}()
	}
}

func (u *deviceUploads) run(ctx context.Context, s int, rng *rand.Rand) {
	queue := u.queues[s]
	done := 0 // batches answered, resends included
	for len(queue) > 0 && ctx.Err() == nil {
		if u.released != nil && done >= u.released() {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		batch := queue[0]
		url := u.target(rng)
		res, err := send(u.client, url, fmt.Sprintf("SCANNER-%02d", s), batch)
		u.mu.Lock()
		u.sends++
		if err != nil {
			u.failures++
			u.mu.Unlock()
			time.Sleep(u.retry) // offline: keep the queue, retry
			continue
		}
		for i, r := range res.Results {
			if r.TransactionID != batch[i].TransactionID || (r.Status != "accepted" && r.Status != "duplicate") {
				u.t.Errorf("scanner %d: unexpected result %s %s %s for %s", s, r.TransactionID, r.Status, deref(r.Code)+": "+deref(r.Message), batch[i].TransactionID)
			}
			u.answer(url, r)
		}
		queue = queue[1:]
		done++
		if rng.IntN(u.resendOneIn) == 0 {
			queue = append(queue, batch)
			u.resends++
		}
		u.mu.Unlock()
		time.Sleep(u.pause(rng))
	}
}

// done4uploads is closed once every scanner has uploaded its backlog.
func done4uploads(wg *sync.WaitGroup) <-chan struct{} {
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	return ch
}

// stockEvents is how many inventory events the batches make once applied:
// one a transaction, two a MOVE (its two legs).
func stockEvents(batches []crashBatch) int {
	n := 0
	for _, b := range batches {
		for _, tx := range b.txs {
			n++
			if tx.Type == "MOVE" {
				n++
			}
		}
	}
	return n
}

// expectedOnHand recomputes every record's onHand from the spec's rules: the
// latest count plus the deltas after it, or the sum of all deltas.
func expectedOnHand(batches []crashBatch) map[string]int64 {
	type entry struct {
		at    time.Time
		delta int64
		count *int64
	}
	ledger := map[string][]entry{}
	for _, b := range batches {
		for _, tx := range b.txs {
			at, _ := time.Parse(time.RFC3339Nano, tx.Timestamp)
			key := tx.ItemID + "|" + tx.LocationID
			switch tx.Type {
			case "RECEIPT", "ADJUSTMENT":
				ledger[key] = append(ledger[key], entry{at: at, delta: tx.Quantity})
			case "PICK":
				ledger[key] = append(ledger[key], entry{at: at, delta: -tx.Quantity})
			case "MOVE":
				ledger[key] = append(ledger[key], entry{at: at, delta: -tx.Quantity})
				to := tx.ItemID + "|" + tx.ToLocationID
				ledger[to] = append(ledger[to], entry{at: at, delta: tx.Quantity})
			case "CYCLE_COUNT":
				q := tx.Quantity
				ledger[key] = append(ledger[key], entry{at: at, count: &q})
			}
		}
	}
	out := map[string]int64{}
	for key, es := range ledger {
		sort.Slice(es, func(i, j int) bool { return es[i].at.Before(es[j].at) })
		var v int64
		for _, e := range es {
			if e.count != nil {
				v = *e.count
			} else {
				v += e.delta
			}
		}
		out[key] = v
	}
	return out
}

func send(c *http.Client, base, scanner string, txs []api.Transaction) (api.UploadResponse, error) {
	body, _ := json.Marshal(api.UploadRequest{ScannerID: scanner, SentAt: time.Now().UTC().Format(time.RFC3339Nano), Transactions: txs})
	req, err := http.NewRequest(http.MethodPost, base+"/v1/transactions", bytes.NewReader(body))
	if err != nil {
		return api.UploadResponse{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := c.Do(req)
	if err != nil {
		return api.UploadResponse{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return api.UploadResponse{}, fmt.Errorf("status %d", resp.StatusCode)
	}
	var out api.UploadResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return api.UploadResponse{}, err
	}
	return out, nil
}

// child is an invsync process the test can kill -9 and restart, with the
// tests' admin token.
type child struct {
	t    *testing.T
	bin  string
	args []string
	log  string
	url  string
	once sync.Once
	p    testkit.Process
}

func (c *child) proc() *testkit.Process {
	c.once.Do(func() {
		c.p = testkit.Process{Bin: c.bin, Args: c.args, Log: c.log, Env: []string{"INVSYNC_ADMIN_TOKEN=" + testAdminToken}}
	})
	return &c.p
}

func (c *child) start() {
	c.t.Helper()
	c.proc().Start(c.t)
}

// kill kill -9s the process and waits for it.
func (c *child) kill() { c.proc().Kill() }

// stop ends the process cleanly (SIGTERM), killing it after 30 s.
func (c *child) stop() { c.proc().Stop() }

// signal sends sig without waiting.
func (c *child) signal(sig syscall.Signal) { c.proc().Signal(sig, 0) }

// brokerPID reads the pid of the broker process serve supervises.
func brokerPID(dataDir string) int {
	b, err := os.ReadFile(filepath.Join(dataDir, "kafka", "broker.json"))
	if err != nil {
		return 0
	}
	var st struct {
		PID int `json:"pid"`
	}
	_ = json.Unmarshal(b, &st)
	return st.PID
}

// killTogether kill -9s serve and its broker process at the same moment.
func killTogether(t *testing.T, proc *child, dataDir string) {
	t.Helper()
	if pid := brokerPID(dataDir); pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	} else {
		t.Logf("power cut: no broker pid found in %s", dataDir)
	}
	proc.kill()
}

// stopBroker stops a supervised broker left running (SIGTERM; it flushes
// and exits).
func stopBroker(dataDir string) {
	pid := brokerPID(dataDir)
	if pid <= 0 {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	// Wait for it to be gone before the test's TempDir is removed under
	// it (it writes its log and state while stopping); SIGKILL after 20 s.
	gone := testkit.True(func() bool { return !testkit.Alive(pid) }, "running")
	if testkit.Within(20*time.Second, gone) != nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		_ = testkit.Within(5*time.Second, gone)
	}
}

func (c *child) waitReady(timeout time.Duration) {
	c.t.Helper()
	if err := testkit.Within(timeout, testkit.Ready(nil, c.url)); err != nil {
		c.dumpLog()
		c.t.Fatalf("invsync not ready: %v", err)
	}
}

func (c *child) dumpLog() {
	c.t.Logf("last lines of the invsync log:\n%s", testkit.TailFile(c.log, 60))
}

// servedChild is an `invsync serve` child process started by serveChild.
type servedChild struct {
	*child
	prefix  string   // the prefix of its topics
	brokers []string // the brokers its topics are on
}

// serveChild starts `invsync serve` as a child process with its data in
// dir/data, on its own embedded broker (or on the external brokers when
// set), with partitions partitions, a fresh topic prefix and consumer group
// named after name, and flags added to these; it is stopped, and its broker
// with it, when the test ends. It returns once the process is ready.
func serveChild(t *testing.T, dir, name string, partitions int, flags ...string) servedChild {
	t.Helper()
	httpAddr, kafkaAddr := freeAddr(t), freeAddr(t)
	dataDir := filepath.Join(dir, "data")
	prefix := randomName(name) + "."
	args := []string{"serve", "--data-dir", dataDir, "--http-addr", httpAddr, "--embedded-kafka-addr", kafkaAddr,
		"--partitions", strconv.Itoa(partitions), "--topic-prefix", prefix, "--group", randomName(name),
		"--log-level", "info", "--rate-limit", "0"}
	brokers := []string{kafkaAddr}
	if b := externalBrokers(); b != nil {
		args = append(args, "--brokers", strings.Join(b, ","))
		brokers = b
	}
	proc := &child{t: t, bin: buildBinary(t), args: append(args, flags...), log: filepath.Join(dir, "invsync.log"), url: "http://" + httpAddr}
	proc.start()
	t.Cleanup(func() { proc.stop(); stopBroker(dataDir) })
	proc.waitReady(90 * time.Second)
	return servedChild{child: proc, prefix: prefix, brokers: brokers}
}

// buildBinary compiles the invsync command once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	return testkit.Build(t, "./cmd/invsync")
}

func freeAddr(t *testing.T) string { return testkit.FreeAddr(t) }

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%q: not a number", name, v)
	}
	return n
}

func deref[S ~string](s *S) string {
	if s == nil {
		return ""
	}
	return string(*s)
}
