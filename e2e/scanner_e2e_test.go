package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/scanner"
)

// End-to-end tests of the scanner side against the real server, as a
// warehouse would run it: a scanner.Device uploading through a link that
// drops and delays connections, `invsync scanner` killed -9 mid-sync and
// restarted, a device outliving kill -9 of `invsync serve`, and the exit
// codes of `invsync scanner --once`. Each test keeps a ledger of the scans
// the device acknowledged as queued and holds the server to it (checkServer):
// every scan applied, once.
//
// The browser tests (browser_e2e_test.go) use the same ledger and check.

// e2eWarehouse is the demo catalog's first warehouse. Every test scans
// demo items no other test of the same server touches, so the positions of
// those items are its ledger's alone.
const e2eWarehouse = "WH-001"

// e2eScan is one scan a device acknowledged as queued.
type e2eScan struct {
	id                  string
	item, location, lot string
	qty                 int64 // every ledger scan is a RECEIPT
}

// e2eLedger collects acknowledged scans. Safe for concurrent use.
type e2eLedger struct {
	mu    sync.Mutex
	scans []e2eScan
}

func (l *e2eLedger) add(s ...e2eScan) {
	l.mu.Lock()
	l.scans = append(l.scans, s...)
	l.mu.Unlock()
}

// scanAll queues scans on d, as an operator scans them, and records each
// with what d answered; it fails the test if d refuses them.
func (l *e2eLedger) scanAll(t *testing.T, ctx context.Context, d *scanner.Device, scans []scanner.Scan) {
	t.Helper()
	qs, err := d.ScanAll(ctx, scans)
	if err != nil {
		t.Fatal(err)
	}
	l.add(ledgerOf(scans, qs)...)
}

func (l *e2eLedger) all() []e2eScan {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]e2eScan(nil), l.scans...)
}

// e2eFigures are what a run reports. lost: acknowledged scans never
// applied, or applied without an event; doubled: scans with more than one
// stock-change event; wrongRecords: stock records whose onHand is not the
// ledger's sum or whose version is not its count of scans.
type e2eFigures struct {
	scans, lost, doubled, wrongRecords int
}

func (f e2eFigures) String() string {
	return fmt.Sprintf("scans=%d lost=%d doubled=%d wrong_records=%d", f.scans, f.lost, f.doubled, f.wrongRecords)
}

// checkServer holds the server at base to the ledger scans, uploaded by
// the scanner named scanner: each is applied (GET /v1/transactions/{id});
// each stock record's onHand is the sum of its scans and its version their
// count (a scan applied twice would add a version); and the events topic
// (read_committed, from brokers) carries exactly one receipt event per
// scan, with that scanner as scannerId and principal. It fails the test on
// any difference and returns the figures.
func checkServer(t *testing.T, base string, brokers []string, topicPrefix, scannerID string, scans []e2eScan) e2eFigures {
	t.Helper()
	f := e2eFigures{scans: len(scans)}
	ids := make(map[string]bool, len(scans))
	for _, s := range scans {
		if ids[s.id] {
			t.Errorf("the ledger holds %s twice: the device handed out one transactionId for two scans", s.id)
		}
		ids[s.id] = true
	}

	missing := waitApplied(t, base, ids, 30*time.Second)
	for i, id := range missing {
		if i < 5 {
			t.Errorf("scan %s acknowledged as queued but not applied by the server", id)
		}
	}

	type record struct{ item, location, lot string }
	want := map[record][2]int64{} // onHand, scans
	for _, s := range scans {
		k := record{s.item, s.location, s.lot}
		w := want[k]
		want[k] = [2]int64{w[0] + s.qty, w[1] + 1}
	}
	for k, w := range want {
		q := url.Values{"warehouseId": {e2eWarehouse}, "itemId": {k.item}, "locationId": {k.location}}
		if k.lot != "" {
			q.Set("lotNumber", k.lot)
		}
		var pos api.Positions
		if code := do(t, "GET", base+"/v1/positions?"+q.Encode(), nil, &pos); code != 200 {
			t.Errorf("GET /v1/positions?%s: %d", q.Encode(), code)
			f.wrongRecords++
			continue
		}
		var got *api.Position
		for i := range pos.Positions {
			if p := &pos.Positions[i]; p.LocationID == k.location && p.LotNumber == k.lot {
				got = p
			}
		}
		if got == nil || got.OnHand != w[0] || got.Version != w[1] {
			f.wrongRecords++
			t.Errorf("%s %s %q: the server holds %+v, want onHand %d at version %d (one version per scan)", k.item, k.location, k.lot, got, w[0], w[1])
		}
	}

	// Wait for the events of the applied scans; the others are lost already.
	applied := make(map[string]bool, len(ids))
	for id := range ids {
		applied[id] = true
	}
	for _, id := range missing {
		delete(applied, id)
	}
	events := receiptEvents(t, base, brokers, topicPrefix+"inventory-events", ids, applied, 60*time.Second)
	for id := range ids {
		evs := events[id]
		switch {
		case len(evs) == 0:
			f.lost++
			if f.lost <= 5 {
				t.Errorf("scan %s: no event", id)
			}
		case len(evs) > 1:
			f.doubled++
			if f.doubled <= 5 {
				t.Errorf("scan %s: %d events %v", id, len(evs), evs)
			}
		}
		for _, ev := range evs {
			if ev.scannerID != scannerID || ev.principal != scannerID {
				t.Errorf("scan %s: event with scannerId %q and principal %q, want %q", id, ev.scannerID, ev.principal, scannerID)
				break
			}
		}
	}
	for _, id := range missing {
		if len(events[id]) == 0 {
			continue // counted above
		}
		f.lost++ // an event but no applied state: lost all the same
	}
	return f
}

// waitApplied asks GET /v1/transactions/{id} until every id is applied or
// the timeout passes, and returns the ids still not applied. A scan the
// processors rejected fails the test (ledger scans are all valid).
func waitApplied(t *testing.T, base string, ids map[string]bool, timeout time.Duration) []string {
	t.Helper()
	left := make(map[string]bool, len(ids))
	for id := range ids {
		left[id] = true
	}
	_ = testkit.Within(timeout, func() error { // what is left is returned
		for id := range left {
			var o api.Outcome
			code := do(t, "GET", base+"/v1/transactions/"+id, nil, &o)
			switch {
			case code == 200 && o.Status == "applied":
				delete(left, id)
			case code == 200 && o.Status == "rejected":
				t.Errorf("scan %s rejected by the processors: %s", id, deref(o.Code))
				delete(left, id)
			}
		}
		if len(left) > 0 {
			return testkit.Not("%d scans not applied", len(left))
		}
		return nil
	})
	out := make([]string, 0, len(left))
	for id := range left {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// receiptEvent is what checkServer reads of one inventory event.
type receiptEvent struct {
	eventID, scannerID, principal string
	partition                     int32
	offset                        int64
}

// receiptEvents reads topic from the start (read_committed) until each of
// wait has an InventoryReceipt event or the timeout passes, then a second
// more for stragglers (a duplicate would come later), and returns the
// receipt events of ids by transactionId. Events of other transactions
// are skipped. Schemas come from the server's registry endpoints, once
// each.
func receiptEvents(t *testing.T, base string, brokers []string, topic string, ids, wait map[string]bool, timeout time.Duration) map[string][]receiptEvent {
	t.Helper()
	cl := committedReader(t, brokers, topic)
	defer cl.Close()
	codecs := map[uint32]*goavro.Codec{}
	out := map[string][]receiptEvent{}
	seen := 0
	poll := func(ctx context.Context) {
		f := cl.PollFetches(ctx)
		f.EachRecord(func(r *kgo.Record) {
			ev := decodeEvent(t, base, codecs, r.Value)
			id, _ := ev["transactionId"].(string)
			if !ids[id] || ev["eventType"] != "InventoryReceipt" {
				return
			}
			if len(out[id]) == 0 && wait[id] {
				seen++
			}
			e := receiptEvent{partition: r.Partition, offset: r.Offset}
			e.eventID, _ = ev["eventId"].(string)
			e.scannerID, _ = ev["scannerId"].(string)
			e.principal, _ = ev["principal"].(string)
			out[id] = append(out[id], e)
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for seen < len(wait) && ctx.Err() == nil {
		poll(ctx)
	}
	tail, cancelTail := context.WithTimeout(context.Background(), time.Second)
	defer cancelTail()
	for tail.Err() == nil {
		poll(tail)
	}
	return out
}

// decodeEvent decodes a Confluent-framed Avro value with the schema the
// server's registry endpoint names, as a standard consumer would, and
// unwraps unions ({"string": "x"} -> "x") for easy comparison. codecs,
// when not nil, keeps the schemas fetched.
func decodeEvent(t *testing.T, base string, codecs map[uint32]*goavro.Codec, v []byte) map[string]any {
	t.Helper()
	if len(v) < 5 || v[0] != 0 {
		t.Fatalf("not Confluent wire format: % x", v[:min(len(v), 8)])
	}
	id := binary.BigEndian.Uint32(v[1:5])
	codec := codecs[id]
	if codec == nil {
		codec = schemaCodec(t, base, id)
		if codecs != nil {
			codecs[id] = codec
		}
	}
	native, rest, err := codec.NativeFromBinary(v[5:])
	if err != nil || len(rest) != 0 {
		t.Fatalf("decoding with schema %d: %v (%d bytes left)", id, err, len(rest))
	}
	m := native.(map[string]any)
	for k, val := range m {
		if u, ok := val.(map[string]any); ok && len(u) == 1 {
			for _, inner := range u {
				m[k] = inner
			}
		}
	}
	return m
}

// newScannerToken creates a scanner token through the API with the admin
// token, as a supervisor enrols a device, and returns its secret and id.
func newScannerToken(t *testing.T, base, name string, warehouses ...string) (token, id string) {
	t.Helper()
	tok := newToken(t, base, name, "scanner", warehouses, nil)
	return tok.Token, tok.TokenID
}

// revokeToken revokes a token with DELETE /v1/tokens/{id} and waits until
// the server refuses it (401 on GET /v1/me).
func revokeToken(t *testing.T, base, id, token string) {
	t.Helper()
	if status, _, data := testkit.Call(t, "DELETE", base+"/v1/tokens/"+id, testAdminToken, nil); status/100 != 2 {
		t.Fatalf("DELETE /v1/tokens/%s: %d %s", id, status, data)
	}
	testkit.Eventually(t, 10*time.Second, func() error {
		if status, _, _ := testkit.Call(t, "GET", base+"/v1/me", token, nil); status != 401 {
			return testkit.Not("the revoked token still answers %d on GET /v1/me", status)
		}
		return nil
	})
}

// e2eSeed is SCANNER_E2E_SEED or the clock, logged so a run can be
// repeated.
func e2eSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if os.Getenv("SCANNER_E2E_SEED") != "" {
		seed = uint64(envInt(t, "SCANNER_E2E_SEED", 0))
	}
	t.Logf("seed %d (SCANNER_E2E_SEED=%d repeats the faults and kill moments)", seed, seed)
	return seed
}

// e2eRand is the test's seed (e2eSeed) and a generator of stream on it.
func e2eRand(t *testing.T, stream uint64) (uint64, *rand.Rand) {
	t.Helper()
	seed := e2eSeed(t)
	return seed, rand.New(rand.NewPCG(seed, stream))
}

// receiptsFor makes n RECEIPT scans spread over items and locations, with
// quantities from 1 to 40.
func receiptsFor(rng *rand.Rand, n int, items, locations []string) []scanner.Scan {
	out := make([]scanner.Scan, n)
	for i := range out {
		out[i] = scanner.Scan{Type: "RECEIPT", WarehouseID: e2eWarehouse, ItemID: items[rng.IntN(len(items))],
			LocationID: locations[rng.IntN(len(locations))], Quantity: int64(1 + rng.IntN(40)), UserID: "e2e"}
	}
	return out
}

// ledgerOf pairs the scans given to ScanAll with the receipts it returned.
func ledgerOf(scans []scanner.Scan, qs []scanner.Queued) []e2eScan {
	out := make([]e2eScan, len(qs))
	for i, q := range qs {
		s := scans[i]
		out[i] = e2eScan{id: q.TransactionID, item: s.ItemID, location: s.LocationID, lot: s.LotNumber, qty: s.Quantity}
	}
	return out
}

// openDevice opens a scanner.Device of cfg, closed at the end of the test.
func openDevice(t *testing.T, cfg scanner.Config) *scanner.Device {
	t.Helper()
	d, err := scanner.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestScannerE2EDeviceThroughAFaultyLink: a scanner.Device with a real
// scanner token uploads a backlog through a link that cuts, loses, stalls
// and slows connections. The server ends with exactly the scans the device
// acknowledged as queued, once each, and every scan the device counted as
// synced was answered accepted or duplicate exactly once.
func TestScannerE2EDeviceThroughAFaultyLink(t *testing.T) {
	start := time.Now()
	seed, rng := e2eRand(t, 1)
	in := startInstance(t, testConfig(t))
	const id = "SCANNER-P1"
	token, _ := newScannerToken(t, in.url, id, e2eWarehouse)
	link := testkit.NewFaultyLink(t, strings.TrimPrefix(in.url, "http://"), rand.New(rand.NewPCG(seed, 7)), testkit.LinkOdds{
		Cut: 0.15, Lose: 0.15, Stall: 0.1, Slow: 0.2, StallFor: 2500 * time.Millisecond, SlowBy: 300 * time.Millisecond})
	d := openDevice(t, scanner.Config{URL: link.URL(), Token: token, ScannerID: id, DataDir: t.TempDir(),
		HTTPClient: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
		BatchSize:  20, RequestTimeout: 1500 * time.Millisecond, PollEvery: -1})

	// A shift in a dead zone: 400 scans queued in bursts.
	ctx := context.Background()
	var ledger e2eLedger
	items := []string{"ITEM-11001", "ITEM-11002", "ITEM-11003", "ITEM-11004"}
	locs := []string{"A-01-01", "A-01-02", "B-04-01"}
	for range 8 {
		ledger.scanAll(t, ctx, d, receiptsFor(rng, 50, items, locs))
	}
	total := len(ledger.all())

	var requests, accepted, duplicate, failed int
	deadline := time.Now().Add(2 * time.Minute)
	for {
		rep, err := d.Sync(ctx)
		requests += rep.Requests
		accepted += rep.Accepted
		duplicate += rep.Duplicate
		if rep.Rejected > 0 || rep.Rejections > 0 {
			t.Fatalf("the server rejected %d scans: %+v", rep.Rejected, rep)
		}
		if err != nil {
			failed++
			if !errors.Is(err, scanner.ErrOffline) && !errors.Is(err, scanner.ErrUnanswered) {
				t.Fatalf("sync failed with %v, want only offline or unanswered requests", err)
			}
		}
		if err == nil && rep.Remaining == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d scans queued after 2 minutes of syncing (last error %v)", rep.Remaining, err)
		}
	}
	st, err := d.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != scanner.Green || st.Queued != 0 || st.Rejected != 0 {
		t.Errorf("device status after syncing everything: %+v", st)
	}
	if accepted+duplicate != total {
		t.Errorf("the device counted %d accepted + %d duplicate answers for %d scans: a scan was synced twice or never", accepted, duplicate, total)
	}
	fates := link.Counts()
	if fates["lose"]+fates["stall"] > 0 && duplicate == 0 {
		t.Errorf("%d answers were lost or stalled past the timeout, yet no resend was answered duplicate: was anything resent?", fates["lose"]+fates["stall"])
	}
	f := checkServer(t, in.url, in.brokers(), in.cfg.TopicPrefix, id, ledger.all())
	t.Logf("faulty link: %s requests_answered=%d sync_attempts_failed=%d accepted=%d duplicate=%d connections=%v took=%s",
		f, requests, failed, accepted, duplicate, fates, time.Since(start).Round(time.Millisecond))
}

// scannerProc is one `invsync scanner` child process, fed scans through
// its standard input; it collects the acknowledgements on its standard
// output.
type scannerProc struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	log   string

	mu   sync.Mutex
	acks []scanAck

	done chan struct{}
	code int
}

// scanAck is the command's acknowledgement of a line queued durably.
type scanAck struct {
	Line          int    `json:"line"`
	TransactionID string `json:"transactionId"`
	Timestamp     string `json:"timestamp"`
	Status        string `json:"status"`
}

// startScannerProc starts bin scanner args… with the token in the
// environment, its standard error appended to log.
func startScannerProc(t *testing.T, bin, token, log string, args ...string) *scannerProc {
	t.Helper()
	f, err := os.OpenFile(log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(bin, append([]string{"scanner"}, args...)...)
	cmd.Env = append(os.Environ(), "INVSYNC_SCANNER_TOKEN="+token)
	cmd.Stderr = f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &scannerProc{t: t, cmd: cmd, stdin: stdin, log: log, done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var a scanAck
			if err := json.Unmarshal(sc.Bytes(), &a); err != nil || a.Status != "queued" || a.TransactionID == "" {
				t.Errorf("unexpected line on the scanner's standard output: %q", sc.Text())
				continue
			}
			p.mu.Lock()
			p.acks = append(p.acks, a)
			p.mu.Unlock()
		}
		err := cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		if err != nil && p.code < 0 {
			p.code = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

// send writes lines to the process's standard input.
func (p *scannerProc) send(lines []string) {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, strings.Join(lines, "\n")+"\n"); err != nil {
		p.t.Fatalf("writing to the scanner: %v", err)
	}
}

// waitAcks waits for n acknowledgements in all and returns them.
func (p *scannerProc) waitAcks(n int, timeout time.Duration) []scanAck {
	p.t.Helper()
	var got []scanAck
	testkit.Eventually(p.t, timeout, func() error {
		p.mu.Lock()
		got = append([]scanAck(nil), p.acks...)
		p.mu.Unlock()
		if len(got) < n {
			return testkit.Not("%d of %d lines acknowledged; scanner log:\n%s", len(got), n, testkit.TailFile(p.log, 20))
		}
		return nil
	})
	return got
}

// wait closes standard input and waits for the exit code.
func (p *scannerProc) wait(timeout time.Duration) int {
	p.t.Helper()
	p.stdin.Close()
	select {
	case <-p.done:
		return p.code
	case <-time.After(timeout):
		p.t.Fatalf("the scanner did not exit within %s; its log:\n%s", timeout, testkit.TailFile(p.log, 20))
		return -1
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *scannerProc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// scanLine is one line of `invsync scanner`'s input: a RECEIPT.
func scanLine(item, location string, qty int64) string {
	return fmt.Sprintf(`{"type":"RECEIPT","warehouseId":%q,"itemId":%q,"locationId":%q,"quantity":%d,"userId":"e2e"}`,
		e2eWarehouse, item, location, qty)
}

// scannerStatus runs `invsync scanner status --data-dir dir --json`.
func scannerStatus(t *testing.T, bin, dir string) scanner.Status {
	t.Helper()
	out, err := exec.Command(bin, "scanner", "status", "--data-dir", dir, "--json").Output()
	if err != nil {
		t.Fatalf("invsync scanner status: %v", err)
	}
	var st scanner.Status
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("invsync scanner status --json printed %q: %v", out, err)
	}
	return st
}

// TestScannerE2EKill9OfTheScannerCommand runs `invsync scanner` (the built
// binary) against the real server through a slow link, and kill -9s it
// while it is syncing, with an upload in flight, several times, restarting
// it on the same data directory with more scans. The last run has its
// input closed and exits 0 once everything is synced. Every scan it
// acknowledged is on the server once.
func TestScannerE2EKill9OfTheScannerCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills child processes; skipped with -short")
	}
	start := time.Now()
	seed, rng := e2eRand(t, 2)
	bin := buildBinary(t)
	in := startInstance(t, testConfig(t))
	const id = "SCANNER-K1"
	token, _ := newScannerToken(t, in.url, id, e2eWarehouse)
	// Every piece of every answer 120 ms late: a sync of a backlog takes
	// long enough to be killed in the middle of.
	link := testkit.NewFaultyLink(t, strings.TrimPrefix(in.url, "http://"), rand.New(rand.NewPCG(seed, 7)), testkit.LinkOdds{Slow: 1, SlowBy: 120 * time.Millisecond})
	dir := t.TempDir()
	dataDir, log := filepath.Join(dir, "device"), filepath.Join(dir, "scanner.log")
	args := []string{"--url", link.URL(), "--scanner-id", id, "--data-dir", dataDir,
		"--batch-size", "10", "--sync-every", "500ms", "--request-timeout", "5s", "--log-level", "info"}
	items := []string{"ITEM-11101", "ITEM-11102", "ITEM-11103", "ITEM-11104"}
	locs := []string{"A-02-01", "A-02-02", "C-03-01"}

	var ledger e2eLedger
	const rounds, perRound = 3, 60
	kills, inFlight := 0, 0
	for round := 0; round <= rounds; round++ {
		p := startScannerProc(t, bin, token, log, args...)
		scans := make([]e2eScan, perRound)
		lines := make([]string, perRound)
		for i := range scans {
			scans[i] = e2eScan{item: items[rng.IntN(len(items))], location: locs[rng.IntN(len(locs))], qty: int64(1 + rng.IntN(40))}
			lines[i] = scanLine(scans[i].item, scans[i].location, scans[i].qty)
		}
		p.send(lines)
		for _, a := range p.waitAcks(perRound, 30*time.Second) {
			s := scans[a.Line-1]
			s.id = a.TransactionID
			ledger.add(s)
		}
		if round == rounds {
			if code := p.wait(2 * time.Minute); code != scanner.ExitOK {
				t.Fatalf("the last run exited %d, want 0 (everything synced); log:\n%s", code, testkit.TailFile(log, 20))
			}
			break
		}
		// Kill while an upload is on its way: once one is in flight,
		// within the 120 ms its answer takes.
		waitFor(t, 30*time.Second, "an upload in flight", func() bool { return link.Awaiting() > 0 })
		time.Sleep(time.Duration(rng.IntN(100)) * time.Millisecond)
		if link.Awaiting() > 0 {
			inFlight++
		}
		p.kill()
		kills++
	}
	st := scannerStatus(t, bin, dataDir)
	if st.Status != scanner.Green || st.Queued != 0 || st.Rejected != 0 || st.LastSyncAt == nil {
		t.Errorf("invsync scanner status after the last run: %+v", st)
	}
	if inFlight == 0 {
		t.Errorf("none of the %d kills hit an upload in flight: the test did not test a kill mid-sync", kills)
	}
	f := checkServer(t, in.url, in.brokers(), in.cfg.TopicPrefix, id, ledger.all())
	t.Logf("kill -9 of invsync scanner: %s kills=%d killed_with_upload_in_flight=%d took=%s", f, kills, inFlight, time.Since(start).Round(time.Millisecond))
}

// waitFor polls cond every 5 ms until it holds, failing after timeout:
// finer than testkit.Eventually, to catch an upload while it is in flight.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// inFlightTransport counts the requests sent and not yet answered.
type inFlightTransport struct {
	base http.RoundTripper
	n    atomic.Int64
}

func (tr *inFlightTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	tr.n.Add(1)
	defer tr.n.Add(-1)
	return tr.base.RoundTrip(r)
}

// TestScannerE2EKill9OfServe runs `invsync serve` as a child process on
// its default supervised embedded broker and kill -9s it while a device
// is uploading, with a request in flight, several times, restarting it
// each time. The device goes on scanning throughout, keeps its queue
// while the server is gone and resends; the server ends with every scan
// the device acknowledged, once.
func TestScannerE2EKill9OfServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills child processes; skipped with -short")
	}
	start := time.Now()
	seed, rng := e2eRand(t, 3)
	dir := t.TempDir()
	serve := serveChild(t, dir, "sce2e", 4, "--session-timeout", "6s")
	proc, prefix, brokers := serve.child, serve.prefix, serve.brokers

	const id = "SCANNER-S1"
	token, _ := newScannerToken(t, proc.url, id, e2eWarehouse)
	tr := &inFlightTransport{base: &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second}}
	var attempts, failedAttempts, duplicates atomic.Int64
	var deviceLog testkit.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			proc.dumpLog()
			t.Logf("the device's log:\n%s", deviceLog.Tail(40))
		}
	})
	d := openDevice(t, scanner.Config{URL: proc.url, Token: token, ScannerID: id, DataDir: filepath.Join(dir, "device"),
		HTTPClient: &http.Client{Transport: tr}, BatchSize: 25, SyncEvery: 250 * time.Millisecond,
		RequestTimeout: 5 * time.Second, PollEvery: -1, Logger: slog.New(slog.NewTextHandler(&deviceLog, nil)),
		AfterSync: func(rep scanner.SyncReport, err error) {
			attempts.Add(1)
			duplicates.Add(int64(rep.Duplicate))
			if err != nil {
				failedAttempts.Add(1)
			}
		}})

	ctx := context.Background()
	var ledger e2eLedger
	items := []string{"ITEM-11201", "ITEM-11202", "ITEM-11203", "ITEM-11204"}
	locs := []string{"A-03-01", "D-01-02", "E-10-01"}
	ledger.scanAll(t, ctx, d, receiptsFor(rng, 300, items, locs))

	runCtx, stopRun := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- d.Run(runCtx) }()
	// The operator keeps scanning, server or no server.
	stopScanning := make(chan struct{})
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		srng := rand.New(rand.NewPCG(seed, 4))
		for {
			select {
			case <-stopScanning:
				return
			case <-time.After(20 * time.Millisecond):
			}
			s := receiptsFor(srng, 1, items, locs)
			q, err := d.Scan(ctx, s[0])
			if err != nil {
				t.Errorf("scanning while the server is down: %v", err)
				return
			}
			ledger.add(ledgerOf(s, []scanner.Queued{q})...)
		}
	}()

	const rounds = 3
	kills, inFlight := 0, 0
	var downtime time.Duration
	for round := 0; round < rounds; round++ {
		time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
		waitFor(t, 30*time.Second, "an upload in flight", func() bool { return tr.n.Load() > 0 })
		if tr.n.Load() > 0 {
			inFlight++
		}
		proc.kill()
		kills++
		down := time.Now()
		time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
		proc.start()
		proc.waitReady(90 * time.Second)
		downtime += time.Since(down)
		t.Logf("round %d: serve killed -9 with an upload in flight and restarted (%s down); %d scans acknowledged so far",
			round+1, time.Since(down).Round(time.Millisecond), len(ledger.all()))
	}
	close(stopScanning)
	<-scanned

	waitFor(t, 2*time.Minute, "the device's queue to empty", func() bool {
		st, err := d.Status()
		return err == nil && st.Queued == 0
	})
	stopRun()
	if err := <-ran; err != nil {
		t.Errorf("Run returned %v", err)
	}
	st, err := d.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != scanner.Green || st.Rejected != 0 {
		t.Errorf("device status after the kills: %+v", st)
	}
	if failedAttempts.Load() == 0 {
		t.Errorf("no sync attempt failed across %d kills of the server: the kills missed the uploads", kills)
	}
	f := checkServer(t, proc.url, brokers, prefix, id, ledger.all())
	t.Logf("kill -9 of invsync serve: %s kills=%d killed_with_upload_in_flight=%d sync_attempts=%d failed=%d answered_duplicate=%d downtime=%s took=%s",
		f, kills, inFlight, attempts.Load(), failedAttempts.Load(), duplicates.Load(), downtime.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// runScannerOnce runs `invsync scanner … --once` with lines on standard
// input and returns its exit code and acknowledgements.
func runScannerOnce(t *testing.T, bin, token, dir, serverURL, id string, lines ...string) (int, []scanAck, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "scanner", "--url", serverURL, "--scanner-id", id, "--data-dir", dir,
		"--once", "--request-timeout", "5s")
	cmd.Env = append(os.Environ(), "INVSYNC_SCANNER_TOKEN="+token)
	if len(lines) > 0 {
		cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("running invsync scanner --once: %v", err)
	}
	var acks []scanAck
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if l == "" {
			continue
		}
		var a scanAck
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("invsync scanner printed %q: %v", l, err)
		}
		acks = append(acks, a)
	}
	return cmd.ProcessState.ExitCode(), acks, stderr.String()
}

// TestScannerE2EOnceExitCodes runs `invsync scanner --once` against the
// real server: 3 while the server is unreachable (the scans stay queued,
// status yellow), 0 once the same queue is synced (green), 4 when the
// server rejects a scan (red, the rejection listed), 3 with a revoked
// token (red: re-enrol); `invsync scanner status --json` agrees each time.
func TestScannerE2EOnceExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds child processes; skipped with -short")
	}
	bin := buildBinary(t)
	in := startInstance(t, testConfig(t))
	const id = "SCANNER-O1"
	token, tokenID := newScannerToken(t, in.url, id, e2eWarehouse)
	var ledger e2eLedger
	record := func(acks []scanAck, scans ...e2eScan) {
		t.Helper()
		if len(acks) != len(scans) {
			t.Fatalf("%d acknowledgements for %d lines", len(acks), len(scans))
		}
		for _, a := range acks {
			s := scans[a.Line-1]
			s.id = a.TransactionID
			ledger.add(s)
		}
	}
	lines := func(scans ...e2eScan) []string {
		out := make([]string, len(scans))
		for i, s := range scans {
			out[i] = scanLine(s.item, s.location, s.qty)
		}
		return out
	}

	// Offline: nothing answers at the URL.
	dirA := filepath.Join(t.TempDir(), "a")
	offline := []e2eScan{{item: "ITEM-11301", location: "A-04-01", qty: 7}, {item: "ITEM-11302", location: "A-04-01", qty: 9}}
	code, acks, stderr := runScannerOnce(t, bin, token, dirA, "http://"+freeAddr(t), id, lines(offline...)...)
	if code != scanner.ExitQueued {
		t.Fatalf("--once with the server unreachable exited %d, want %d; stderr:\n%s", code, scanner.ExitQueued, stderr)
	}
	record(acks, offline...)
	if st := scannerStatus(t, bin, dirA); st.Status != scanner.Yellow || st.Queued != 2 || st.Rejected != 0 || st.LastSyncAt != nil {
		t.Errorf("status after an unreachable server: %+v, want yellow, 2 queued, never synced", st)
	}
	for _, s := range ledger.all() {
		if status, _, _ := testkit.Call(t, "GET", in.url+"/v1/transactions/"+s.id, testAdminToken, nil); status != 404 {
			t.Errorf("scan %s reached the server (%d) while it was unreachable", s.id, status)
		}
	}

	// The same queue, the server back: synced.
	before := time.Now().Add(-time.Second)
	code, acks, stderr = runScannerOnce(t, bin, token, dirA, in.url, id)
	if code != scanner.ExitOK || len(acks) != 0 {
		t.Fatalf("--once with the server reachable exited %d (%d new acks), want 0; stderr:\n%s", code, len(acks), stderr)
	}
	if st := scannerStatus(t, bin, dirA); st.Status != scanner.Green || st.Queued != 0 || st.Rejected != 0 ||
		st.LastSyncAt == nil || st.LastSyncAt.Before(before) {
		t.Errorf("status after syncing: %+v, want green, nothing queued, synced just now", st)
	}

	// A scan the server rejects: over the item's limit of 10000 (the
	// device checks only the shape; the catalog is the server's).
	dirB := filepath.Join(t.TempDir(), "b")
	good := e2eScan{item: "ITEM-11303", location: "B-05-02", qty: 12}
	bad := e2eScan{item: "ITEM-11304", location: "B-05-02", qty: 20000}
	code, acks, stderr = runScannerOnce(t, bin, token, dirB, in.url, id, lines(good, bad)...)
	if code != scanner.ExitRejected {
		t.Fatalf("--once with a rejected scan exited %d, want %d; stderr:\n%s", code, scanner.ExitRejected, stderr)
	}
	if len(acks) != 2 {
		t.Fatalf("%d acknowledgements, want 2", len(acks))
	}
	record(acks[:1], good)
	badID := acks[1].TransactionID
	if st := scannerStatus(t, bin, dirB); st.Status != scanner.Red || st.Queued != 0 || st.Rejected != 1 {
		t.Errorf("status with a rejection waiting: %+v, want red, 0 queued, 1 rejected", st)
	}
	out, err := exec.Command(bin, "scanner", "rejections", "--data-dir", dirB, "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var rej struct{ Rejections []scanner.Rejection }
	if err := json.Unmarshal(out, &rej); err != nil || len(rej.Rejections) != 1 ||
		rej.Rejections[0].TransactionID != badID || rej.Rejections[0].Code != "UNREASONABLE_QUANTITY" ||
		!strings.Contains(rej.Rejections[0].Message, "limit of 10000") {
		t.Errorf("invsync scanner rejections --json: %s (%v), want %s rejected UNREASONABLE_QUANTITY", out, err, badID)
	}
	if status, _, _ := testkit.Call(t, "GET", in.url+"/v1/transactions/"+badID, testAdminToken, nil); status != 404 {
		t.Errorf("the rejected scan is known to the server: GET answered %d, want 404", status)
	}

	// A revoked token: nothing is sent, the scans stay, red.
	revokeToken(t, in.url, tokenID, token)
	dirC := filepath.Join(t.TempDir(), "c")
	late := e2eScan{item: "ITEM-11306", location: "C-01-01", qty: 3}
	code, acks, stderr = runScannerOnce(t, bin, token, dirC, in.url, id, lines(late)...)
	if code != scanner.ExitQueued || len(acks) != 1 {
		t.Fatalf("--once with a revoked token exited %d (%d acks), want %d; stderr:\n%s", code, len(acks), scanner.ExitQueued, stderr)
	}
	st := scannerStatus(t, bin, dirC)
	if st.Status != scanner.Red || st.Queued != 1 || !strings.Contains(strings.ToLower(st.Message), "token") {
		t.Errorf("status with a revoked token: %+v, want red, 1 queued, a message about the token", st)
	}
	if status, _, _ := testkit.Call(t, "GET", in.url+"/v1/transactions/"+acks[0].TransactionID, testAdminToken, nil); status != 404 {
		t.Errorf("a scan sent with a revoked token reached the server (%d)", status)
	}
	raw, _ := exec.Command(bin, "scanner", "status", "--data-dir", dirC, "--json").Output()
	t.Logf("invsync scanner status --json with a revoked token: %s", bytes.TrimSpace(raw))

	f := checkServer(t, in.url, in.brokers(), in.cfg.TopicPrefix, id, ledger.all())
	t.Logf("--once: %s exit codes unreachable=3 synced=0 rejected=4 revoked=3", f)
}
