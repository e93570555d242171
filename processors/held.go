package processors

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"
)

// A cycle count of an item with an ABC class whose variance from the
// expected quantity exceeds its class's tolerance is held, not applied,
// until a supervisor approves it (applied as of its scan time, so the count
// rules still converge) or rejects it. A later count of the same record
// supersedes a held one. This is how warehouse systems protect accuracy
// from a mistyped count.

// Held-count outcome status and codes.
const (
	// StatusHeld: recorded, not applied; waiting for a supervisor.
	StatusHeld = "held"
	// CodeVarianceReview: why a count is held.
	CodeVarianceReview = "VARIANCE_REVIEW"
	// CodeCountRejected: a supervisor rejected the held count.
	CodeCountRejected = "COUNT_REJECTED"
	// CodeCountSuperseded: a later count of the record replaced it.
	CodeCountSuperseded = "COUNT_SUPERSEDED"
	// CodeCountNotHeld: a decision about a count that is not held (never
	// was, or already decided).
	CodeCountNotHeld = "COUNT_NOT_HELD"
)

// Held-count statuses (HeldCount.Status).
const (
	HeldPending    = "held"
	HeldApproved   = "approved"
	HeldRejected   = "rejected"
	HeldSuperseded = "superseded"
)

// Tolerances gives the count variance tolerance of an item (the catalog);
// classed is false for an item without an ABC class, whose counts are
// never held.
type Tolerances interface {
	CountTolerance(itemID string) (tol float64, classed bool)
}

// HeldCount is a cycle count held for review, and what became of it.
type HeldCount struct {
	Transaction Transaction `json:"transaction"`
	Counted     int64       `json:"counted"`
	Expected    int64       `json:"expected"`
	Tolerance   float64     `json:"tolerance"`
	Status      string      `json:"status"`
	HeldAt      time.Time   `json:"heldAt"`
	DecidedAt   *time.Time  `json:"decidedAt,omitempty"`
	DecidedBy   string      `json:"decidedBy,omitempty"`
	Note        string      `json:"note,omitempty"`
}

const (
	tagHeldByRecord = 'h' // h recordKey -> transactionId of the record's held count
	tagHeld         = 'H' // H transactionId -> HeldCount (JSON)
)

func heldKey(txid string) []byte           { return joinKey(tagHeld, txid) }
func heldByRecordKey(recKey []byte) []byte { return append([]byte{tagHeldByRecord}, recKey...) }
func (h *HeldCount) recordKey() []byte {
	t := &h.Transaction
	return RecordKey(t.WarehouseID, t.ItemID, t.LocationID, t.LotNumber)
}
func variance(counted, expected int64) float64 {
	return math.Abs(float64(counted-expected)) / math.Max(float64(expected), 1)
}

func loadHeld(s Reader, txid string) (HeldCount, bool, error) {
	return getJSON[HeldCount](s, heldKey(txid), "held count", txid)
}

// LookupHeld returns a held count (whatever became of it) by transactionId.
func LookupHeld(s Reader, txid string) (HeldCount, bool, error) { return loadHeld(s, txid) }

func saveHeld(s Store, h *HeldCount) error {
	if err := setJSON(s, heldKey(h.Transaction.TransactionID), h); err != nil {
		return err
	}
	idx := heldByRecordKey(h.recordKey())
	if h.Status == HeldPending {
		return s.Set(idx, []byte(h.Transaction.TransactionID))
	}
	if cur, ok, err := s.Get(idx); err != nil || !ok || string(cur) != h.Transaction.TransactionID {
		return err
	}
	return s.Delete(idx)
}

// HeldCounts returns the partition's held counts of a warehouse ("" for
// all) with status ("" for any), in transactionId order.
func HeldCounts(s Reader, wh, status string) ([]HeldCount, error) {
	return scanJSON(s, tagHeld, "held count", func(h *HeldCount) bool {
		return (wh == "" || h.Transaction.WarehouseID == wh) && (status == "" || h.Status == status)
	})
}

// expectedAt is the quantity a count at (at, txid) would be compared with:
// the record's onHand without the deltas the ledger holds after that moment.
func expectedAt(s Reader, r *Record, at int64, txid string) (int64, error) {
	prefix := ledgerPrefix(r)
	split := ledgerKey(prefix, at, txid)
	var after int64
	err := s.Scan(split, PrefixEnd(prefix), func(k, v []byte) error {
		q, n := binary.Varint(v)
		if n <= 0 {
			return fmt.Errorf("%w: ledger entry %q", errCorrupt, k)
		}
		after += q
		return nil
	})
	return r.OnHand - after, err
}

// holdIfOff holds count tx of record r when its item is classed and the
// variance exceeds the class's tolerance: it returns the outcome of the
// held count, or nil when the count is to be applied.
func (p *Processor) holdIfOff(s Store, r *Record, tx *Transaction, at int64, now time.Time) (*Outcome, error) {
	if p.cfg.Tolerances == nil {
		return nil, nil
	}
	tol, classed := p.cfg.Tolerances.CountTolerance(tx.ItemID)
	if !classed {
		return nil, nil
	}
	expected, err := expectedAt(s, r, at, tx.TransactionID)
	if err != nil {
		return nil, err
	}
	if v := variance(tx.Quantity, expected); v <= tol+1e-12 {
		return nil, nil
	}
	h := HeldCount{Transaction: *tx, Counted: tx.Quantity, Expected: expected, Tolerance: tol, Status: HeldPending, HeldAt: now.UTC()}
	h.Transaction.BodyHash = slices.Clone(tx.BodyHash)
	if err := saveHeld(s, &h); err != nil {
		return nil, err
	}
	return &Outcome{Status: StatusHeld, Code: CodeVarianceReview, ResultingOnHand: r.OnHand, Version: r.Version,
		Message: fmt.Sprintf("counted %d where %d was expected (variance %.1f %%, tolerance %.1f %% for its class): held for a supervisor's approval",
			tx.Quantity, expected, 100*variance(tx.Quantity, expected), 100*tol)}, nil
}

// supersedeHeld marks the record's held count superseded when the count at
// (at, txid) is later than it, and rewrites that count's outcome.
func (p *Processor) supersedeHeld(s Store, recKey []byte, at int64, txid string, now time.Time) error {
	v, ok, err := s.Get(heldByRecordKey(recKey))
	if err != nil || !ok || bytes.Equal(v, []byte(txid)) {
		return err
	}
	h, ok, err := loadHeld(s, string(v))
	if err != nil || !ok || h.Status != HeldPending {
		return err
	}
	ht := &h.Transaction
	if !before(ht.CorrectedTimestamp.UnixMilli(), ht.TransactionID, at, txid) {
		return nil // the held count is the later one
	}
	decided := now.UTC()
	h.Status, h.DecidedAt, h.Note = HeldSuperseded, &decided, "superseded by the later count "+txid
	if err := saveHeld(s, &h); err != nil {
		return err
	}
	return p.rewriteOutcome(s, ht.TransactionID, Outcome{Status: StatusRejected, Code: CodeCountSuperseded,
		Message: "a later count of the record (" + txid + ") superseded this held count"})
}

// rewriteOutcome replaces the stored outcome of txid with o, keeping its
// identity (body hash, transactionId, warehouse).
func (p *Processor) rewriteOutcome(s Store, txid string, o Outcome) error {
	old, ok, err := LookupOutcome(s, txid)
	if err != nil || !ok {
		return err
	}
	o.TransactionID, o.BodyHash, o.WarehouseID = old.TransactionID, old.BodyHash, old.WarehouseID
	if o.AppliedAt == 0 {
		o.AppliedAt = old.AppliedAt
	}
	return s.Set(OutcomeKey(txid), EncodeOutcome(&o))
}

// CountDecision is a supervisor's decision on a held count.
type CountDecision struct {
	TransactionID string
	Approve       bool
	By            string
	Note          string
}

// decideCount approves (applies the count as of its scan time) or rejects
// a held count.
func (p *Processor) decideCount(s Store, d *CountDecision, now time.Time) (HeldCount, Result, *Rejection, error) {
	h, ok, err := loadHeld(s, d.TransactionID)
	if err != nil {
		return HeldCount{}, Result{}, nil, err
	}
	if !ok || h.Status != HeldPending {
		status := "not held"
		if ok {
			status = h.Status
		}
		return h, Result{}, reject(CodeCountNotHeld, "count %s is %s: only a held count can be approved or rejected", d.TransactionID, status), nil
	}
	decided := now.UTC()
	h.DecidedAt, h.DecidedBy, h.Note = &decided, d.By, d.Note
	var res Result
	if d.Approve {
		h.Status = HeldApproved
		tx := h.Transaction
		ts := track(s)
		if res, err = p.apply(ts, &tx, now, applyOpts{approved: true}); err != nil {
			return HeldCount{}, Result{}, nil, err
		}
		if res.Outcome.Status == StatusApplied {
			extra, err := ts.reservationEvents(res.Events, tx.TransactionID, now)
			if err != nil {
				return HeldCount{}, Result{}, nil, err
			}
			res.Events = append(res.Events, extra...)
		}
		res.Outcome.AppliedAt = now.UnixMilli()
	} else {
		h.Status = HeldRejected
		res.Outcome = Outcome{Status: StatusRejected, Code: CodeCountRejected, AppliedAt: now.UnixMilli(),
			Message: "the held count was rejected by " + d.By}
	}
	if err := saveHeld(s, &h); err != nil {
		return HeldCount{}, Result{}, nil, err
	}
	if err := p.rewriteOutcome(s, d.TransactionID, res.Outcome); err != nil {
		return HeldCount{}, Result{}, nil, err
	}
	res.Outcome, _, _ = LookupOutcome(s, d.TransactionID)
	return h, res, nil, nil
}
