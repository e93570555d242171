package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/internal/testkit"
)

// TestChaos is the chaos suite (make chaos; a short round in CI): three
// `invsync serve` processes (of one, two and three transactional sessions)
// in one consumer group on one broker, a scanner
// fleet uploading offline backlogs to whichever instance answers (resending
// what got no answer, sometimes twice), and faults at random moments:
// kill -9 of an instance, SIGSTOP past the session timeout then SIGCONT (a
// zombie that must not commit anything when it wakes), and with
// CHAOS_BROKER_KILLS=1 kill -9 of the broker: the `invsync broker` process,
// or the Apache Kafka that CHAOS_KAFKA_CTL (scripts/kafka.sh) runs. Afterwards
// every instance's positions must equal the ledger, the events topic
// (read_committed) must hold each applied change exactly once, and every
// allocation invariant must hold.
//
// CHAOS=1 enables it; CHAOS_ROUNDS (default 12) faults; CHAOS_SEED
// reproduces a run.
func TestChaos(t *testing.T) {
	if os.Getenv("CHAOS") != "1" {
		t.Skip("chaos suite: set CHAOS=1 (make chaos) to run it")
	}
	rounds := envInt(t, "CHAOS_ROUNDS", 12)
	seed := uint64(time.Now().UnixNano())
	if os.Getenv("CHAOS_SEED") != "" {
		seed = uint64(envInt(t, "CHAOS_SEED", 0))
	}
	brokerKills := os.Getenv("CHAOS_BROKER_KILLS") == "1"
	t.Logf("chaos: seed %d (CHAOS_SEED=%d reproduces it), %d faults, broker kills %v", seed, seed, rounds, brokerKills)
	rng := rand.New(rand.NewPCG(seed, 7))

	bin := buildBinary(t)
	dir := t.TempDir()
	logDir := dir
	if d := os.Getenv("CHAOS_LOG_DIR"); d != "" { // keep the processes' logs after the run
		logDir = d
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	catalogPath := filepath.Join(dir, "catalog.json")
	if err := os.WriteFile(catalogPath, []byte(crashCatalog), 0o644); err != nil {
		t.Fatal(err)
	}
	prefix, group := randomName("chaos")+".", randomName("chaos")
	brokers := externalBrokers()
	var broker *child
	if brokers == nil {
		addr := freeAddr(t)
		broker = &child{t: t, bin: bin, log: filepath.Join(logDir, "broker.log"),
			args: []string{"broker", "--data-dir", filepath.Join(dir, "broker"), "--embedded-kafka-addr", addr}}
		broker.start()
		t.Cleanup(broker.kill)
		brokers = []string{addr}
	} else if brokerKills && os.Getenv("CHAOS_KAFKA_CTL") == "" {
		t.Fatal("CHAOS_BROKER_KILLS with KAFKA_BROKERS needs CHAOS_KAFKA_CTL, the path of scripts/kafka.sh that runs that broker (make chaos-kafka sets it)")
	}
	logLevel := "info"
	if l := os.Getenv("CHAOS_LOG_LEVEL"); l != "" { // debug: every poll's offsets and the Kafka client's own log
		logLevel = l
	}
	var insts []*child
	for i := 0; i < 3; i++ {
		httpAddr := freeAddr(t)
		c := &child{t: t, bin: bin, log: filepath.Join(logDir, fmt.Sprintf("invsync-%d.log", i)), url: "http://" + httpAddr,
			args: []string{"serve", "--data-dir", filepath.Join(dir, fmt.Sprintf("data-%d", i)), "--http-addr", httpAddr,
				"--brokers", strings.Join(brokers, ","), "--partitions", "6", "--topic-prefix", prefix, "--group", group,
				"--session-timeout", "6s", "--catalog", catalogPath, "--log-level", logLevel, "--rate-limit", "0",
				"--snapshot-interval", chaosSnapshotInterval.String(),
				// One, two and three transactional sessions: the group
				// mixes instances of each kind, and a kill takes several
				// members down at once.
				"--processor-sessions", strconv.Itoa(i + 1)}}
		c.start()
		t.Cleanup(c.kill)
		insts = append(insts, c)
	}
	for _, c := range insts {
		c.waitReady(90 * time.Second)
	}

	txs := crashWorkload(rng, 8, 10*rounds, 20)
	queues, total := backlogs(txs, 8)
	var (
		mu        sync.Mutex
		answered  = map[string]bool{}
		answerers = map[string][]string{} // transactionId → "status@instance time" of every answer
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	uploads := &deviceUploads{t: t, client: &http.Client{Timeout: 5 * time.Second}, queues: queues,
		rng:         func(s int) *rand.Rand { return rand.New(rand.NewPCG(seed, uint64(100+s))) },
		target:      func(rng *rand.Rand) string { return insts[rng.IntN(len(insts))].url },
		retry:       100 * time.Millisecond,
		resendOneIn: 8,
		pause:       func(rng *rand.Rand) time.Duration { return time.Duration(400+rng.IntN(600)) * time.Millisecond },
		mu:          &mu,
		answer: func(url string, r api.Result) {
			answered[r.TransactionID] = true
			answerers[r.TransactionID] = append(answerers[r.TransactionID], string(r.Status)+"@"+url+" "+time.Now().Format("15:04:05.000"))
		}}
	uploads.start(ctx)

	// The cloud allocates and cancels while the scanners upload and the
	// faults happen (HTTP door, any instance, retried until answered).
	allocs := &chaosAllocs{}
	allocDone := make(chan struct{})
	go func() {
		defer close(allocDone)
		arng := rand.New(rand.NewPCG(seed, 999))
		for n := 0; ctx.Err() == nil; n++ {
			select {
			case <-done4uploads(&uploads.wg):
				return
			case <-time.After(time.Duration(100+arng.IntN(200)) * time.Millisecond):
			}
			target := insts[arng.IntN(len(insts))]
			if n%5 == 4 {
				if id, ok := allocs.pickDecided(arng); ok {
					for attempt := 0; attempt < 50 && ctx.Err() == nil; attempt++ {
						code := doQuiet("DELETE", target.url+"/v1/allocations/"+id, nil, nil)
						if code == 200 {
							break
						}
						time.Sleep(200 * time.Millisecond)
						target = insts[arng.IntN(len(insts))]
					}
				}
				continue
			}
			body := map[string]any{"allocationId": fmt.Sprintf("CH-A-%d", n), "orderId": fmt.Sprintf("CH-O-%d", n%20),
				"orderLine": 1, "warehouseId": "WH-C1", "itemId": fmt.Sprintf("C-%d", 1+arng.IntN(5)),
				"quantity": 1 + arng.IntN(30), "allowPartial": arng.IntN(2) == 0}
			for attempt := 0; attempt < 50 && ctx.Err() == nil; attempt++ {
				var a api.Allocation
				code := doQuiet("POST", target.url+"/v1/allocations?wait=decided", body, &a)
				if code == 200 || code == 202 {
					allocs.add(body["allocationId"].(string), code == 200 && a.Status != "TENTATIVE")
					break
				}
				time.Sleep(200 * time.Millisecond)
				target = insts[arng.IntN(len(insts))]
			}
		}
	}()

	// The cloud reports and a supervisor resolves; counts are held and
	// approved.
	recon := newChaosRecon()
	reconDone := make(chan struct{})
	go func() {
		defer close(reconDone)
		recon.run(seed, insts, done4uploads(&uploads.wg), ctx.Done())
	}()

	// Faults.
	faults := map[string]int{}
	var recovery []time.Duration
	probe := 0
	for round := 0; round < rounds; round++ {
		time.Sleep(time.Duration(500+rng.IntN(1500)) * time.Millisecond)
		kinds := []string{"kill-instance", "pause-instance"}
		if brokerKills {
			kinds = append(kinds, "kill-broker")
		}
		kind := kinds[rng.IntN(len(kinds))]
		victim := insts[rng.IntN(len(insts))]
		began := time.Now()
		switch kind {
		case "kill-instance":
			victim.kill()
			time.Sleep(time.Duration(rng.IntN(1000)) * time.Millisecond)
			victim.start()
		case "pause-instance":
			victim.signal(syscall.SIGSTOP)
			time.Sleep(8 * time.Second) // past the 6 s session timeout
			victim.signal(syscall.SIGCONT)
		case "kill-broker":
			if broker != nil {
				broker.kill()
				time.Sleep(time.Duration(rng.IntN(1000)) * time.Millisecond)
				broker.start()
				break
			}
			// An Apache Kafka run by scripts/kafka.sh: kill -9, restart.
			ctl := os.Getenv("CHAOS_KAFKA_CTL")
			if out, err := exec.Command("bash", ctl, "kill9").CombinedOutput(); err != nil {
				t.Fatalf("killing the Kafka broker: %v\n%s", err, out)
			}
			time.Sleep(time.Duration(rng.IntN(1000)) * time.Millisecond)
			if out, err := exec.Command("bash", ctl, "up").CombinedOutput(); err != nil {
				t.Fatalf("restarting the Kafka broker: %v\n%s", err, out)
			}
		}
		faults[kind]++
		for _, c := range insts {
			c.waitReady(120 * time.Second)
		}
		// Recovered once a probe scan is applied end to end.
		probe++
		for {
			var res api.UploadResponse
			tx := api.Transaction{TransactionID: fmt.Sprintf("probe-%d", probe), Type: "RECEIPT", Timestamp: time.Now().UTC().Format(time.RFC3339Nano),
				WarehouseID: "WH-C1", ItemID: "C-6", LocationID: "L4", Quantity: 1}
			code := do(t, "POST", insts[rng.IntN(len(insts))].url+"/v1/transactions?wait=applied",
				api.UploadRequest{ScannerID: "PROBE", SentAt: time.Now().UTC().Format(time.RFC3339Nano), Transactions: []api.Transaction{tx}}, &res)
			if code == 200 && res.Results[0].Outcome != nil && res.Results[0].Outcome.Status == "applied" {
				break
			}
			if time.Since(began) > 3*time.Minute {
				t.Fatalf("round %d (%s): not recovered after 3 minutes", round+1, kind)
			}
			time.Sleep(100 * time.Millisecond)
		}
		recovery = append(recovery, time.Since(began))
		mu.Lock()
		t.Logf("fault %d: %s of %s, recovered in %s; %d/%d answered", round+1, kind, victim.url, time.Since(began).Round(time.Millisecond), len(answered), total)
		mu.Unlock()
	}
	select {
	case <-done4uploads(&uploads.wg):
	case <-time.After(5 * time.Minute):
		cancel()
		t.Fatalf("uploads did not finish")
	}
	if len(answered) != total {
		t.Fatalf("%d of %d answered", len(answered), total)
	}

	// Verify: every transaction applied, positions on every instance
	// equal the ledger (plus the probes), events exactly once.
	deadline := time.Now().Add(2 * time.Minute)
	stuck := 0
	for _, b := range txs {
		for _, tx := range b.txs {
			var o api.Outcome
			var code int
			if testkit.Within(time.Until(deadline), testkit.True(func() bool {
				code = do(t, "GET", insts[0].url+"/v1/transactions/"+tx.TransactionID, nil, &o)
				return code == 200 && o.Status == "applied"
			}, "not applied")) != nil {
				stuck++
				t.Errorf("%s (stock key WH-C1/%s) not applied: %d %+v; answers: %v", tx.TransactionID, tx.ItemID, code, o, answerers[tx.TransactionID])
				for _, c := range insts {
					var o2 api.Outcome
					code := doQuiet("GET", c.url+"/v1/transactions/"+tx.TransactionID, nil, &o2)
					t.Logf("diagnose %s: %s answers %d %+v", tx.TransactionID, c.url, code, o2)
				}
				diagnoseStuck(t, brokers, prefix, group, tx.TransactionID)
			}
		}
	}
	if stuck > 0 {
		for _, c := range insts {
			c.dumpLog()
		}
		t.FailNow()
	}
	want := expectedOnHand(txs)
	wrong := 0
	for _, c := range insts {
		for key, onHand := range want {
			parts := strings.Split(key, "|")
			var pos api.Positions
			do(t, "GET", fmt.Sprintf("%s/v1/positions?warehouseId=WH-C1&itemId=%s&locationId=%s", c.url, parts[0], parts[1]), nil, &pos)
			got := int64(0)
			for _, p := range pos.Positions {
				got += p.OnHand
			}
			if parts[0] == "C-6" && parts[1] == "L4" {
				continue // probes land here too; counted below
			}
			if got != onHand {
				wrong++
				if wrong <= 5 {
					t.Errorf("%s on %s: want %d, got %+v", key, c.url, onHand, pos.Positions)
				}
			}
		}
	}
	<-allocDone
	<-reconDone
	allocIssues := allocs.verify(t, insts[0].url, insts)
	reconLost, reconDoubled := recon.verify(t, insts)
	snapParts := verifySnapshots(t, brokers, prefix, insts[0].url)
	legs := probe + recon.stockEvents() + stockEvents(txs)
	// Every event once; the stock changes (not the reservation and
	// correction events, which carry no quantity) one per leg.
	recs := consumeUntilQuiet(t, brokers, prefix+"inventory-events", legs, 3*time.Second, 2*time.Minute)
	ids := map[string]int{}
	dup, stock := 0, 0
	for _, r := range recs {
		e := decodeEvent(t, insts[0].url, nil, r.Value)
		id := e["eventId"].(string)
		ids[id]++
		if ids[id] == 2 {
			dup++
		}
		if typ, _ := e["eventType"].(string); typ != "InventoryReservation" && typ != "ReconciliationCorrection" && ids[id] == 1 {
			stock++
		}
	}
	lost := 0
	for _, b := range txs {
		for _, tx := range b.txs {
			n := 1
			if tx.Type == "MOVE" {
				n = 2
			}
			for leg := 1; leg <= n; leg++ {
				if ids[fmt.Sprintf("evt-%s-%d", tx.TransactionID, leg)] == 0 {
					lost++
				}
			}
		}
	}
	slices.Sort(recovery)
	pct := func(q float64) time.Duration {
		if len(recovery) == 0 {
			return 0
		}
		return recovery[min(len(recovery)-1, int(q*float64(len(recovery))))].Round(time.Millisecond)
	}
	var kinds []string
	for k, n := range faults {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
	}
	slices.Sort(kinds)
	line := fmt.Sprintf("chaos: seed=%d rounds=%d faults{%s} transactions=%d requests=%d failed_requests=%d resends=%d events=%d lost=%d duplicated=%d wrong_positions=%d recovery_p50=%s recovery_p99=%s snapshot_parts=%d",
		seed, rounds, strings.Join(kinds, ","), total, uploads.sends, uploads.failures, uploads.resends, len(recs), lost, dup, wrong, pct(0.5), pct(0.99), snapParts)
	t.Log(line)
	fmt.Println(line)
	t.Logf("chaos: allocations=%d (answered), invariant violations=%d", allocs.count(), allocIssues)
	if allocIssues != 0 {
		t.Errorf("allocation invariants violated %d times", allocIssues)
	}
	if lost != 0 || dup != 0 || wrong != 0 || stock != legs {
		t.Errorf("chaos found lost=%d duplicated=%d wrong positions=%d (stock events %d, want %d)", lost, dup, wrong, stock, legs)
	}
	if reconLost != 0 || reconDoubled != 0 {
		t.Errorf("chaos found reconciliation inputs lost=%d doubled=%d", reconLost, reconDoubled)
	}
	if t.Failed() {
		for _, c := range insts {
			c.dumpLog()
		}
	}
}

// chaosAllocs remembers every allocation the cloud was answered for.
type chaosAllocs struct {
	mu      sync.Mutex
	ids     []string
	decided map[string]bool
}

func (c *chaosAllocs) add(id string, decided bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.decided == nil {
		c.decided = map[string]bool{}
	}
	if _, seen := c.decided[id]; !seen {
		c.ids = append(c.ids, id)
	}
	c.decided[id] = c.decided[id] || decided
}

func (c *chaosAllocs) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ids)
}

// pickDecided picks a decided allocation to cancel.
func (c *chaosAllocs) pickDecided(rng *rand.Rand) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var cands []string
	for _, id := range c.ids {
		if c.decided[id] {
			cands = append(cands, id)
		}
	}
	if len(cands) == 0 {
		return "", false
	}
	return cands[rng.IntN(len(cands))], true
}

// verify checks every answered allocation exists and is decided, each
// allocation's invariants, and that every record's allocated equals what the
// active allocations reserve there, never above max(onHand, 0), on every
// instance. It returns the number of violations.
func (c *chaosAllocs) verify(t *testing.T, url string, insts []*child) int {
	t.Helper()
	c.mu.Lock()
	ids := append([]string(nil), c.ids...)
	c.mu.Unlock()
	bad := 0
	report := func(format string, args ...any) {
		bad++
		if bad <= 10 {
			t.Errorf(format, args...)
		}
	}
	reserved := map[string]int64{} // item|loc -> sum of active lines
	deadline := time.Now().Add(time.Minute)
	for _, id := range ids {
		var a api.Allocation
		var code int
		if testkit.Within(time.Until(deadline), testkit.True(func() bool {
			code = doQuiet("GET", url+"/v1/allocations/"+id, nil, &a)
			return code == 200 && a.Status != "TENTATIVE"
		}, "not decided")) != nil {
			report("allocation %s answered but not decided: %d %+v", id, code, a)
		}
		var lines int64
		for _, l := range a.Lines {
			lines += l.Quantity
		}
		switch a.Status {
		case "CONFIRMED", "PARTIAL":
			if lines != a.ConfirmedQuantity-a.PickedQuantity || a.ConfirmedQuantity+a.BackorderQuantity != a.RequestedQuantity {
				report("allocation %s: lines %d, confirmed %d, picked %d, backorder %d, requested %d", id, lines, a.ConfirmedQuantity, a.PickedQuantity, a.BackorderQuantity, a.RequestedQuantity)
			}
			for _, l := range a.Lines {
				reserved[a.ItemID+"|"+l.LocationID] += l.Quantity
			}
		case "REJECTED", "CANCELLED", "EXPIRED", "FULFILLED":
			if lines != 0 {
				report("allocation %s is %s but still reserves %d", id, a.Status, lines)
			}
		}
	}
	for _, in := range insts {
		for i := 1; i <= 5; i++ {
			item := fmt.Sprintf("C-%d", i)
			var pos api.Positions
			doQuiet("GET", fmt.Sprintf("%s/v1/positions?warehouseId=WH-C1&itemId=%s", in.url, item), nil, &pos)
			for _, p := range pos.Positions {
				if p.Allocated != reserved[item+"|"+p.LocationID] || p.Allocated > max(p.OnHand, 0) || p.Available != p.OnHand-p.Allocated {
					report("%s %s on %s: onHand %d allocated %d available %d, active lines reserve %d", item, p.LocationID, in.url,
						p.OnHand, p.Allocated, p.Available, reserved[item+"|"+p.LocationID])
				}
			}
		}
	}
	return bad
}

// doQuiet is do without failing the test on a transport error (an instance
// may be down during chaos); it returns 0 then.
func doQuiet(method, url string, body any, out any) int {
	return doWithin(12*time.Second, method, url, "", body, out)
}

// doWithin sends body (none when nil) as JSON with the admin token and,
// when key is not empty, an Idempotency-Key; it decodes the answer into out
// and returns its status, or 0 on a transport error or past timeout.
func doWithin(timeout time.Duration, method, url, key string, body any, out any) int {
	var data []byte
	if body != nil {
		data, _ = json.Marshal(body)
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(data))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// diagnoseStuck logs where a transaction that was never applied is in
// Kafka: its record in the transactions topic (read_uncommitted and
// read_committed) and the group's committed offset of that partition.
func diagnoseStuck(t *testing.T, brokers []string, prefix, group, txid string) {
	t.Helper()
	for _, iso := range []kgo.IsolationLevel{kgo.ReadUncommitted(), kgo.ReadCommitted()} {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(prefix+"transactions"),
			kgo.FetchIsolationLevel(iso), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Log(err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		found := false
		for ctx.Err() == nil && !found {
			f := cl.PollFetches(ctx)
			f.EachRecord(func(r *kgo.Record) {
				if bytes.Contains(r.Value, []byte(txid)) {
					found = true
					t.Logf("diagnose %s: isolation %v: in %s partition %d offset %d, written %s", txid, iso, r.Topic, r.Partition, r.Offset, r.Timestamp.Format("15:04:05.000"))
				}
			})
		}
		if !found {
			t.Logf("diagnose %s: isolation %v: not in the transactions topic", txid, iso)
		}
		cancel()
		cl.Close()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return
	}
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(context.Background(), group)
	if err != nil {
		t.Logf("diagnose: fetching group offsets: %v", err)
		return
	}
	offs.Each(func(o kadm.OffsetResponse) {
		t.Logf("diagnose: group %s committed %s/%d at %d", group, o.Topic, o.Partition, o.At)
	})
}
