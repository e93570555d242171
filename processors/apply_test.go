package processors

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// want is the expected result of one Apply.
type want struct {
	status   string
	code     string
	onHand   int64 // Outcome.ResultingOnHand
	version  int64 // Outcome.Version
	warnings []string
	// changes is the QuantityChange of each event, in order; a rejection
	// or a duplicate has none.
	changes   []int64
	duplicate bool
	mismatch  bool
}

// applied: the outcome reports onHand and version (of the first leg), and
// one event per leg made the given changes.
func applied(onHand, version int64, changes ...int64) want {
	return want{status: StatusApplied, onHand: onHand, version: version, changes: changes}
}

// rejected: the outcome reports the record as it stays.
func rejected(code string, onHand, version int64) want {
	return want{status: StatusRejected, code: code, onHand: onHand, version: version}
}

// dup: the transactionId was seen; the stored outcome w comes back and
// nothing happens.
func dup(w want) want {
	w.duplicate, w.changes = true, nil
	return w
}

func (w want) warn(ws ...string) want { w.warnings = ws; return w }
func (w want) mismatched() want       { w.mismatch = true; return w }

type step struct {
	tx   *Transaction
	want want
}

// A conflictCase is a sequence of transactions applied in order to a fresh
// store, each with its expected outcome, then the expected records.
type conflictCase struct {
	name   string
	cfg    Config
	steps  []step
	final  []recordState  // every record in the store, in key order; item "" is testItem
	ledger map[string]int // optional: "loc/lot" -> number of ledger entries
}

var conflictCases = []conflictCase{
	// Deltas commute.
	{
		name: "RECEIPT adds its quantity",
		steps: []step{
			{receipt("r1", 10, locA, 5), applied(5, 1, +5)},
			{receipt("r2", 20, locA, 3), applied(8, 2, +3)},
		},
		final: []recordState{{loc: locA, onHand: 8, version: 2}},
	},
	{
		name: "PICK subtracts its quantity",
		steps: []step{
			{receipt("r1", 10, locA, 10), applied(10, 1, +10)},
			{pick("p1", 20, locA, 4), applied(6, 2, -4)},
		},
		final: []recordState{{loc: locA, onHand: 6, version: 2}},
	},
	{
		name: "ADJUSTMENT adds its signed delta",
		steps: []step{
			{adjust("a1", 10, locA, +7), applied(7, 1, +7)},
			{adjust("a2", 20, locA, -3), applied(4, 2, -3)},
		},
		final: []recordState{{loc: locA, onHand: 4, version: 2}},
	},
	{
		name: "MOVE takes its quantity from locationId and gives it to toLocationId with one event each",
		steps: []step{
			{receipt("r1", 10, locA, 10), applied(10, 1, +10)},
			// The outcome reports the from-location.
			{move("m1", 20, locA, locB, 4), applied(6, 2, -4, +4)},
			{move("m2", 30, locB, locA, 1), applied(3, 2, -1, +1)},
		},
		final: []recordState{{loc: locA, onHand: 7, version: 3}, {loc: locB, onHand: 3, version: 2}},
	},
	{
		name: "deltas apply whatever their arrival order when there is no count",
		steps: []step{
			{pick("p1", 30, locA, 4), applied(-4, 1, -4).warn(WarnNegativeOnHand)},
			{receipt("r1", 10, locA, 10), applied(6, 2, +10)},
			{adjust("a1", 5, locA, -1), applied(5, 3, -1)},
			{move("m1", 1, locB, locA, 2), applied(-2, 1, -2, +2).warn(WarnNegativeOnHand)},
		},
		final:  []recordState{{loc: locA, onHand: 7, version: 4}, {loc: locB, onHand: -2, version: 1}},
		ledger: map[string]int{locA + "/": 4, locB + "/": 1},
	},

	// A count is an observation at a moment.
	{
		name: "CYCLE_COUNT with no later deltas sets onHand to the counted quantity",
		steps: []step{
			{receipt("r1", 10, locA, 5), applied(5, 1, +5)},
			{count("c1", 20, locA, 100), applied(100, 2, +95)},
		},
		final:  []recordState{{loc: locA, onHand: 100, version: 2}},
		ledger: map[string]int{locA + "/": 0},
	},
	{
		name: "CYCLE_COUNT on a record never seen before sets onHand",
		steps: []step{
			{count("c1", 20, locA, 40), applied(40, 1, +40)},
		},
		final: []recordState{{loc: locA, onHand: 40, version: 1}},
	},
	{
		name: "CYCLE_COUNT of zero empties the location",
		steps: []step{
			{receipt("r1", 10, locA, 5), applied(5, 1, +5)},
			{count("c1", 20, locA, 0), applied(0, 2, -5)},
		},
		final: []recordState{{loc: locA, onHand: 0, version: 2}},
	},
	{
		name: "late CYCLE_COUNT of C at T sets onHand to C plus the deltas after T",
		steps: []step{
			{receipt("r1", 10, locA, 5), applied(5, 1, +5)},
			{pick("p1", 30, locA, 2), applied(3, 2, -2)},
			{adjust("a1", 40, locA, +10), applied(13, 3, +10)},
			{move("m1", 50, locB, locA, 1), applied(-1, 1, -1, +1).warn(WarnNegativeOnHand)},
			// 100 - 2 + 10 + 1; r1 at 10 is before the count and dropped.
			{count("c1", 20, locA, 100), applied(109, 5, +95)},
		},
		final:  []recordState{{loc: locA, onHand: 109, version: 5}, {loc: locB, onHand: -1, version: 1}},
		ledger: map[string]int{locA + "/": 3},
	},
	{
		name: "delta older than the latest count is recorded but does not change onHand",
		steps: []step{
			{count("c1", 20, locA, 100), applied(100, 1, +100)},
			{receipt("r1", 10, locA, 5), applied(100, 2, 0).warn(WarnBeforeLatestCount)},
			{pick("p1", 15, locA, 7), applied(100, 3, 0).warn(WarnBeforeLatestCount)},
			{adjust("a1", 19, locA, -1), applied(100, 4, 0).warn(WarnBeforeLatestCount)},
			// Only the leg at the counted location was seen by the count.
			{move("m1", 15, locA, locB, 3), applied(100, 5, 0, +3).warn(WarnBeforeLatestCount)},
		},
		final:  []recordState{{loc: locA, onHand: 100, version: 5}, {loc: locB, onHand: 3, version: 1}},
		ledger: map[string]int{locA + "/": 0, locB + "/": 1},
	},
	{
		name: "delta after the latest count changes onHand",
		steps: []step{
			{count("c1", 20, locA, 100), applied(100, 1, +100)},
			{pick("p1", 30, locA, 3), applied(97, 2, -3)},
			{move("m1", 21, locB, locA, 2), applied(-2, 1, -2, +2).warn(WarnNegativeOnHand)},
		},
		final: []recordState{{loc: locA, onHand: 99, version: 3}, {loc: locB, onHand: -2, version: 1}},
	},
	{
		name: "CYCLE_COUNT older than the latest count is recorded but does not change onHand",
		steps: []step{
			{count("c2", 20, locA, 100), applied(100, 1, +100)},
			{count("c1", 10, locA, 50), applied(100, 2, 0).warn(WarnSupersededCount)},
			// The superseded count did not become the latest: a delta
			// between the two is still before the latest count.
			{receipt("r1", 15, locA, 5), applied(100, 3, 0).warn(WarnBeforeLatestCount)},
		},
		final: []recordState{{loc: locA, onHand: 100, version: 3}},
	},
	{
		name: "newer count replaces the older one and drops the deltas between them",
		steps: []step{
			{receipt("r0", 5, locA, 10), applied(10, 1, +10)},
			{count("c1", 10, locA, 50), applied(50, 2, +40)},
			{receipt("r1", 15, locA, 5), applied(55, 3, +5)},
			{pick("p1", 25, locA, 2), applied(53, 4, -2)},
			{count("c2", 20, locA, 70), applied(68, 5, +15)},
			{adjust("a1", 12, locA, 1), applied(68, 6, 0).warn(WarnBeforeLatestCount)},
			{count("c0", 1, locA, 1), applied(68, 7, 0).warn(WarnSupersededCount)},
		},
		final:  []recordState{{loc: locA, onHand: 68, version: 7}},
		ledger: map[string]int{locA + "/": 1},
	},

	// Equal times are ordered by transactionId.
	{
		name: "at the count's time a delta with a smaller transactionId is before the count and one with a larger is after",
		steps: []step{
			{count("m", 20, locA, 100), applied(100, 1, +100)},
			{receipt("a", 20, locA, 5), applied(100, 2, 0).warn(WarnBeforeLatestCount)},
			{receipt("z", 20, locA, 7), applied(107, 3, +7)},
		},
		final: []recordState{{loc: locA, onHand: 107, version: 3}},
	},
	{
		name: "count at the time of earlier-applied deltas is rebased only on those with a larger transactionId",
		steps: []step{
			{receipt("a", 20, locA, 5), applied(5, 1, +5)},
			{receipt("z", 20, locA, 7), applied(12, 2, +7)},
			{count("m", 20, locA, 100), applied(107, 3, +95)},
		},
		final:  []recordState{{loc: locA, onHand: 107, version: 3}},
		ledger: map[string]int{locA + "/": 1},
	},
	{
		name: "transactionIds compare as strings: a prefix sorts before its extensions",
		steps: []step{
			{receipt("ab0", 20, locA, 1), applied(1, 1, +1)},
			{count("ab", 20, locA, 100), applied(101, 2, +100)},
			{receipt("a", 20, locA, 5), applied(101, 3, 0).warn(WarnBeforeLatestCount)},
			{receipt("abc", 20, locA, 7), applied(108, 4, +7)},
		},
		final: []recordState{{loc: locA, onHand: 108, version: 4}},
	},
	{
		name: "of two counts at one time the larger transactionId wins when it arrives first",
		steps: []step{
			{count("b", 20, locA, 100), applied(100, 1, +100)},
			{count("a", 20, locA, 50), applied(100, 2, 0).warn(WarnSupersededCount)},
		},
		final: []recordState{{loc: locA, onHand: 100, version: 2}},
	},
	{
		name: "of two counts at one time the larger transactionId wins when it arrives last",
		steps: []step{
			{count("a", 20, locA, 50), applied(50, 1, +50)},
			{count("b", 20, locA, 100), applied(100, 2, +50)},
		},
		final: []recordState{{loc: locA, onHand: 100, version: 2}},
	},
	{
		name: "the millisecond decides before the transactionId",
		steps: []step{
			{count("z", 20, locA, 100), applied(100, 1, +100)},
			{newTxAt(Receipt, "a", sec(20).Add(time.Millisecond), locA, 5), applied(105, 2, +5)},
			{newTxAt(Receipt, "zz", sec(20).Add(-time.Millisecond), locA, 5), applied(105, 3, 0).warn(WarnBeforeLatestCount)},
		},
		final: []recordState{{loc: locA, onHand: 105, version: 3}},
	},

	// The ledger window (1h here; the first apply of a record always
	// prunes, then at most once an hour of receive time).
	{
		name: "count older than the window is rejected COUNT_OUTSIDE_WINDOW and changes nothing",
		cfg:  Config{LedgerWindow: time.Hour},
		steps: []step{
			{receipt("r1", 0, locA, 5, receivedAt(30*time.Minute)), applied(5, 1, +5)},
			{count("c1", 0, locA, 100, receivedAt(2*time.Hour)), rejected(CodeCountOutsideWindow, 5, 1)},
			{receipt("r2", 7200, locA, 1, receivedAt(2*time.Hour)), applied(6, 2, +1)},
		},
		final: []recordState{{loc: locA, onHand: 6, version: 2}},
	},
	{
		name: "count exactly at the window's edge is applied",
		cfg:  Config{LedgerWindow: time.Hour},
		steps: []step{
			{count("c1", 3600, locA, 40, receivedAt(2*time.Hour)), applied(40, 1, +40)},
		},
		final: []recordState{{loc: locA, onHand: 40, version: 1}},
	},
	{
		name: "ledger entries older than the window are pruned and onHand keeps them",
		cfg:  Config{LedgerWindow: time.Hour},
		steps: []step{
			{receipt("r1", 0, locA, 5, receivedAt(10*time.Minute)), applied(5, 1, +5)},
			// Less than PruneEvery (1h) of receive time later: no sweep.
			{receipt("r2", 1800, locA, 3, receivedAt(30*time.Minute)), applied(8, 2, +3)},
			// Sweeps everything before 2h-1h.
			{receipt("r3", 7200, locA, 1, receivedAt(2*time.Hour)), applied(9, 3, +1)},
		},
		final:  []recordState{{loc: locA, onHand: 9, version: 3}},
		ledger: map[string]int{locA + "/": 1},
	},
	{
		name: "ledger is swept at most once per PruneEvery of receive time",
		cfg:  Config{LedgerWindow: time.Hour, PruneEvery: time.Hour},
		steps: []step{
			{receipt("r1", 0, locA, 5, receivedAt(10*time.Minute)), applied(5, 1, +5)},
			// r1 is now older than the window, but the last sweep was 55
			// minutes of receive time ago.
			{receipt("r2", 3900, locA, 3, receivedAt(65*time.Minute)), applied(8, 2, +3)},
		},
		final:  []recordState{{loc: locA, onHand: 8, version: 2}},
		ledger: map[string]int{locA + "/": 2},
	},
	{
		name: "count older than what the pruned ledger still holds is rejected COUNT_OUTSIDE_WINDOW",
		cfg:  Config{LedgerWindow: time.Hour},
		steps: []step{
			// A delta older than the window is still a fact: applied, not kept.
			{receipt("r1", 0, locA, 5, receivedAt(3*time.Hour)), applied(5, 1, +5)},
			// Inside its own window (received at 2h), but the ledger was
			// pruned up to 3h-1h.
			{count("c1", 5400, locA, 100, receivedAt(2*time.Hour)), rejected(CodeCountOutsideWindow, 5, 1)},
			{count("c2", 7200, locA, 100, receivedAt(2*time.Hour)), applied(100, 2, +95)},
		},
		final:  []recordState{{loc: locA, onHand: 100, version: 2}},
		ledger: map[string]int{locA + "/": 0},
	},
	{
		// Implemented choice: the superseded check comes first, so an old
		// count is rejected only if it would have been applied. onHand is
		// the same either way.
		name: "count older than the window and older than the latest count is recorded as superseded",
		cfg:  Config{LedgerWindow: time.Hour},
		steps: []step{
			{count("c2", 7200, locA, 100, receivedAt(2*time.Hour)), applied(100, 1, +100)},
			{count("c1", 0, locA, 50, receivedAt(2*time.Hour)), applied(100, 2, 0).warn(WarnSupersededCount)},
		},
		final: []recordState{{loc: locA, onHand: 100, version: 2}},
	},

	// Optimistic concurrency.
	{
		name: "expectedVersion equal to the record's version is applied",
		steps: []step{
			{receipt("r1", 10, locA, 10), applied(10, 1, +10)},
			{pick("p1", 20, locA, 3, expectVersion(1)), applied(7, 2, -3)},
			{count("c1", 30, locA, 6, expectVersion(2)), applied(6, 3, -1)},
		},
		final: []recordState{{loc: locA, onHand: 6, version: 3}},
	},
	{
		name: "expectedVersion 0 matches a record never written",
		steps: []step{
			{count("c1", 10, locA, 5, expectVersion(0)), applied(5, 1, +5)},
		},
		final: []recordState{{loc: locA, onHand: 5, version: 1}},
	},
	{
		name: "expectedVersion other than the record's version is rejected VERSION_CONFLICT and changes nothing",
		steps: []step{
			{receipt("r1", 10, locA, 10), applied(10, 1, +10)},
			{pick("p1", 20, locA, 3, expectVersion(0)), rejected(CodeVersionConflict, 10, 1)},
			{count("c1", 30, locA, 3, expectVersion(2)), rejected(CodeVersionConflict, 10, 1)},
			{receipt("r2", 40, locA, 1), applied(11, 2, +1)},
		},
		final: []recordState{{loc: locA, onHand: 11, version: 2}},
	},
	{
		name: "expectedVersion of a MOVE is checked against its from-location",
		steps: []step{
			{receipt("r1", 10, locA, 10), applied(10, 1, +10)},
			{receipt("r2", 10, locB, 1), applied(1, 1, +1)},
			{receipt("r3", 11, locB, 1), applied(2, 2, +1)},
			{move("m1", 20, locA, locB, 4, expectVersion(2)), rejected(CodeVersionConflict, 10, 1)},
			{move("m2", 20, locA, locB, 4, expectVersion(1)), applied(6, 2, -4, +4)},
		},
		final: []recordState{{loc: locA, onHand: 6, version: 2}, {loc: locB, onHand: 6, version: 3}},
	},

	// A scan is a fact.
	{
		name: "PICK that drives onHand below zero is applied with NEGATIVE_ON_HAND",
		steps: []step{
			{receipt("r1", 10, locA, 2), applied(2, 1, +2)},
			{pick("p1", 20, locA, 5), applied(-3, 2, -5).warn(WarnNegativeOnHand)},
			// Flagged as long as the record stays below zero.
			{receipt("r2", 30, locA, 1), applied(-2, 3, +1).warn(WarnNegativeOnHand)},
			{receipt("r3", 40, locA, 2), applied(0, 4, +2)},
		},
		final: []recordState{{loc: locA, onHand: 0, version: 4}},
	},
	{
		name: "MOVE out of an empty location is applied with NEGATIVE_ON_HAND",
		steps: []step{
			{move("m1", 10, locA, locB, 3), applied(-3, 1, -3, +3).warn(WarnNegativeOnHand)},
		},
		final: []recordState{{loc: locA, onHand: -3, version: 1}, {loc: locB, onHand: 3, version: 1}},
	},
	{
		name: "warning shared by both legs of a MOVE is reported once",
		steps: []step{
			{pick("p1", 10, locB, 5), applied(-5, 1, -5).warn(WarnNegativeOnHand)},
			{move("m1", 20, locA, locB, 2), applied(-2, 1, -2, +2).warn(WarnNegativeOnHand)},
		},
		final: []recordState{{loc: locA, onHand: -2, version: 1}, {loc: locB, onHand: -3, version: 2}},
	},

	// Idempotency.
	{
		name: "same transactionId again changes nothing and returns the stored outcome",
		steps: []step{
			{receipt("r1", 10, locA, 5), applied(5, 1, +5)},
			{receipt("r1", 10, locA, 5), dup(applied(5, 1))},
			{pick("p1", 20, locA, 1), applied(4, 2, -1)},
			// The stored outcome, not the record's current state.
			{receipt("r1", 10, locA, 5), dup(applied(5, 1))},
		},
		final: []recordState{{loc: locA, onHand: 4, version: 2}},
	},
	{
		name: "same transactionId with another body is a duplicate with a mismatch",
		steps: []step{
			{receipt("r1", 10, locA, 5), applied(5, 1, +5)},
			{receipt("r1", 10, locA, 6), dup(applied(5, 1)).mismatched()},
			{pick("r1", 10, locA, 5), dup(applied(5, 1)).mismatched()},
		},
		final: []recordState{{loc: locA, onHand: 5, version: 1}},
	},
	{
		name: "rejected transactionId stays rejected when sent again",
		steps: []step{
			{receipt("r1", 10, locA, 5), applied(5, 1, +5)},
			{pick("p1", 20, locA, 1, expectVersion(7)), rejected(CodeVersionConflict, 5, 1)},
			{pick("p1", 20, locA, 1, expectVersion(7)), dup(rejected(CodeVersionConflict, 5, 1))},
			// Now matching the version, but the id is spent.
			{pick("p1", 20, locA, 1, expectVersion(1)), dup(rejected(CodeVersionConflict, 5, 1)).mismatched()},
		},
		final: []recordState{{loc: locA, onHand: 5, version: 1}},
	},
	{
		name: "MOVE sent again changes neither location",
		steps: []step{
			{receipt("r1", 10, locA, 10), applied(10, 1, +10)},
			{move("m1", 20, locA, locB, 4), applied(6, 2, -4, +4)},
			{move("m1", 20, locA, locB, 4), dup(applied(6, 2))},
		},
		final: []recordState{{loc: locA, onHand: 6, version: 2}, {loc: locB, onHand: 4, version: 1}},
	},

	// Records are independent.
	{
		name: "records of different locations are independent",
		steps: []step{
			{receipt("r1", 10, locA, 5), applied(5, 1, +5)},
			{receipt("r2", 10, locB, 7), applied(7, 1, +7)},
			{count("c1", 20, locA, 1), applied(1, 2, -4)},
			{receipt("r3", 15, locB, 1), applied(8, 2, +1)},
		},
		final: []recordState{{loc: locA, onHand: 1, version: 2}, {loc: locB, onHand: 8, version: 2}},
	},
	{
		name: "records of different lots are independent",
		steps: []step{
			{receipt("r1", 10, locA, 5, lot("L1")), applied(5, 1, +5)},
			{receipt("r2", 10, locA, 7, lot("L2")), applied(7, 1, +7)},
			{count("c1", 20, locA, 1, lot("L1")), applied(1, 2, -4)},
			{receipt("r3", 15, locA, 1, lot("L2")), applied(8, 2, +1)},
			{move("m1", 16, locA, locB, 2, lot("L2")), applied(6, 3, -2, +2)},
		},
		final: []recordState{
			{loc: locA, lot: "L1", onHand: 1, version: 2},
			{loc: locA, lot: "L2", onHand: 6, version: 3},
			{loc: locB, lot: "L2", onHand: 2, version: 1},
		},
	},
	{
		name: "identifiers that extend another are different records",
		steps: []step{
			{receipt("r1", 20, "A-05", 5, lot("L2")), applied(5, 1, +5)},
			{receipt("r2", 20, "A-05-02", 6, lot("L")), applied(6, 1, +6)},
			{receipt("r3", 20, "A-05", 7, lot("L"), item("ITEM-123456")), applied(7, 1, +7)},
			{receipt("r4", 20, "A-05", 8, lot("")), applied(8, 1, +8)},
			// Rebased only on its own record's deltas: none.
			{count("c1", 10, "A-05", 100, lot("L")), applied(100, 1, +100)},
		},
		final: []recordState{
			{loc: "A-05", lot: "", onHand: 8, version: 1},
			{loc: "A-05", lot: "L", onHand: 100, version: 1},
			{loc: "A-05", lot: "L2", onHand: 5, version: 1},
			{loc: "A-05-02", lot: "L", onHand: 6, version: 1},
			{item: "ITEM-123456", loc: "A-05", lot: "L", onHand: 7, version: 1},
		},
	},
}

// newTxAt is newTx with a corrected time finer than a second.
func newTxAt(typ TxType, id string, at time.Time, loc string, qty int64) *Transaction {
	tx := newTx(typ, id, 0, loc, qty)
	tx.CorrectedTimestamp, tx.DeviceTimestamp = at, at
	tx.BodyHash = tx.Hash()
	return tx
}

func TestConflictRules(t *testing.T) {
	for _, tc := range conflictCases {
		t.Run(tc.name, func(t *testing.T) {
			p := New(tc.cfg)
			s := newMemStore()
			for i, st := range tc.steps {
				now := t0.Add(3*time.Hour + time.Duration(i)*time.Second)
				checkStep(t, p, s, st, now, i)
			}
			got := recordStates(t, s)
			wantFinal := slices.Clone(tc.final)
			for i := range wantFinal {
				if wantFinal[i].item == "" {
					wantFinal[i].item = testItem
				}
			}
			if !slices.Equal(got, wantFinal) {
				t.Errorf("records:\n got %s\nwant %s", fmtList(got), fmtList(wantFinal))
			}
			for ll, n := range tc.ledger {
				loc, lt, _ := strings.Cut(ll, "/")
				if got := ledgerLen(s, testItem, loc, lt); got != n {
					t.Errorf("ledger of %s holds %d entries, want %d", ll, got, n)
				}
			}
		})
	}
}

// checkStep applies one step and checks its outcome, its events, the
// stored outcome, and what may have changed in the store.
func checkStep(t *testing.T, p *Processor, s *memStore, st step, now time.Time, i int) {
	t.Helper()
	tx, w := st.tx, st.want
	before := s.Clone()
	res := mustApply(t, p, s, tx, now)
	o := res.Outcome
	where := fmt.Sprintf("step %d (%s %s)", i, tx.Type, tx.TransactionID)

	if o.Status != w.status || o.Code != w.code || o.ResultingOnHand != w.onHand || o.Version != w.version {
		t.Errorf("%s: outcome %s %q onHand=%d v%d, want %s %q onHand=%d v%d (%s)", where,
			o.Status, o.Code, o.ResultingOnHand, o.Version, w.status, w.code, w.onHand, w.version, o.Message)
	}
	if !sameStrings(o.Warnings, w.warnings) {
		t.Errorf("%s: warnings %v, want %v", where, o.Warnings, w.warnings)
	}
	if (o.Status == StatusRejected) != (o.Message != "") {
		t.Errorf("%s: status %s with message %q: a rejection, and only a rejection, explains itself", where, o.Status, o.Message)
	}
	if res.Duplicate != w.duplicate || res.Mismatch != w.mismatch {
		t.Errorf("%s: Duplicate=%v Mismatch=%v, want %v %v", where, res.Duplicate, res.Mismatch, w.duplicate, w.mismatch)
	}
	var changes []int64
	for _, e := range res.Events {
		changes = append(changes, e.QuantityChange)
	}
	if !slices.Equal(changes, w.changes) {
		t.Errorf("%s: event quantity changes %v, want %v", where, changes, w.changes)
	}

	stored, ok, err := LookupOutcome(s, tx.TransactionID)
	if err != nil || !ok {
		t.Fatalf("%s: stored outcome: %v, %v", where, ok, err)
	}
	if !outcomesEqual(stored, o) {
		t.Errorf("%s: stored outcome %+v differs from the returned %+v", where, stored, o)
	}

	switch {
	case res.Duplicate:
		if got, want := s.Dump(), before.Dump(); got != want {
			t.Errorf("%s: a duplicate changed the store:\n got %s\nwant %s", where, got, want)
		}
	case o.Status == StatusRejected:
		// Only the outcome (the idempotency entry) is written.
		_ = before.Set(OutcomeKey(tx.TransactionID), EncodeOutcome(&o))
		if got, want := s.Dump(), before.Dump(); got != want {
			t.Errorf("%s: a rejection changed more than its outcome:\n got %s\nwant %s", where, got, want)
		}
	default:
		checkEvents(t, s, tx, res, now, where)
	}
}

// checkEvents checks what every event of an applied transaction must say,
// whatever the rule: the record after it, and the transaction's fields.
func checkEvents(t *testing.T, s *memStore, tx *Transaction, res Result, now time.Time, where string) {
	t.Helper()
	if res.Outcome.AppliedAt != now.UnixMilli() {
		t.Errorf("%s: AppliedAt %d, want %d", where, res.Outcome.AppliedAt, now.UnixMilli())
	}
	legs, reservations := 0, 0
	for _, e := range res.Events {
		if e.Type != Reservation {
			legs++
		}
	}
	for n, e := range res.Events {
		r, err := loadRecord(s, e.WarehouseID, e.ItemID, e.LocationID, e.LotNumber)
		if err != nil {
			t.Fatal(err)
		}
		if e.Type == Reservation {
			// Another record whose reservation the transaction moved
			// (a shortfall): restated as it stands, after the legs.
			reservations++
			if n < legs || e.QuantityChange != 0 || e.TransactionID != tx.TransactionID ||
				e.EventID != fmt.Sprintf("evt-%s-r%d", tx.TransactionID, reservations) ||
				e.ResultingOnHand != r.OnHand || e.Version != r.Version || e.Allocated != r.Allocated || e.Available != r.Available() {
				t.Errorf("%s: reservation event %d %+v does not restate its record %+v", where, n, e, r)
			}
			if e.LocationID == tx.LocationID || (tx.Type == Move && e.LocationID == tx.ToLocationID) {
				if e.LotNumber == tx.LotNumber {
					t.Errorf("%s: reservation event %d is about a record the legs already report", where, n)
				}
			}
			continue
		}
		wantLoc := tx.LocationID
		if n == 1 {
			wantLoc = tx.ToLocationID
		}
		if e.LocationID != wantLoc || e.WarehouseID != tx.WarehouseID || e.ItemID != tx.ItemID || e.LotNumber != tx.LotNumber {
			t.Errorf("%s: event %d is about %s/%s/%s/%q, want location %s", where, n, e.WarehouseID, e.ItemID, e.LocationID, e.LotNumber, wantLoc)
		}
		if e.ResultingOnHand != r.OnHand || e.Version != r.Version || e.Allocated != r.Allocated || e.Available != r.Available() {
			t.Errorf("%s: event %d says onHand=%d v%d allocated=%d available=%d; the record is %+v", where, n,
				e.ResultingOnHand, e.Version, e.Allocated, e.Available, r)
		}
		if r.UpdatedAt != now.UnixMilli() {
			t.Errorf("%s: record %s updatedAt %d, want %d", where, e.LocationID, r.UpdatedAt, now.UnixMilli())
		}
		if e.EventID != EventID(tx.TransactionID, n, legs) || e.TransactionID != tx.TransactionID ||
			e.Type != tx.Type || !e.Timestamp.Equal(now) || e.ScannerID != tx.ScannerID || e.UserID != tx.UserID ||
			!e.DeviceTimestamp.Equal(tx.DeviceTimestamp) || !e.CorrectedTimestamp.Equal(tx.CorrectedTimestamp) ||
			e.AllocationID != tx.AllocationID {
			t.Errorf("%s: event %d does not carry the transaction: %+v", where, n, e)
		}
		for _, warn := range e.Warnings {
			if !slices.Contains(res.Outcome.Warnings, warn) {
				t.Errorf("%s: event %d warns %s, the outcome does not", where, n, warn)
			}
		}
		if (e.ResultingOnHand < 0) != slices.Contains(e.Warnings, WarnNegativeOnHand) {
			t.Errorf("%s: event %d onHand=%d with warnings %v", where, n, e.ResultingOnHand, e.Warnings)
		}
	}
	if len(res.Events) > 0 && (res.Outcome.ResultingOnHand != res.Events[0].ResultingOnHand || res.Outcome.Version != res.Events[0].Version) {
		t.Errorf("%s: outcome onHand=%d v%d, its first event onHand=%d v%d", where,
			res.Outcome.ResultingOnHand, res.Outcome.Version, res.Events[0].ResultingOnHand, res.Events[0].Version)
	}
}

func outcomesEqual(a, b Outcome) bool {
	return a.TransactionID == b.TransactionID && a.Status == b.Status && a.Code == b.Code &&
		a.Message == b.Message && a.ResultingOnHand == b.ResultingOnHand && a.Version == b.Version &&
		sameStrings(a.Warnings, b.Warnings) && bytes.Equal(a.BodyHash, b.BodyHash) && a.AppliedAt == b.AppliedAt
}

// TestDeltasCommute applies every order of a set of deltas, a MOVE among
// them, and expects one end state.
func TestDeltasCommute(t *testing.T) {
	txs := []*Transaction{
		receipt("r1", 10, locA, 10),
		pick("p1", 20, locA, 4),
		adjust("a1", 5, locA, -3),
		adjust("a2", 5, locB, 6),
		move("m1", 15, locA, locB, 2),
	}
	want := []recordState{
		{item: testItem, loc: locA, onHand: 10 - 4 - 3 - 2, version: 4},
		{item: testItem, loc: locB, onHand: 6 + 2, version: 2},
	}
	p := New(Config{})
	orders := 0
	for perm := range permutations(len(txs)) {
		s := newMemStore()
		for _, i := range perm {
			mustApply(t, p, s, txs[i], t0.Add(2*time.Hour))
		}
		if got := recordStates(t, s); !slices.Equal(got, want) {
			t.Errorf("order %v: %s, want %s", perm, fmtList(got), fmtList(want))
		}
		orders++
	}
	if orders != 120 {
		t.Fatalf("tried %d orders, want 5! = 120", orders)
	}
}

// permutations yields every order of 0..n-1 (Heap's algorithm); the
// yielded slice is reused.
func permutations(n int) func(func([]int) bool) {
	return func(yield func([]int) bool) {
		a := make([]int, n)
		for i := range a {
			a[i] = i
		}
		var gen func(k int) bool
		gen = func(k int) bool {
			if k <= 1 {
				return yield(a)
			}
			for i := 0; i < k-1; i++ {
				if !gen(k - 1) {
					return false
				}
				if k%2 == 0 {
					a[i], a[k-1] = a[k-1], a[i]
				} else {
					a[0], a[k-1] = a[k-1], a[0]
				}
			}
			return gen(k - 1)
		}
		gen(n)
	}
}

func TestApplyEventsOfAMove(t *testing.T) {
	p := New(Config{})
	s := newMemStore()
	now := t0.Add(2 * time.Hour)
	mustApply(t, p, s, receipt("r1", 10, locA, 10, lot("L1")), now)
	tx := move("m1", 20, locA, locB, 4, lot("L1"))
	res := mustApply(t, p, s, tx, now)
	want := []Event{
		{EventID: "evt-m1-1", LocationID: locA, QuantityChange: -4, ResultingOnHand: 6, Version: 2, Available: 6},
		{EventID: "evt-m1-2", LocationID: locB, QuantityChange: +4, ResultingOnHand: 4, Version: 1, Available: 4},
	}
	if len(res.Events) != len(want) {
		t.Fatalf("%d events, want %d", len(res.Events), len(want))
	}
	for i, w := range want {
		e := res.Events[i]
		if e.EventID != w.EventID || e.LocationID != w.LocationID || e.QuantityChange != w.QuantityChange ||
			e.ResultingOnHand != w.ResultingOnHand || e.Version != w.Version || e.Available != w.Available ||
			e.LotNumber != "L1" || e.Type != Move || e.WarehouseID != testWH || e.ItemID != testItem ||
			e.ScannerID != "SCANNER-08" || e.UserID != "warehouse_user_23" || !e.Timestamp.Equal(now) ||
			!e.CorrectedTimestamp.Equal(sec(20)) || !e.DeviceTimestamp.Equal(sec(18)) || len(e.Warnings) != 0 {
			t.Errorf("event %d = %+v, want %+v", i, e, w)
		}
	}
}

func TestApplyPickCarriesAllocationID(t *testing.T) {
	p := New(Config{})
	s := newMemStore()
	res := mustApply(t, p, s, pick("p1", 10, locA, 2, allocation("ALLOC-1")), t0.Add(2*time.Hour))
	if len(res.Events) != 1 || res.Events[0].AllocationID != "ALLOC-1" || res.Events[0].EventID != "evt-p1-1" {
		t.Fatalf("events %+v, want one evt-p1-1 with allocationId ALLOC-1", res.Events)
	}
	// No such allocation: the pick is a plain pick, and says so.
	if w := res.Events[0].Warnings; !slices.Equal(w, []string{WarnNegativeOnHand, WarnAllocationNotActive}) {
		t.Errorf("event warnings %v, want [%s %s]", w, WarnNegativeOnHand, WarnAllocationNotActive)
	}
}

// TestEventIDIsDeterministic: an eventId is a function of the transaction
// and the leg alone. Over random histories whose transactionIds extend one
// another ("X", "X-1", "X-1-2"): every event's id is
// "evt-<transactionId>-<n>", n = 1, or 1 and 2 for a MOVE's source and
// destination; the same transaction applied to two fresh replicas of the
// state, at different times, yields the same ids; applied in a batch that
// is lost (a crash before the commit) and applied again to the restored
// state, it yields the same events; and no two events of a history share
// an id.
func TestEventIDIsDeterministic(t *testing.T) {
	rng := propertyRand(t)
	p := New(Config{})
	histories := 100
	if testing.Short() {
		histories = 20
	}
	events := 0
	for h := range histories {
		txs := genCollidingHistory(rng, 1+rng.IntN(40))
		replicas := [2]*memStore{newMemStore(), newMemStore()}
		pb := openPebbleRun(t, rng).(*pebbleRun)
		owner := map[string]string{} // eventId -> the transaction and leg that yielded it
		for i, tx := range txs {
			now := t0.Add(6*time.Hour + time.Duration(i)*time.Second)
			first := mustApply(t, p, replicas[0], tx, now).Events
			other := mustApply(t, p, replicas[1], tx, now.Add(time.Minute)).Events
			pb.commit(t)
			lost := mustApply(t, p, pb, tx, now).Events
			pb.b.Discard() // never committed: the state is the committed one
			pb.b = pb.s.NewBatch(pebbleRunPartition)
			again := mustApply(t, p, pb, tx, now).Events

			if !reflect.DeepEqual(lost, first) || !reflect.DeepEqual(again, first) {
				t.Fatalf("history %d, %s %s: events differ between replicas or after a lost batch:\n%+v\n%+v\n%+v",
					h, tx.Type, tx.TransactionID, first, lost, again)
			}
			if got, want := eventIDs(other), eventIDs(first); !slices.Equal(got, want) {
				t.Fatalf("history %d, %s %s: ids %q applied later, %q applied first", h, tx.Type, tx.TransactionID, got, want)
			}

			legs := []string{tx.LocationID}
			if tx.Type == Move {
				legs = append(legs, tx.ToLocationID)
			}
			if len(first) != len(legs) {
				t.Fatalf("history %d, %s %s: %d events, want %d (every generated transaction applies)", h, tx.Type, tx.TransactionID, len(first), len(legs))
			}
			for n, e := range first {
				if want := "evt-" + tx.TransactionID + "-" + strconv.Itoa(n+1); e.EventID != want {
					t.Errorf("history %d, %s %s: event %d has id %q, want %q", h, tx.Type, tx.TransactionID, n, e.EventID, want)
				}
				if e.TransactionID != tx.TransactionID || e.LocationID != legs[n] {
					t.Errorf("history %d: event %s is of transaction %q at %s, want %q at %s", h, e.EventID, e.TransactionID, e.LocationID, tx.TransactionID, legs[n])
				}
				leg := fmt.Sprintf("%s %s leg %d", tx.Type, tx.TransactionID, n+1)
				if prev, dup := owner[e.EventID]; dup {
					t.Errorf("history %d: eventId %q yielded by %s and by %s", h, e.EventID, prev, leg)
				}
				owner[e.EventID] = leg
				events++
			}
		}
		pb.release(t)
	}
	t.Logf("%d histories, %d events", histories, events)
}

// genCollidingHistory is genHistory with transactionIds of "X", "-" and
// digits, so ids that extend one another and end like a leg number ("X",
// "X-1", "X-1-2") are common.
func genCollidingHistory(rng *rand.Rand, n int) []*Transaction {
	txs := genHistory(rng, n)
	used := map[string]bool{}
	for _, tx := range txs {
		for {
			b := make([]byte, 1+rng.IntN(5))
			for i := range b {
				b[i] = "X-12"[rng.IntN(4)]
			}
			if !used[string(b)] {
				used[string(b)] = true
				tx.TransactionID = string(b)
				break
			}
		}
		tx.BodyHash = tx.Hash()
	}
	return txs
}

func eventIDs(evs []Event) []string { return mapped(evs, func(e Event) string { return e.EventID }) }

// TestEventIDsAreUniqueAcrossTransactions: the chaos verifier counts
// duplicate eventIds, so two different transactions must never share one.
// transactionIds are free-form printable strings (CheckShape), so a
// single-event transaction "X-1" and the first leg of a MOVE "X" must not
// collide.
func TestEventIDsAreUniqueAcrossTransactions(t *testing.T) {
	p := New(Config{})
	s := newMemStore()
	seen := map[string]string{}
	for _, tx := range []*Transaction{
		receipt("X-1", 10, locA, 5),
		move("X", 20, locA, locB, 1),
		pick("X-2", 30, locB, 1),
	} {
		for _, e := range mustApply(t, p, s, tx, t0.Add(2*time.Hour)).Events {
			if other, ok := seen[e.EventID]; ok {
				t.Errorf("eventId %q is yielded by transaction %q and by transaction %q", e.EventID, other, tx.TransactionID)
			}
			seen[e.EventID] = tx.TransactionID
		}
	}
}

// TestApplyMoveWithinOneLocation: CheckShape rejects a MOVE whose
// toLocationId equals its locationId, but Apply does not check, and its
// two legs then load the same record twice: the second write wins and
// onHand grows by the quantity. Apply must leave such a MOVE without
// effect on onHand (or reject it).
func TestApplyMoveWithinOneLocation(t *testing.T) {
	p := New(Config{})
	s := newMemStore()
	mustApply(t, p, s, receipt("r1", 10, locA, 10), t0.Add(2*time.Hour))
	res := mustApply(t, p, s, move("m1", 20, locA, locA, 4), t0.Add(2*time.Hour))
	r, err := loadRecord(s, testWH, testItem, locA, "")
	if err != nil {
		t.Fatal(err)
	}
	if r.OnHand != 10 {
		t.Errorf("MOVE %s -> %s of 4: onHand %d, want 10 (outcome %s %s onHand=%d, events %d)",
			locA, locA, r.OnHand, res.Outcome.Status, res.Outcome.Code, res.Outcome.ResultingOnHand, len(res.Events))
	}
	if res.Outcome.Status == StatusApplied && res.Outcome.ResultingOnHand != r.OnHand {
		t.Errorf("outcome says onHand %d, the record holds %d", res.Outcome.ResultingOnHand, r.OnHand)
	}
}

func TestApplyUnknownTypeIsRejected(t *testing.T) {
	p := New(Config{})
	s := newMemStore()
	checkStep(t, p, s, step{newTx("SHRINK", "x1", 10, locA, 5), rejected(CodeInvalidTransaction, 0, 0)}, t0, 0)
	if recs := allRecords(t, s); len(recs) != 0 {
		t.Errorf("records after a rejected unknown type: %+v", recs)
	}
}

func TestPositions(t *testing.T) {
	p := New(Config{})
	s := newMemStore()
	for _, tx := range []*Transaction{
		receipt("r1", 10, locA, 1, lot("L1")),
		receipt("r2", 10, locA, 2, lot("L2")),
		receipt("r3", 10, locB, 3, lot("L1")),
		receipt("r4", 10, "A-05", 4, lot("L1")),
		receipt("r5", 10, locA, 5, lot("L1"), item("ITEM-1234")),
		receipt("r6", 10, locA, 6, lot("L1"), item("ITEM-123456")),
		newTx(Receipt, "r7", 10, locA, 7, lot("L1"), func(t *Transaction) { t.WarehouseID = "WH-002" }),
	} {
		mustApply(t, p, s, tx, t0.Add(time.Hour))
	}
	str := func(s string) *string { return &s }
	for _, c := range []struct {
		name     string
		loc, lot *string
		want     []int64 // onHand of the positions, in key order
	}{
		{"every location and lot", nil, nil, []int64{4, 1, 2, 3}},
		{"one location", str(locA), nil, []int64{1, 2}},
		{"a location that prefixes others", str("A-05"), nil, []int64{4}},
		{"one lot", nil, str("L1"), []int64{4, 1, 3}},
		{"one location and lot", str(locA), str("L2"), []int64{2}},
		{"unknown location", str("Z-99-99"), nil, nil},
		{"unknown lot", nil, str("L"), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			recs, err := Positions(s, testWH, testItem, c.loc, c.lot)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, r := range recs {
				if r.WarehouseID != testWH || r.ItemID != testItem {
					t.Errorf("position of another stock key: %+v", r)
				}
				got = append(got, r.OnHand)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("onHand of positions %v, want %v", got, c.want)
			}
		})
	}
}

func TestLookupOutcome(t *testing.T) {
	s := newMemStore()
	if _, ok, err := LookupOutcome(s, "never"); ok || err != nil {
		t.Errorf("LookupOutcome of an unknown id: %v, %v", ok, err)
	}
	_ = s.Set(OutcomeKey("bad"), []byte{0x7f})
	if _, ok, err := LookupOutcome(s, "bad"); ok || !errors.Is(err, errCorrupt) {
		t.Errorf("LookupOutcome of a corrupt value: %v, %v; want errCorrupt", ok, err)
	}
}

func TestOutcomeRoundTrip(t *testing.T) {
	for _, o := range []Outcome{
		{},
		{TransactionID: "t1", Status: StatusApplied, ResultingOnHand: 95, Version: 18, BodyHash: []byte{1, 2, 0, 3}, AppliedAt: sec(1).UnixMilli()},
		{TransactionID: "t2", Status: StatusApplied, ResultingOnHand: -7, Version: 1,
			Warnings: []string{WarnNegativeOnHand, WarnBeforeLatestCount}, AppliedAt: -1},
		{TransactionID: "t3", Status: StatusRejected, Code: CodeVersionConflict, Message: "expected 1, ünïcode ✓",
			ResultingOnHand: 1<<63 - 1, Version: -1 << 63, Warnings: []string{""}},
	} {
		got, err := DecodeOutcome(EncodeOutcome(&o))
		if err != nil {
			t.Errorf("DecodeOutcome(EncodeOutcome(%+v)): %v", o, err)
			continue
		}
		if !outcomesEqual(got, o) || len(got.Warnings) != len(o.Warnings) {
			t.Errorf("round trip: got %+v, want %+v", got, o)
		}
	}
}

func TestDecodeOutcomeRejectsCorrupt(t *testing.T) {
	good := EncodeOutcome(&Outcome{TransactionID: "t1", Status: StatusApplied, Code: "c", Message: "m",
		ResultingOnHand: 300, Version: 2, Warnings: []string{WarnNegativeOnHand}, BodyHash: []byte("hash"), AppliedAt: 1e12})
	cases := map[string][]byte{
		"empty":          nil,
		"unknown format": append([]byte{9}, good[1:]...),
		"trailing bytes": append(bytes.Clone(good), 0),
		"huge warning count": func() []byte {
			b := []byte{outcomeFormat}
			for range 4 {
				b = appendString(b, "")
			}
			b = append(b, 0, 0)                            // onHand, version
			return append(b, 0xff, 0xff, 0xff, 0xff, 0x0f) // 2^32-1 warnings
		}(),
		"string longer than the value": {outcomeFormat, 0x7f, 'a'},
	}
	for n := 1; n < len(good); n++ {
		cases[fmt.Sprintf("truncated to %d bytes", n)] = good[:n]
	}
	for name, v := range cases {
		if o, err := DecodeOutcome(v); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: DecodeOutcome = %+v, %v; want errCorrupt", name, o, err)
		}
	}
}

func TestRecordRoundTrip(t *testing.T) {
	key := RecordKey(testWH, testItem, locA, "L1")
	for _, r := range []Record{
		{WarehouseID: testWH, ItemID: testItem, LocationID: locA, LotNumber: "L1"},
		{WarehouseID: testWH, ItemID: testItem, LocationID: locA, LotNumber: "L1", OnHand: -5, Allocated: 3, Version: 9,
			UpdatedAt: 1e12, HasCount: true, CountAt: -1e12, CountTx: "c1", CountQty: 7, PrunedBefore: 5, LastPruneAt: 6},
	} {
		got, err := decodeRecord(key, r.encode())
		if err != nil || got != r {
			t.Errorf("decodeRecord(encode(%+v)) = %+v, %v", r, got, err)
		}
	}
}

// decodeRecordNoPanic turns a panic of decodeRecord into an error.
func decodeRecordNoPanic(key, v []byte) (r Record, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return decodeRecord(key, v)
}

func TestDecodeRecordRejectsCorrupt(t *testing.T) {
	key := RecordKey(testWH, testItem, locA, "")
	good := (&Record{OnHand: 300, Version: 2, HasCount: true, CountAt: 1e12, CountTx: "c1", CountQty: 4, PrunedBefore: 1}).encode()
	type input struct{ key, value []byte }
	cases := map[string]input{
		"empty value":          {key, nil},
		"unknown format":       {key, append([]byte{9}, good[1:]...)},
		"trailing bytes":       {key, append(bytes.Clone(good), 0)},
		"key of another kind":  {OutcomeKey("t1"), good},
		"key with three parts": {joinKey(tagRecord, testWH, testItem, locA), good},
		"key with five parts":  {joinKey(tagRecord, testWH, testItem, locA, "", "x"), good},
	}
	for n := 1; n < len(good); n++ {
		cases[fmt.Sprintf("truncated to %d bytes", n)] = input{key, good[:n]}
	}
	for name, in := range cases {
		if r, err := decodeRecordNoPanic(in.key, in.value); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: decodeRecord = %+v, %v; want errCorrupt", name, r, err)
		}
	}
}

// TestDecodeRecordRejectsEmptyKey: decodeRecord checks len(key) == 0 only
// after slicing key[1:], so an empty key panics instead of reporting
// corruption.
func TestDecodeRecordRejectsEmptyKey(t *testing.T) {
	good := (&Record{OnHand: 1}).encode()
	for _, key := range [][]byte{nil, {}} {
		if r, err := decodeRecordNoPanic(key, good); !errors.Is(err, errCorrupt) {
			t.Errorf("key %q: decodeRecord = %+v, %v; want errCorrupt", key, r, err)
		}
	}
}

// TestDecodeRecordRejectsBadCountFlag: the byte after updatedAt says
// whether a count follows; only 0 and 1 are written, anything else is
// corruption and must not read as "no count".
func TestDecodeRecordRejectsBadCountFlag(t *testing.T) {
	key := RecordKey(testWH, testItem, locA, "")
	v := (&Record{OnHand: 5}).encode() // format, onHand, allocated, version, updatedAt, flag, ...
	const flag = 5
	if v[flag] != 0 {
		t.Fatalf("layout changed: % x", v)
	}
	v[flag] = 2
	if r, err := decodeRecord(key, v); !errors.Is(err, errCorrupt) {
		t.Errorf("count flag 2: decodeRecord = %+v, %v; want errCorrupt", r, err)
	}
}

// TestApplyOnCorruptState: a corrupt stored value is an error for the
// caller (discard the batch), never a panic or a silent reset.
func TestApplyOnCorruptState(t *testing.T) {
	p := New(Config{})

	s := newMemStore()
	_ = s.Set(RecordKey(testWH, testItem, locA, ""), []byte{recordFormat, 0x80})
	if _, err := p.Apply(s, receipt("r1", 10, locA, 1), t0); !errors.Is(err, errCorrupt) {
		t.Errorf("Apply on a corrupt record: %v, want errCorrupt", err)
	}
	if _, err := Positions(s, testWH, testItem, nil, nil); !errors.Is(err, errCorrupt) {
		t.Errorf("Positions over a corrupt record: %v, want errCorrupt", err)
	}

	s = newMemStore()
	_ = s.Set(OutcomeKey("r1"), []byte{outcomeFormat})
	if _, err := p.Apply(s, receipt("r1", 10, locA, 1), t0); !errors.Is(err, errCorrupt) {
		t.Errorf("Apply over a corrupt outcome: %v, want errCorrupt", err)
	}

	s = newMemStore()
	mustApply(t, p, s, receipt("r1", 10, locA, 1), t0)
	_ = s.Set(ledgerKey(ledgerPrefix(&Record{WarehouseID: testWH, ItemID: testItem, LocationID: locA}), sec(30).UnixMilli(), "x"), nil)
	if _, err := p.Apply(s, count("c1", 20, locA, 1), t0); !errors.Is(err, errCorrupt) {
		t.Errorf("count over a corrupt ledger entry: %v, want errCorrupt", err)
	}
}

// failingStore fails the n-th operation (counting from 1).
type failingStore struct {
	*memStore
	n, ops int
}

var errInjected = errors.New("injected store failure")

func (f *failingStore) tick() error {
	f.ops++
	if f.ops == f.n {
		return errInjected
	}
	return nil
}

func (f *failingStore) Get(k []byte) ([]byte, bool, error) {
	if err := f.tick(); err != nil {
		return nil, false, err
	}
	return f.memStore.Get(k)
}

func (f *failingStore) Set(k, v []byte) error {
	if err := f.tick(); err != nil {
		return err
	}
	return f.memStore.Set(k, v)
}

func (f *failingStore) Delete(k []byte) error {
	if err := f.tick(); err != nil {
		return err
	}
	return f.memStore.Delete(k)
}

func (f *failingStore) Scan(lo, hi []byte, fn func(k, v []byte) error) error {
	if err := f.tick(); err != nil {
		return err
	}
	return f.memStore.Scan(lo, hi, fn)
}

// TestApplyReportsStoreErrors fails each store operation of a count over
// a populated ledger in turn: Apply must return the error (wrapped), so
// the caller discards the batch.
func TestApplyReportsStoreErrors(t *testing.T) {
	p := New(Config{})
	base := newMemStore()
	for i, tx := range []*Transaction{receipt("r1", 10, locA, 5), receipt("r2", 30, locA, 5)} {
		mustApply(t, p, base, tx, t0.Add(time.Duration(i)*time.Hour))
	}
	for _, tx := range []*Transaction{move("m1", 20, locA, locB, 1), count("c1", 25, locA, 100)} {
		for n := 1; ; n++ {
			f := &failingStore{memStore: base.Clone(), n: n}
			_, err := p.Apply(f, tx, t0.Add(5*time.Hour))
			if f.ops < n { // every operation succeeded
				if err != nil {
					t.Fatalf("%s with no failure: %v", tx.TransactionID, err)
				}
				if n < 4 {
					t.Fatalf("%s used only %d store operations", tx.TransactionID, f.ops)
				}
				break
			}
			if !errors.Is(err, errInjected) {
				t.Errorf("%s, operation %d fails: Apply returned %v, want the store's error", tx.TransactionID, n, err)
			}
		}
	}
}

// isRecordKey agrees with comparing against RecordKey, including keys whose
// identifiers' lengths sum the same and keys of other tags.
func TestIsRecordKey(t *testing.T) {
	ids := []string{"", "a", "ab", "b", "WH-1"}
	var keys [][]byte
	for _, wh := range ids {
		for _, item := range ids {
			for _, loc := range ids {
				for _, lot := range ids {
					keys = append(keys, RecordKey(wh, item, loc, lot))
				}
			}
		}
	}
	keys = append(keys, OutcomeKey("a\x00a\x00a\x00a"), []byte{}, []byte{tagRecord})
	for _, wh := range ids {
		for _, item := range ids {
			for _, loc := range ids {
				for _, lot := range ids {
					want := RecordKey(wh, item, loc, lot)
					for _, k := range keys {
						if got := isRecordKey(k, wh, item, loc, lot); got != bytes.Equal(k, want) {
							t.Fatalf("isRecordKey(%q, %q, %q, %q, %q) = %v", k, wh, item, loc, lot, got)
						}
					}
				}
			}
		}
	}
}

func TestRecordLedgerKey(t *testing.T) {
	for _, r := range []Record{{}, {WarehouseID: "WH-1", ItemID: "SKU-1", LocationID: "A-01", LotNumber: "L7"}, {ItemID: "x"}} {
		for _, at := range []int64{-1, 0, 1_700_000_000_000} {
			for _, txid := range []string{"", "tx-1"} {
				if got, want := recordLedgerKey(&r, at, txid), ledgerKey(ledgerPrefix(&r), at, txid); !bytes.Equal(got, want) {
					t.Errorf("recordLedgerKey(%+v, %d, %q) = %q, want %q", r, at, txid, got, want)
				}
			}
		}
	}
}

// scanCounter is a memStore that counts the Scans under a prefix.
type scanCounter struct {
	*memStore
	prefix []byte
	scans  int
}

func (c *scanCounter) Scan(lo, hi []byte, fn func(k, v []byte) error) error {
	if bytes.HasPrefix(lo, c.prefix) {
		c.scans++
	}
	return c.memStore.Scan(lo, hi, fn)
}

// TestNewRecordIsNotSwept: a record's first transaction finds no ledger
// to sweep and does not scan for one, yet remembers the sweep as done;
// the sweep runs again once PruneEvery of receive time has passed.
func TestNewRecordIsNotSwept(t *testing.T) {
	p := New(Config{LedgerWindow: time.Hour, PruneEvery: time.Hour})
	s := &scanCounter{memStore: newMemStore(), prefix: ledgerPrefix(&Record{WarehouseID: testWH, ItemID: testItem, LocationID: locA})}
	mustApply(t, p, s, receipt("r1", 0, locA, 5, receivedAt(2*time.Hour)), t0)
	if s.scans != 0 {
		t.Errorf("the first transaction of a record scanned its ledger %d times, want 0", s.scans)
	}
	r, err := loadRecord(s, testWH, testItem, locA, "")
	if err != nil {
		t.Fatal(err)
	}
	received := t0.Add(2 * time.Hour).UnixMilli()
	if r.LastPruneAt != received || r.PrunedBefore != received-time.Hour.Milliseconds() {
		t.Errorf("after the first transaction LastPruneAt %d, PrunedBefore %d; want %d and %d, as a sweep leaves them",
			r.LastPruneAt, r.PrunedBefore, received, received-time.Hour.Milliseconds())
	}
	mustApply(t, p, s, receipt("r2", 7200, locA, 1, receivedAt(3*time.Hour+time.Minute)), t0)
	if s.scans != 1 {
		t.Errorf("an hour of receive time later the ledger was scanned %d times, want 1", s.scans)
	}
}
