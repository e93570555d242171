package processors

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

var propertySeedFlag = flag.Uint64("processors.seed", 0,
	"seed of the property tests; 0 takes $INVSYNC_PROPERTY_SEED, else the clock")

// propertyRand returns the property tests' random source and logs its
// seed, so a failure can be replayed with -processors.seed=N (or
// INVSYNC_PROPERTY_SEED=N).
func propertyRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := *propertySeedFlag
	if seed == 0 {
		if env := os.Getenv("INVSYNC_PROPERTY_SEED"); env != "" {
			var err error
			if seed, err = strconv.ParseUint(env, 10, 64); err != nil {
				t.Fatalf("INVSYNC_PROPERTY_SEED=%q: %v", env, err)
			}
		} else {
			seed = uint64(time.Now().UnixNano())
		}
	}
	t.Logf("seed %d: replay with go test ./processors -run '^%s$' -processors.seed=%d", seed, t.Name(), seed)
	return rand.New(rand.NewPCG(seed, 0x696e7673796e63))
}

// The generated world: two items of one warehouse, one lot-tracked, and
// locations and lots whose names extend one another, so key encoding
// mistakes show.
var (
	propItems = []struct {
		id   string
		lots []string
	}{
		{"ITEM-10000", []string{"L", "L1", "L10"}},
		{"ITEM-100001", []string{""}},
	}
	propLocs = []string{"A", "A-1", "B"}
)

type propKey struct{ item, loc, lot string }

// genHistory returns n transactions with distinct, prefix-sharing
// transactionIds and corrected times within a few seconds, so equal times
// and reorderings are common. Every transaction is received inside the
// default ledger window, and none carries an expectedVersion.
func genHistory(rng *rand.Rand, n int) []*Transaction {
	ids := map[string]bool{}
	newID := func() string {
		for {
			b := make([]byte, 1+rng.IntN(4))
			for i := range b {
				b[i] = "abc"[rng.IntN(3)]
			}
			if id := string(b); !ids[id] {
				ids[id] = true
				return id
			}
		}
	}
	txs := make([]*Transaction, n)
	for i := range txs {
		it := propItems[rng.IntN(len(propItems))]
		at := t0.Add(time.Duration(rng.IntN(6)) * time.Second)
		skew := time.Duration(rng.IntN(120)-60) * time.Second
		tx := &Transaction{
			TransactionID:      newID(),
			WarehouseID:        testWH,
			ItemID:             it.id,
			LocationID:         propLocs[rng.IntN(len(propLocs))],
			LotNumber:          it.lots[rng.IntN(len(it.lots))],
			UserID:             "u",
			ScannerID:          fmt.Sprintf("SCANNER-%02d", rng.IntN(4)),
			DeviceTimestamp:    at.Add(skew),
			CorrectedTimestamp: at,
			ReceivedAt:         t0.Add(time.Hour + time.Duration(rng.IntN(4*3600))*time.Second),
		}
		tx.SentAt = tx.ReceivedAt.Add(skew)
		switch r := rng.IntN(100); {
		case r < 20:
			tx.Type, tx.Quantity = Receipt, 1+rng.Int64N(20)
		case r < 40:
			tx.Type, tx.Quantity = Pick, 1+rng.Int64N(20)
		case r < 60:
			tx.Type, tx.Quantity = Move, 1+rng.Int64N(20)
			for tx.ToLocationID == "" || tx.ToLocationID == tx.LocationID {
				tx.ToLocationID = propLocs[rng.IntN(len(propLocs))]
			}
		case r < 75:
			tx.Type, tx.Quantity = Adjustment, 1+rng.Int64N(10)
			if rng.IntN(2) == 0 {
				tx.Quantity = -tx.Quantity
			}
		default:
			tx.Type, tx.Quantity = CycleCount, rng.Int64N(50)
		}
		if r := CheckShape(tx, Limits{}); r != nil {
			panic(fmt.Sprintf("generated an invalid transaction %+v: %v", tx, r))
		}
		tx.BodyHash = tx.Hash()
		txs[i] = tx
	}
	return txs
}

// modelLeg is one transaction's part in one record, as the spec sees it.
type modelLeg struct {
	at    int64
	txid  string
	count bool
	qty   int64 // the counted quantity, or the delta
}

// modelLegs splits the history into each record's legs. A MOVE is -q at
// its location and +q at toLocationId.
func modelLegs(txs []*Transaction) map[propKey][]modelLeg {
	legs := map[propKey][]modelLeg{}
	for _, tx := range txs {
		at := tx.CorrectedTimestamp.UnixMilli()
		k := propKey{tx.ItemID, tx.LocationID, tx.LotNumber}
		switch tx.Type {
		case Receipt:
			legs[k] = append(legs[k], modelLeg{at: at, txid: tx.TransactionID, qty: tx.Quantity})
		case Pick:
			legs[k] = append(legs[k], modelLeg{at: at, txid: tx.TransactionID, qty: -tx.Quantity})
		case Adjustment:
			legs[k] = append(legs[k], modelLeg{at: at, txid: tx.TransactionID, qty: tx.Quantity})
		case Move:
			to := propKey{tx.ItemID, tx.ToLocationID, tx.LotNumber}
			legs[k] = append(legs[k], modelLeg{at: at, txid: tx.TransactionID, qty: -tx.Quantity})
			legs[to] = append(legs[to], modelLeg{at: at, txid: tx.TransactionID, qty: tx.Quantity})
		case CycleCount:
			legs[k] = append(legs[k], modelLeg{at: at, txid: tx.TransactionID, count: true, qty: tx.Quantity})
		}
	}
	return legs
}

// expectedRecords is the spec's rule, written without the processor's
// code: for each record, the latest count by (time, transactionId) plus
// the deltas after it; with no count, the sum of the deltas. The version
// is the number of legs on the record: every one of them is applied.
func expectedRecords(txs []*Transaction) map[propKey]recordState {
	later := func(a, b modelLeg) bool { return a.at > b.at || a.at == b.at && a.txid > b.txid }
	out := map[propKey]recordState{}
	for k, legs := range modelLegs(txs) {
		var latest *modelLeg
		for i := range legs {
			if legs[i].count && (latest == nil || later(legs[i], *latest)) {
				latest = &legs[i]
			}
		}
		var onHand int64
		if latest != nil {
			onHand = latest.qty
		}
		for _, l := range legs {
			if !l.count && (latest == nil || later(l, *latest)) {
				onHand += l.qty
			}
		}
		out[k] = recordState{item: k.item, loc: k.loc, lot: k.lot, onHand: onHand, version: int64(len(legs))}
	}
	return out
}

// runHistory applies seq, in which a transaction may appear more than
// once, to s, a fresh store. The first application of each transaction
// must be applied; every later one must be a duplicate that changes
// nothing at all. Every event must continue its record's arithmetic.
func runHistory(t *testing.T, p *Processor, s runStore, seq []*Transaction) map[string]bool {
	t.Helper()
	first := map[string]Outcome{}
	type last struct{ onHand, version int64 }
	lastEvent := map[propKey]last{}
	eventIDs := map[string]bool{}
	for i, tx := range seq {
		now := t0.Add(6*time.Hour + time.Duration(i)*time.Millisecond)
		if o, seen := first[tx.TransactionID]; seen {
			before, written := dumpStore(t, s), s.written()
			res := mustApply(t, p, s, tx, now)
			if !res.Duplicate || res.Mismatch || len(res.Events) != 0 || !outcomesEqual(res.Outcome, o) {
				t.Fatalf("re-applying %s: Duplicate=%v Mismatch=%v events=%d outcome %+v, want the stored %+v",
					tx.TransactionID, res.Duplicate, res.Mismatch, len(res.Events), res.Outcome, o)
			}
			if after := dumpStore(t, s); after != before {
				t.Fatalf("re-applying %s changed the store:\nbefore\n%s\nafter\n%s", tx.TransactionID, before, after)
			}
			if w := s.written(); w != written {
				t.Fatalf("re-applying %s wrote %d keys (same values or not, the changelog would carry them)", tx.TransactionID, w-written)
			}
			s.boundary(t)
			continue
		}
		res := mustApply(t, p, s, tx, now)
		s.boundary(t)
		if res.Duplicate || res.Outcome.Status != StatusApplied {
			t.Fatalf("%s %s: %+v, want applied", tx.Type, tx.TransactionID, res)
		}
		first[tx.TransactionID] = res.Outcome
		for _, e := range res.Events {
			k := propKey{e.ItemID, e.LocationID, e.LotNumber}
			prev := lastEvent[k]
			if e.ResultingOnHand != prev.onHand+e.QuantityChange || e.Version != prev.version+1 {
				t.Fatalf("event %s on %v: onHand %d -> %d by %d, version %d -> %d", e.EventID, k,
					prev.onHand, e.ResultingOnHand, e.QuantityChange, prev.version, e.Version)
			}
			lastEvent[k] = last{e.ResultingOnHand, e.Version}
			if eventIDs[e.EventID] {
				t.Fatalf("eventId %s yielded twice", e.EventID)
			}
			eventIDs[e.EventID] = true
		}
	}
	return eventIDs
}

// withDuplicates returns order with re-deliveries of already-seen
// transactions inserted at random places (the same Transaction values).
func withDuplicates(rng *rand.Rand, txs []*Transaction, order []int) []*Transaction {
	seq := make([]*Transaction, 0, len(order)*3/2)
	for i, j := range order {
		seq = append(seq, txs[j])
		for rng.IntN(4) == 0 {
			seq = append(seq, txs[order[rng.IntN(i+1)]])
		}
	}
	return seq
}

// TestPropertyConvergence: any permutation of a history, with any
// duplicates, ends in the same onHand for every record, equal to the
// spec's rule computed independently; each record's version counts its
// applied legs; duplicates change nothing. On the tests' store and on
// Pebble batches alike.
func TestPropertyConvergence(t *testing.T) {
	for _, st := range propertyStores {
		t.Run(st.name, func(t *testing.T) {
			histories, perms := 200, 16
			if st.name == "pebble" {
				histories = pebbleHistories(100)
			}
			if testing.Short() {
				histories, perms = histories/5, 8
			}
			testConvergence(t, histories, perms, func(rng *rand.Rand) runStore { return st.open(t, rng) })
		})
	}
}

func testConvergence(t *testing.T, histories, perms int, open func(*rand.Rand) runStore) {
	rng := propertyRand(t)
	const maxLen = 60
	p := New(Config{})
	applies := 0
	for h := range histories {
		txs := genHistory(rng, 1+rng.IntN(maxLen))
		want := expectedRecords(txs)
		var firstRecords []recordState
		var firstIDs map[string]bool
		for perm := range perms {
			order := rng.Perm(len(txs))
			seq := withDuplicates(rng, txs, order)
			applies += len(seq)
			s := open(rng)
			ids := runHistory(t, p, s, seq)
			got := recordStates(t, s)
			s.release(t)
			if len(got) != len(want) {
				t.Errorf("history %d, permutation %d: %d records, want %d:\n%s", h, perm, len(got), len(want), describe(txs, order))
			}
			for _, r := range got {
				k := propKey{r.item, r.loc, r.lot}
				w, ok := want[k]
				if !ok || r != w {
					t.Fatalf("history %d, permutation %d: record %s, the spec says %s\n%s", h, perm, r, w, describe(txs, order))
				}
			}
			if perm == 0 {
				firstRecords, firstIDs = got, ids
				continue
			}
			if fmtList(got) != fmtList(firstRecords) {
				t.Fatalf("history %d: permutations disagree:\n%s\n%s", h, fmtList(firstRecords), fmtList(got))
			}
			if len(ids) != len(firstIDs) {
				t.Fatalf("history %d: %d eventIds, the first permutation had %d", h, len(ids), len(firstIDs))
			}
			for id := range ids {
				if !firstIDs[id] {
					t.Fatalf("history %d: eventId %s not yielded by the first permutation", h, id)
				}
			}
		}
	}
	t.Logf("%d histories x %d permutations, %d applies", histories, perms, applies)
}

// TestPropertyReapplyingAPrefixChangesNothing: at every point of a
// history, re-delivering any prefix of what was applied (a consumer
// re-reading from an earlier offset) changes nothing, whenever it happens.
// On the tests' store and on Pebble batches alike.
func TestPropertyReapplyingAPrefixChangesNothing(t *testing.T) {
	for _, st := range propertyStores {
		t.Run(st.name, func(t *testing.T) {
			histories := 150
			if st.name == "pebble" {
				histories = pebbleHistories(100)
			}
			if testing.Short() {
				histories /= 5
			}
			testReapplyingAPrefix(t, histories, func(rng *rand.Rand) runStore { return st.open(t, rng) })
		})
	}
}

func testReapplyingAPrefix(t *testing.T, histories int, open func(*rand.Rand) runStore) {
	rng := propertyRand(t)
	const maxLen = 50
	p := New(Config{})
	for h := range histories {
		txs := genHistory(rng, 1+rng.IntN(maxLen))
		order := rng.Perm(len(txs))
		s := open(rng)
		now := t0.Add(6 * time.Hour)
		for k, j := range order {
			now = now.Add(time.Second)
			mustApply(t, p, s, txs[j], now)
			s.boundary(t)
			before := dumpStore(t, s)
			prefix := order[:1+rng.IntN(k+1)]
			if k == len(order)-1 {
				prefix = order // and finally the whole history
			}
			for _, i := range prefix {
				now = now.Add(time.Millisecond)
				if res := mustApply(t, p, s, txs[i], now); !res.Duplicate || len(res.Events) != 0 {
					t.Fatalf("history %d: re-applying %s after %d transactions: %+v, want a duplicate", h, txs[i].TransactionID, k+1, res)
				}
				s.boundary(t)
			}
			if after := dumpStore(t, s); after != before {
				t.Fatalf("history %d: re-applying a prefix of %d after %d transactions changed the store:\n%s",
					h, len(prefix), k+1, describe(txs, order))
			}
		}
		want := expectedRecords(txs)
		for _, r := range recordStates(t, s) {
			if w := want[propKey{r.item, r.loc, r.lot}]; r != w {
				t.Fatalf("history %d: record %s, the spec says %s", h, r, w)
			}
		}
		s.release(t)
	}
}

// describe lists a history in the order it was applied, for failures.
func describe(txs []*Transaction, order []int) string {
	var b []byte
	for _, i := range order {
		tx := txs[i]
		b = fmt.Appendf(b, "  %-4s %-11s %s %s->%s lot %q q=%d at +%dms\n", tx.TransactionID, tx.Type, tx.ItemID,
			tx.LocationID, tx.ToLocationID, tx.LotNumber, tx.Quantity, tx.CorrectedTimestamp.Sub(t0).Milliseconds())
	}
	return string(b)
}
