package processors

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Event is one applied change to one stock record: the domain form of the
// inventory-events record.
type Event struct {
	EventID            string
	Timestamp          time.Time
	Type               TxType
	WarehouseID        string
	ItemID             string
	LocationID         string
	LotNumber          string
	QuantityChange     int64
	ResultingOnHand    int64
	TransactionID      string
	ScannerID          string
	UserID             string
	Version            int64
	Allocated          int64
	Available          int64
	DeviceTimestamp    time.Time
	CorrectedTimestamp time.Time
	Warnings           []string
	AllocationID       string
	// Principal is the name of the token that uploaded the transaction
	// ("" before authentication existed).
	Principal string
}

// Result is what applying one transaction did.
type Result struct {
	Outcome Outcome
	Events  []Event
	// Duplicate: the transactionId already had an outcome; nothing
	// changed and Outcome is the stored one. Mismatch: and its body hash
	// differs from this transaction's (a different transaction reusing
	// the id, which ingest normally rejects before it gets here).
	Duplicate bool
	Mismatch  bool
	// Decisions are the allocations the transaction changed (a pick
	// consuming its reservation, a shortfall re-reserving or
	// backordering), each as it stands after the change, in order.
	Decisions []Allocation
	// Discrepancies changed (a count resolving the one that asked for
	// it), to publish.
	Discrepancies []Discrepancy
	// CountTasks changed (completed by a count), to publish.
	CountTasks []CountTask
}

// applyOpts modify how a transaction is applied.
type applyOpts struct {
	// approved: a held count a supervisor approved. It is applied
	// whatever its variance, and the checks it passed when it was held
	// (expected version) are not repeated.
	approved bool
}

// Apply applies tx to s as of now (the wall clock of the apply, recorded as
// updatedAt and the event timestamp). Every decision depends only on tx and
// the state in s, so replaying the same input yields the same state. An
// error means s could not be read or written and the caller must discard
// the batch.
func (p *Processor) Apply(s Store, tx *Transaction, now time.Time) (Result, error) {
	outcomeKey := OutcomeKey(tx.TransactionID)
	if v, ok, err := s.Get(outcomeKey); err != nil {
		return Result{}, fmt.Errorf("reading outcome of %s: %w", tx.TransactionID, err)
	} else if ok {
		o, err := DecodeOutcome(v)
		if err != nil {
			return Result{}, err
		}
		return Result{Outcome: o, Duplicate: true, Mismatch: !bytes.Equal(o.BodyHash, tx.BodyHash)}, nil
	}

	ts := track(s)
	res, err := p.apply(ts, tx, now, applyOpts{})
	if err != nil {
		return Result{}, fmt.Errorf("applying transaction %s: %w", tx.TransactionID, err)
	}
	if len(res.Events) > 0 {
		extra, err := ts.reservationEvents(res.Events, tx.TransactionID, now)
		if err != nil {
			return Result{}, err
		}
		res.Events = append(res.Events, extra...)
	}
	res.Outcome.TransactionID = tx.TransactionID
	res.Outcome.BodyHash = tx.BodyHash
	res.Outcome.AppliedAt = now.UnixMilli()
	res.Outcome.WarehouseID = tx.WarehouseID
	if err := s.Set(outcomeKey, EncodeOutcome(&res.Outcome)); err != nil {
		return Result{}, err
	}
	return res, nil
}

// leg is one record's part of a transaction: a MOVE has two.
type leg struct {
	loc     string
	delta   int64 // for deltas
	isCount bool
}

func (p *Processor) apply(s Store, tx *Transaction, now time.Time, opts applyOpts) (Result, error) {
	var legs []leg
	switch tx.Type {
	case Receipt:
		legs = []leg{{loc: tx.LocationID, delta: tx.Quantity}}
	case Pick:
		legs = []leg{{loc: tx.LocationID, delta: -tx.Quantity}}
	case Adjustment:
		legs = []leg{{loc: tx.LocationID, delta: tx.Quantity}}
	case Move:
		if tx.ToLocationID == "" || tx.ToLocationID == tx.LocationID {
			// Ingest rejects these; a record produced by another
			// writer must not make both legs hit one record.
			return Result{Outcome: Outcome{Status: StatusRejected, Code: CodeInvalidTransaction,
				Message: fmt.Sprintf("a MOVE needs a toLocationId other than %q", tx.LocationID)}}, nil
		}
		legs = []leg{{loc: tx.LocationID, delta: -tx.Quantity}, {loc: tx.ToLocationID, delta: tx.Quantity}}
	case CycleCount:
		legs = []leg{{loc: tx.LocationID, isCount: true}}
	default:
		return Result{Outcome: Outcome{Status: StatusRejected, Code: CodeInvalidTransaction,
			Message: fmt.Sprintf("unknown transaction type %q", tx.Type)}}, nil
	}

	recs := make([]Record, len(legs))
	for i, l := range legs {
		r, err := loadRecord(s, tx.WarehouseID, tx.ItemID, l.loc, tx.LotNumber)
		if err != nil {
			return Result{}, err
		}
		recs[i] = r
	}

	lockWarns, rej := p.checkLocks(tx, legs)
	if rej != nil {
		return Result{Outcome: Outcome{Status: StatusRejected, Code: rej.Code, Message: rej.Message,
			ResultingOnHand: recs[0].OnHand, Version: recs[0].Version}}, nil
	}

	if ev := tx.ExpectedVersion; ev != nil && *ev != recs[0].Version && !opts.approved {
		return Result{Outcome: Outcome{Status: StatusRejected, Code: CodeVersionConflict,
			Message: fmt.Sprintf("expected version %d of %s/%s at %s, the record is at version %d; rescan and retry",
				*ev, tx.WarehouseID, tx.ItemID, tx.LocationID, recs[0].Version),
			ResultingOnHand: recs[0].OnHand, Version: recs[0].Version}}, nil
	}

	at := tx.CorrectedTimestamp.UnixMilli()
	received := tx.ReceivedAt.UnixMilli()
	cutoff := received - p.cfg.LedgerWindow.Milliseconds()

	if legs[0].isCount {
		r := &recs[0]
		superseded := r.HasCount && before(at, tx.TransactionID, r.CountAt, r.CountTx)
		if !superseded && (at < cutoff || at < r.PrunedBefore) {
			return Result{Outcome: Outcome{Status: StatusRejected, Code: CodeCountOutsideWindow,
				Message: fmt.Sprintf("count taken at %s is older than the %s ledger window; flagged for review, not applied",
					tx.CorrectedTimestamp.UTC().Format(time.RFC3339), p.cfg.LedgerWindow),
				ResultingOnHand: r.OnHand, Version: r.Version}}, nil
		}
		if !superseded && !opts.approved {
			// A later count replaces a held one; this one may be held
			// itself.
			if err := p.supersedeHeld(s, RecordKey(r.WarehouseID, r.ItemID, r.LocationID, r.LotNumber), at, tx.TransactionID, now); err != nil {
				return Result{}, err
			}
			if held, err := p.holdIfOff(s, r, tx, at, now); err != nil || held != nil {
				if err != nil {
					return Result{}, err
				}
				return Result{Outcome: *held}, nil
			}
		}
	}

	var res Result
	res.Outcome.Status = StatusApplied
	for i, l := range legs {
		if i > 0 {
			// An earlier leg may have re-reserved stock here.
			fresh, err := loadRecord(s, tx.WarehouseID, tx.ItemID, l.loc, tx.LotNumber)
			if err != nil {
				return Result{}, err
			}
			recs[i] = fresh
		}
		r := &recs[i]
		if err := p.prune(s, r, received, cutoff); err != nil {
			return Result{}, err
		}
		var change int64
		var warns []string
		var err error
		if l.isCount {
			change, warns, err = p.count(s, r, at, tx.TransactionID, tx.Quantity)
		} else {
			change, warns, err = p.delta(s, r, at, tx.TransactionID, l.delta)
		}
		if err != nil {
			return Result{}, err
		}
		r.OnHand += change
		r.Version++
		r.UpdatedAt = now.UnixMilli()
		if lockWarns[i] != "" {
			warns = append(warns, lockWarns[i])
		}
		if r.OnHand < 0 {
			warns = append(warns, WarnNegativeOnHand)
		}
		if tx.Type == Pick && tx.AllocationID != "" {
			decs, warn, err := p.consumePick(s, tx, r, now)
			if err != nil {
				return Result{}, err
			}
			res.Decisions = append(res.Decisions, decs...)
			if warn != "" {
				warns = append(warns, warn)
			}
		}
		if err := s.Set(RecordKey(r.WarehouseID, r.ItemID, r.LocationID, r.LotNumber), r.encode()); err != nil {
			return Result{}, err
		}
		for _, w := range warns {
			if !slices.Contains(res.Outcome.Warnings, w) {
				res.Outcome.Warnings = append(res.Outcome.Warnings, w)
			}
		}
		res.Events = append(res.Events, Event{
			EventID:            EventID(tx.TransactionID, i, len(legs)),
			Timestamp:          now,
			Type:               tx.Type,
			WarehouseID:        r.WarehouseID,
			ItemID:             r.ItemID,
			LocationID:         r.LocationID,
			LotNumber:          r.LotNumber,
			QuantityChange:     change,
			ResultingOnHand:    r.OnHand,
			TransactionID:      tx.TransactionID,
			ScannerID:          tx.ScannerID,
			UserID:             tx.UserID,
			Version:            r.Version,
			Allocated:          r.Allocated,
			Available:          r.Available(),
			DeviceTimestamp:    tx.DeviceTimestamp,
			CorrectedTimestamp: tx.CorrectedTimestamp,
			Warnings:           warns,
			AllocationID:       tx.AllocationID,
			Principal:          tx.Principal,
		})
	}
	if tx.Type == CycleCount {
		task, disc, warn, err := p.completeCountTask(s, tx, now)
		if err != nil {
			return Result{}, err
		}
		if task != nil {
			res.CountTasks = append(res.CountTasks, *task)
		}
		if disc != nil {
			res.Discrepancies = append(res.Discrepancies, *disc)
		}
		if warn != "" {
			res.Outcome.Warnings = append(res.Outcome.Warnings, warn)
			res.Events[0].Warnings = append(res.Events[0].Warnings, warn)
		}
	}
	// Shortfalls are resolved once every leg is applied, so a MOVE's
	// reservations can follow the stock to its destination. The events
	// then report each record as the whole transaction left it.
	for i := range recs {
		decs, err := p.resolveShortfall(s, &recs[i], now)
		if err != nil {
			return Result{}, err
		}
		res.Decisions = append(res.Decisions, decs...)
	}
	for i := range res.Events {
		e := &res.Events[i]
		r, err := loadRecord(s, e.WarehouseID, e.ItemID, e.LocationID, e.LotNumber)
		if err != nil {
			return Result{}, err
		}
		e.Version, e.Allocated, e.Available = r.Version, r.Allocated, r.Available()
		if i == 0 {
			res.Outcome.ResultingOnHand, res.Outcome.Version = r.OnHand, r.Version
		}
	}
	return res, nil
}

// checkLocks applies the lock rules to each leg: while another scanner
// holds a leg's location at the transaction's receive time, a count or an
// adjustment there is rejected LOCATION_LOCKED, or applied with the warning
// LOCK_OVERRIDDEN when it says override; a receipt, pick or move (either
// leg) is applied with the warning LOCATION_LOCKED, since a scan is a fact.
// The receive time, not the apply time, keeps the decision the same
// whenever the transaction is (re)applied. It returns one warning (or "")
// per leg: a transaction has two legs at most.
func (p *Processor) checkLocks(tx *Transaction, legs []leg) ([2]string, *Rejection) {
	var warns [2]string
	if p.cfg.Locks == nil {
		return warns, nil
	}
	for i, l := range legs {
		lk, held := p.cfg.Locks.HolderAt(tx.WarehouseID, l.loc, tx.ReceivedAt)
		if !held || lk.ScannerID == tx.ScannerID {
			continue
		}
		switch {
		case tx.Type != CycleCount && tx.Type != Adjustment:
			warns[i] = WarnLocationLocked
		case tx.Override:
			warns[i] = WarnLockOverridden
		default:
			return warns, reject(CodeLocationLocked,
				"location %s of %s is locked by %s until %s (lock %s); a %s from %s needs override: true while the lock holds",
				l.loc, tx.WarehouseID, lk.ScannerID, lk.End().UTC().Format(time.RFC3339), lk.LockID, tx.Type, tx.ScannerID)
		}
	}
	return warns, nil
}

// EventID is the deterministic id of the n-th (from 0) event of a
// transaction: "evt-<transactionId>-<n+1>". The same transaction always
// yields the same ids, and since the leg number always ends the id, ids of
// different transactions never collide whatever their transactionIds.
func EventID(txid string, n, _ int) string {
	return "evt-" + txid + "-" + strconv.Itoa(n+1)
}

// before orders (time, transactionId) pairs: equal times by transactionId.
func before(at int64, tx string, at2 int64, tx2 string) bool {
	return at < at2 || (at == at2 && tx < tx2)
}

// delta applies a signed change observed at corrected time at. A delta
// older than the latest applied count was already seen by that count: it
// is recorded (the outcome and event say so) but does not move onHand.
func (p *Processor) delta(s Store, r *Record, at int64, txid string, q int64) (int64, []string, error) {
	if r.HasCount && before(at, txid, r.CountAt, r.CountTx) {
		return 0, []string{WarnBeforeLatestCount}, nil
	}
	if at >= r.PrunedBefore {
		if err := s.Set(recordLedgerKey(r, at, txid), binary.AppendVarint(nil, q)); err != nil {
			return 0, nil, err
		}
	}
	return q, nil, nil
}

// count applies a cycle count of qty observed at corrected time at:
// onHand = qty + the deltas the ledger holds after (at, txid). Deltas before
// it are no longer needed: no later-applied count can be older than this one.
func (p *Processor) count(s Store, r *Record, at int64, txid string, qty int64) (int64, []string, error) {
	if r.HasCount && before(at, txid, r.CountAt, r.CountTx) {
		return 0, []string{WarnSupersededCount}, nil
	}
	prefix := ledgerPrefix(r)
	split := ledgerKey(prefix, at, txid)
	var after int64
	var stale [][]byte
	err := s.Scan(prefix, PrefixEnd(prefix), func(k, v []byte) error {
		if bytes.Compare(k, split) < 0 {
			stale = append(stale, bytes.Clone(k))
			return nil
		}
		q, n := binary.Varint(v)
		if n <= 0 {
			return fmt.Errorf("%w: ledger entry %q", errCorrupt, k)
		}
		after += q
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	for _, k := range stale {
		if err := s.Delete(k); err != nil {
			return 0, nil, err
		}
	}
	r.HasCount, r.CountAt, r.CountTx, r.CountQty = true, at, txid, qty
	return qty + after - r.OnHand, nil, nil
}

// prune drops ledger entries older than the window, at most once per
// PruneEvery of receive time, and remembers how far it pruned.
func (p *Processor) prune(s Store, r *Record, received, cutoff int64) error {
	if received-r.LastPruneAt < p.cfg.PruneEvery.Milliseconds() {
		return nil
	}
	r.LastPruneAt = received
	if cutoff <= r.PrunedBefore {
		return nil
	}
	// A record of version 0 is not stored yet (every stored one counted
	// the change that stored it): it has no ledger, and the sweep would
	// be an iterator over nothing, a seventh of the CPU when records are
	// first loaded (BENCHMARKS.md).
	if r.Version > 0 {
		if err := sweepLedger(s, ledgerPrefix(r), cutoff); err != nil {
			return err
		}
	}
	r.PrunedBefore = cutoff
	return nil
}

// sweepLedger deletes the ledger entries under prefix older than cutoff.
func sweepLedger(s Store, prefix []byte, cutoff int64) error {
	var old [][]byte
	if err := s.Scan(prefix, ledgerKey(prefix, cutoff, ""), func(k, _ []byte) error {
		old = append(old, bytes.Clone(k))
		return nil
	}); err != nil {
		return err
	}
	for _, k := range old {
		if err := s.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

func loadRecord(s Reader, wh, item, loc, lot string) (Record, error) {
	key := RecordKey(wh, item, loc, lot)
	v, ok, err := s.Get(key)
	if err != nil {
		return Record{}, fmt.Errorf("reading record %q: %w", key, err)
	}
	r := Record{WarehouseID: wh, ItemID: item, LocationID: loc, LotNumber: lot}
	if !ok {
		return r, nil
	}
	// The key was made from the identifiers: only the value is decoded.
	if err := r.decodeValue(key, v); err != nil {
		return Record{}, err
	}
	return r, nil
}

// Positions returns the records of an item in a warehouse, optionally only
// those at one location and/or of one lot, in key order.
func Positions(s Reader, wh, item string, loc, lot *string) ([]Record, error) {
	prefix := recordPrefix(wh, item, loc)
	var out []Record
	err := s.Scan(prefix, PrefixEnd(prefix), func(k, v []byte) error {
		r, err := decodeRecord(k, v)
		if err != nil {
			return err
		}
		if lot != nil && r.LotNumber != *lot {
			return nil
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// LookupOutcome returns the stored outcome of a transaction, if any.
func LookupOutcome(s Reader, txid string) (Outcome, bool, error) {
	v, ok, err := s.Get(OutcomeKey(txid))
	if err != nil || !ok {
		return Outcome{}, false, err
	}
	o, err := DecodeOutcome(v)
	return o, err == nil, err
}
