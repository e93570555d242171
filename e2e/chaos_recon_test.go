package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/internal/testkit"
)

// The reconciliation inputs of the chaos suite: while the scanners upload
// and the faults happen, a cloud posts reports (each with one record made
// wrong on purpose, so discrepancies open), a supervisor works the
// discrepancies through their lifecycle, and counts beyond their tolerance
// are held and approved. Every request is resent until answered, as a
// client that lost an answer would, with the same reportId, transactionId
// or Idempotency-Key. chaosRecon.verify then holds the system to what was
// answered: nothing lost, nothing applied twice.

// heldItem is the crash catalog's class-A item: any count that misses by
// more than 1 % is held.
const heldItem = "C-7"

type chaosRecon struct {
	mu        sync.Mutex
	reports   []string            // answered reportIds
	opened    map[string]bool     // discrepancy ids reports answered with
	resolved  map[string]string   // discrepancy id → the note of an answered resolution
	conflicts int                 // resolutions refused 409 (resolved by a later report first)
	held      map[string]bool     // lot of an approved held count
	received  int                 // held-count uploads answered (a receipt each)
	neverHeld []string            // lots whose count was answered but never held
	steps     map[string][]string // discrepancy id → answered PATCH keys
}

func newChaosRecon() *chaosRecon {
	return &chaosRecon{opened: map[string]bool{}, resolved: map[string]string{}, held: map[string]bool{}, steps: map[string][]string{}}
}

// doKeyed is doQuiet with an Idempotency-Key.
func doKeyed(method, u, key string, body any, out any) int {
	return doWithin(15*time.Second, method, u, key, body, out)
}

// untilAnswered resends a request to random instances until one answers
// with a status in ok, or stop closes. It returns the last status.
func untilAnswered(rng *rand.Rand, insts []*child, stop <-chan struct{}, ok []int, send func(base string) int) int {
	for {
		code := send(insts[rng.IntN(len(insts))].url)
		for _, c := range ok {
			if code == c {
				return code
			}
		}
		select {
		case <-stop:
			return code
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// run drives the cloud and the supervisor until uploadsDone closes.
func (c *chaosRecon) run(seed uint64, insts []*child, uploadsDone <-chan struct{}, abort <-chan struct{}) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.cloud(rand.New(rand.NewPCG(seed, 555)), insts, uploadsDone, abort) }()
	go func() { defer wg.Done(); c.supervisor(rand.New(rand.NewPCG(seed, 777)), insts, uploadsDone, abort) }()
	wg.Wait()
}

// pause waits least+[0, spread) milliseconds, chosen by rng; false (at
// once) when the uploads are done or the run aborts first.
func pause(rng *rand.Rand, least, spread int, uploadsDone, abort <-chan struct{}) bool {
	select {
	case <-uploadsDone:
		return false
	case <-abort:
		return false
	case <-time.After(time.Duration(least+rng.IntN(spread)) * time.Millisecond):
		return true
	}
}

// cloud alternates reports and held counts.
func (c *chaosRecon) cloud(rng *rand.Rand, insts []*child, uploadsDone, abort <-chan struct{}) {
	for n := 0; pause(rng, 300, 500, uploadsDone, abort); n++ {
		if n%3 == 2 {
			c.heldCount(rng, insts, abort, n)
			continue
		}
		c.report(rng, insts, abort, n)
	}
}

// report reads WH-C1's positions of one item, as a cloud that is up to
// date would, makes one of them wrong and reports them.
func (c *chaosRecon) report(rng *rand.Rand, insts []*child, abort <-chan struct{}, n int) {
	item := fmt.Sprintf("C-%d", 1+rng.IntN(5))
	var pos api.Positions
	if untilAnswered(rng, insts, abort, []int{200}, func(base string) int {
		return doQuiet("GET", base+"/v1/positions?warehouseId=WH-C1&itemId="+item, nil, &pos)
	}) != 200 || len(pos.Positions) == 0 {
		return
	}
	wrong := rng.IntN(len(pos.Positions))
	ps := make([]map[string]any, 0, len(pos.Positions))
	for i, p := range pos.Positions {
		onHand := p.OnHand
		if i == wrong {
			onHand++
		}
		ps = append(ps, map[string]any{"itemId": p.ItemID, "locationId": p.LocationID, "lotNumber": p.LotNumber, "onHand": onHand, "version": p.Version})
	}
	id := fmt.Sprintf("chaos-rep-%d", n)
	body := map[string]any{"reportId": id, "warehouseId": "WH-C1", "complete": false, "positions": ps}
	var a api.ReportAnswer
	if untilAnswered(rng, insts, abort, []int{200, 202}, func(base string) int {
		return doQuiet("POST", base+"/v1/reconciliation/reports?wait=compared", body, &a)
	}) == 0 {
		return
	}
	c.mu.Lock()
	c.reports = append(c.reports, id)
	for _, d := range a.Discrepancies {
		c.opened[d] = true
	}
	c.mu.Unlock()
}

// heldCount receives 100 of the class-A item under a lot of its own,
// counts 50 (held: 50 % off), and approves the count.
func (c *chaosRecon) heldCount(rng *rand.Rand, insts []*child, abort <-chan struct{}, n int) {
	lot := fmt.Sprintf("H-%d", n)
	at := time.Now().Add(-time.Minute)
	txs := []api.Transaction{
		{TransactionID: "held-r-" + lot, Type: "RECEIPT", Timestamp: at.UTC().Format(time.RFC3339Nano), WarehouseID: "WH-C1",
			ItemID: heldItem, LocationID: "L1", LotNumber: lot, Quantity: 100},
		{TransactionID: "held-c-" + lot, Type: "CYCLE_COUNT", Timestamp: at.Add(time.Second).UTC().Format(time.RFC3339Nano), WarehouseID: "WH-C1",
			ItemID: heldItem, LocationID: "L1", LotNumber: lot, Quantity: 50},
	}
	var up api.UploadResponse
	if untilAnswered(rng, insts, abort, []int{200}, func(base string) int {
		return doQuiet("POST", base+"/v1/transactions?wait=applied", api.UploadRequest{ScannerID: "CLOUD-HELD",
			SentAt: time.Now().UTC().Format(time.RFC3339Nano), Transactions: txs}, &up)
	}) != 200 {
		return
	}
	c.mu.Lock()
	c.received++
	c.mu.Unlock()
	// Wait for the count to be held (an answer may have come before it was
	// applied), then approve it.
	// A broker kill and the recovery after it fit in 3 minutes.
	if testkit.Within(3*time.Minute, testkit.True(func() bool {
		var o api.Outcome
		return doQuiet("GET", insts[rng.IntN(len(insts))].url+"/v1/transactions/held-c-"+lot, nil, &o) == 200 && o.Status == "held"
	}, "not held")) != nil {
		c.mu.Lock()
		c.neverHeld = append(c.neverHeld, lot)
		c.mu.Unlock()
		return
	}
	if untilAnswered(rng, insts, abort, []int{200}, func(base string) int {
		return doKeyed("POST", base+"/v1/counts/held-c-"+lot+"/approve", "approve-"+lot, map[string]any{"note": "chaos"}, nil)
	}) == 200 {
		c.mu.Lock()
		c.held[lot] = true
		c.mu.Unlock()
	}
}

// supervisor takes the oldest open discrepancy to INVESTIGATING, then
// resolves it WAREHOUSE_CONFIRMED.
func (c *chaosRecon) supervisor(rng *rand.Rand, insts []*child, uploadsDone, abort <-chan struct{}) {
	for pause(rng, 500, 700, uploadsDone, abort) {
		var list api.DiscrepancyList
		if doQuiet("GET", insts[rng.IntN(len(insts))].url+"/v1/discrepancies?warehouseId=WH-C1&status=OPEN", nil, &list) != 200 || len(list.Discrepancies) == 0 {
			continue
		}
		id := list.Discrepancies[0].DiscrepancyID
		note := "chaos-resolved-" + id
		steps := []struct {
			key  string
			body map[string]any
		}{
			{"inv-" + id, map[string]any{"status": "INVESTIGATING", "assignee": "chaos", "note": "chaos-investigating-" + id}},
			{"res-" + id, map[string]any{"status": "RESOLVED", "resolution": "WAREHOUSE_CONFIRMED", "note": note}},
		}
		for _, st := range steps {
			code := untilAnswered(rng, insts, abort, []int{200, 409, 404}, func(base string) int {
				return doKeyed("PATCH", base+"/v1/discrepancies/"+id, st.key, st.body, nil)
			})
			c.mu.Lock()
			switch code {
			case 200:
				c.steps[id] = append(c.steps[id], st.key)
				if st.body["status"] == "RESOLVED" {
					c.resolved[id] = note
				}
			case 409:
				c.conflicts++
			}
			c.mu.Unlock()
			if code != 200 {
				break
			}
		}
	}
}

// verify checks every answered input against the system's state and
// returns its figures: lost (answered but not there) and doubled (there
// twice).
func (c *chaosRecon) verify(t *testing.T, insts []*child) (lost, doubled int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	base := insts[0].url
	for _, id := range c.reports {
		var a api.ReportAnswer
		if code := doQuiet("GET", base+"/v1/reconciliation/reports/"+id, nil, &a); code != 200 || a.Status != api.ReportCompared || a.PendingPieces != 0 {
			lost++
			t.Errorf("report %s was answered but is not compared: %d %+v", id, code, a)
		}
	}
	type step struct {
		By, Status, Note, Resolution string
	}
	for id := range c.opened {
		var d struct {
			Status     string `json:"status"`
			Resolution string `json:"resolution"`
			History    []step `json:"history"`
		}
		if code := doQuiet("GET", base+"/v1/discrepancies/"+id, nil, &d); code != 200 {
			lost++
			t.Errorf("discrepancy %s (opened by an answered report) cannot be read: %d", id, code)
			continue
		}
		seen := map[step]int{}
		for _, s := range d.History {
			if seen[s]++; seen[s] == 2 && s.Note != "" {
				doubled++
				t.Errorf("discrepancy %s has the step %+v twice", id, s)
			}
		}
		if note, ok := c.resolved[id]; ok {
			n := 0
			for _, s := range d.History {
				if s.Note == note {
					n++
				}
			}
			if n == 0 || d.Status != "RESOLVED" || d.Resolution != "WAREHOUSE_CONFIRMED" {
				lost++
				t.Errorf("discrepancy %s: the answered resolution is not there: %+v", id, d)
			}
		}
	}
	// At most one unresolved discrepancy per record.
	for _, status := range []string{"OPEN", "INVESTIGATING"} {
		var list api.DiscrepancyList
		doQuiet("GET", base+"/v1/discrepancies?warehouseId=WH-C1&status="+status, nil, &list)
		byRecord := map[string]string{}
		for _, d := range list.Discrepancies {
			k := d.ItemID + "|" + d.LocationID + "|" + d.LotNumber
			if other, dup := byRecord[k]; dup {
				doubled++
				t.Errorf("record %s has two unresolved discrepancies: %s and %s", k, other, d.DiscrepancyID)
			}
			byRecord[k] = d.DiscrepancyID
		}
	}
	for _, lot := range c.neverHeld {
		lost++
		t.Errorf("the count of lot %s was uploaded but never held", lot)
	}
	for lot := range c.held {
		var pos api.Positions
		q := url.Values{"warehouseId": {"WH-C1"}, "itemId": {heldItem}, "locationId": {"L1"}, "lotNumber": {lot}}
		doQuiet("GET", base+"/v1/positions?"+q.Encode(), nil, &pos)
		if len(pos.Positions) != 1 || pos.Positions[0].OnHand != 50 || pos.Positions[0].Version != 2 {
			t.Errorf("approved count of lot %s: positions %+v, want onHand 50 at version 2 (receipt, then the count once)", lot, pos.Positions)
			if len(pos.Positions) == 1 && pos.Positions[0].Version > 2 {
				doubled++
			} else {
				lost++
			}
		}
	}
	t.Logf("chaos reconciliation: reports=%d discrepancies=%d resolved=%d resolution_conflicts=%d approved_counts=%d lost=%d doubled=%d",
		len(c.reports), len(c.opened), len(c.resolved), c.conflicts, len(c.held), lost, doubled)
	return lost, doubled
}

// stockEvents is the number of stock-change events the held-count
// workload made: a receipt per answered upload and an approved count.
func (c *chaosRecon) stockEvents() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.received + len(c.held)
}

// consumeUntilQuiet reads topic from the start, read_committed, until it
// has at least want records and none came for quiet (or timeout).
func consumeUntilQuiet(t *testing.T, brokers []string, topic string, want int, quiet, timeout time.Duration) []*kgo.Record {
	t.Helper()
	cl := committedReader(t, brokers, topic)
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), quiet)
		f := cl.PollFetches(ctx)
		cancel()
		n := len(out)
		f.EachRecord(func(r *kgo.Record) { out = append(out, r) })
		if len(out) == n && len(out) >= want {
			break
		}
	}
	return out
}
