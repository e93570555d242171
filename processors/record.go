package processors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Store is what the processor reads and changes: one partition's state,
// usually a state.Batch. Keys are the processor's own (see the key
// functions below); values are encoded here. The contract, which
// processors/storetest checks for every implementation:
//
//   - Keys are non-empty byte strings ordered by bytes.Compare; an empty
//     value is a value (present), and Set with a nil value stores an empty
//     one, never a delete.
//   - Get returns (v, true, nil) for a present key, (nil, false, nil) for
//     an absent one; v is the caller's (changing it changes nothing, later
//     writes do not change it). Set keeps its own copies of key and value.
//     Deleting an absent key is not an error.
//   - Scan calls fn in increasing key order for each key with lo <= k < hi:
//     nil or empty lo means from the first key, nil hi means no upper
//     bound (an empty non-nil hi yields nothing). It sees the store's own
//     writes and deletes. k and v are valid only during the call. fn must
//     not write to the store. An error from fn stops the scan and is
//     returned.
//   - A Store is not safe for concurrent use.
type Store interface {
	Get(key []byte) ([]byte, bool, error)
	Set(key, value []byte) error
	Delete(key []byte) error
	// Scan calls fn in key order for each key in [lo, hi).
	Scan(lo, hi []byte, fn func(k, v []byte) error) error
}

// Reader is the read half of Store, for queries.
type Reader interface {
	Get(key []byte) ([]byte, bool, error)
	Scan(lo, hi []byte, fn func(k, v []byte) error) error
}

// Key space of a partition. Identifiers never contain control characters
// (CheckShape), so 0x00 separates them unambiguously and sorts a prefix
// before its extensions.
const (
	tagRecord  = 'r' // r wh 0 item 0 loc 0 lot            -> Record
	tagLedger  = 'l' // l wh 0 item 0 loc 0 lot 0 time txid -> delta
	tagOutcome = 't' // t txid                               -> Outcome
	// s -> the slot of the partition's last published reconciliation
	// snapshot (snapshot.go); one key per partition.
	tagSnapshot = 's'
)

// joinKey makes the key of tag and parts, with room for a byte more (the
// 0 that makes it a prefix: recordPrefix, ledgerPrefix).
func joinKey(tag byte, parts ...string) []byte {
	return appendKey(make([]byte, 0, keyLen(parts...)+1), tag, parts...)
}

// keyLen is the length of a key of parts.
func keyLen(parts ...string) int {
	n := 1
	for _, p := range parts {
		n += len(p) + 1
	}
	return n - 1
}

// appendKey appends the key of tag and parts to k.
func appendKey(k []byte, tag byte, parts ...string) []byte {
	k = append(k, tag)
	for i, p := range parts {
		if i > 0 {
			k = append(k, 0)
		}
		k = append(k, p...)
	}
	return k
}

// RecordKey is the key of one stock record.
func RecordKey(wh, item, loc, lot string) []byte { return joinKey(tagRecord, wh, item, loc, lot) }

// isRecordKey reports whether k is RecordKey(wh, item, loc, lot), without
// making the key.
func isRecordKey(k []byte, wh, item, loc, lot string) bool {
	if len(k) != 4+len(wh)+len(item)+len(loc)+len(lot) || k[0] != tagRecord {
		return false
	}
	k = k[1:]
	for i, p := range [4]string{wh, item, loc, lot} {
		if i > 0 {
			if k[0] != 0 {
				return false
			}
			k = k[1:]
		}
		if string(k[:len(p)]) != p {
			return false
		}
		k = k[len(p):]
	}
	return true
}

// recordPrefix covers every record of an item in a warehouse, or of one
// location of it when loc is given.
func recordPrefix(wh, item string, loc *string) []byte {
	if loc != nil {
		return append(joinKey(tagRecord, wh, item, *loc), 0)
	}
	return append(joinKey(tagRecord, wh, item), 0)
}

// OutcomeKey is the key of a transaction's outcome (and idempotency entry).
func OutcomeKey(txid string) []byte { return joinKey(tagOutcome, txid) }

func ledgerPrefix(r *Record) []byte {
	return append(joinKey(tagLedger, r.WarehouseID, r.ItemID, r.LocationID, r.LotNumber), 0)
}

// recordLedgerKey is ledgerKey(ledgerPrefix(r), at, txid) in one allocation.
func recordLedgerKey(r *Record, at int64, txid string) []byte {
	k := make([]byte, 0, keyLen(r.WarehouseID, r.ItemID, r.LocationID, r.LotNumber)+1+8+len(txid))
	k = appendKey(k, tagLedger, r.WarehouseID, r.ItemID, r.LocationID, r.LotNumber)
	return appendLedgerKey(append(k, 0), at, txid)
}

// ledgerKey orders a record's deltas by (corrected time, transactionId), the
// order the conflict rules use. The time is biased so negative Unix
// milliseconds (never expected, but representable) still sort.
func ledgerKey(prefix []byte, at int64, txid string) []byte {
	k := make([]byte, 0, len(prefix)+8+len(txid))
	return appendLedgerKey(append(k, prefix...), at, txid)
}

// appendLedgerKey appends a ledger entry's time and transaction to its
// record's ledger prefix k.
func appendLedgerKey(k []byte, at int64, txid string) []byte {
	k = binary.BigEndian.AppendUint64(k, uint64(at)^(1<<63))
	return append(k, txid...)
}

// PrefixEnd returns the smallest key greater than every key with prefix p.
func PrefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// Record is one stock record: an item's quantity at one location and lot.
type Record struct {
	WarehouseID string
	ItemID      string
	LocationID  string
	LotNumber   string

	OnHand    int64
	Allocated int64
	Version   int64
	UpdatedAt int64 // Unix ms

	// The latest applied cycle count: onHand was set from it, and only
	// deltas after (CountAt, CountTx) are kept in the ledger.
	HasCount bool
	CountAt  int64 // corrected Unix ms
	CountTx  string
	CountQty int64

	// Ledger entries older than PrunedBefore were dropped (the ledger
	// window); a count older than it can no longer be rebased.
	PrunedBefore int64
	LastPruneAt  int64
}

// Available is onHand minus allocated.
func (r *Record) Available() int64 { return r.OnHand - r.Allocated }

// errCorrupt marks a stored value that does not decode.
var errCorrupt = errors.New("corrupt stored value")

const recordFormat = 1

func (r *Record) encode() []byte {
	b := make([]byte, 0, 64+len(r.CountTx))
	b = append(b, recordFormat)
	b = binary.AppendVarint(b, r.OnHand)
	b = binary.AppendVarint(b, r.Allocated)
	b = binary.AppendVarint(b, r.Version)
	b = binary.AppendVarint(b, r.UpdatedAt)
	if r.HasCount {
		b = append(b, 1)
		b = binary.AppendVarint(b, r.CountAt)
		b = appendString(b, r.CountTx)
		b = binary.AppendVarint(b, r.CountQty)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendVarint(b, r.PrunedBefore)
	b = binary.AppendVarint(b, r.LastPruneAt)
	return b
}

func decodeRecord(key, v []byte) (Record, error) {
	if len(key) == 0 || key[0] != tagRecord {
		return Record{}, fmt.Errorf("%w: record key %q", errCorrupt, key)
	}
	// One string for the whole key; the four identifiers share it.
	var parts [4]string
	rest := string(key[1:])
	for i := range parts[:3] {
		j := strings.IndexByte(rest, 0)
		if j < 0 {
			return Record{}, fmt.Errorf("%w: record key %q", errCorrupt, key)
		}
		parts[i], rest = rest[:j], rest[j+1:]
	}
	if strings.IndexByte(rest, 0) >= 0 {
		return Record{}, fmt.Errorf("%w: record key %q", errCorrupt, key)
	}
	parts[3] = rest
	r := Record{WarehouseID: parts[0], ItemID: parts[1], LocationID: parts[2], LotNumber: parts[3]}
	if err := r.decodeValue(key, v); err != nil {
		return Record{}, err
	}
	return r, nil
}

// decodeValue fills r's quantities from v, the stored value at key; the
// identifiers are the caller's.
func (r *Record) decodeValue(key, v []byte) error {
	d := decoder{b: v}
	if d.byte() != recordFormat {
		return fmt.Errorf("%w: record %q has an unknown format", errCorrupt, key)
	}
	r.OnHand, r.Allocated, r.Version, r.UpdatedAt = d.varint(), d.varint(), d.varint(), d.varint()
	switch d.byte() {
	case 0:
	case 1:
		r.HasCount = true
		r.CountAt, r.CountTx, r.CountQty = d.varint(), d.string(), d.varint()
	default:
		d.fail()
	}
	r.PrunedBefore, r.LastPruneAt = d.varint(), d.varint()
	if d.err != nil || len(d.b) != 0 {
		return fmt.Errorf("%w: record %q", errCorrupt, key)
	}
	return nil
}

// Outcome is what became of an accepted transaction; it is also the
// idempotency entry for its transactionId.
type Outcome struct {
	TransactionID   string
	Status          string // StatusApplied or StatusRejected
	Code            string
	Message         string
	ResultingOnHand int64
	Version         int64
	Warnings        []string
	BodyHash        []byte
	AppliedAt       int64 // Unix ms
	// WarehouseID is the transaction's warehouse, for scoping reads of
	// the outcome ("" in outcomes stored before it was recorded).
	WarehouseID string
}

// Outcome statuses.
const (
	StatusApplied  = "applied"
	StatusRejected = "rejected"
)

// Outcome formats: 1 had no warehouse; 2 appends it. Both are read.
const (
	outcomeFormatV1 = 1
	outcomeFormat   = 2
)

// EncodeOutcome is the stored form of an outcome.
func EncodeOutcome(o *Outcome) []byte {
	b := make([]byte, 0, 64+len(o.Message)+len(o.BodyHash))
	b = append(b, outcomeFormat)
	b = appendString(b, o.TransactionID)
	b = appendString(b, o.Status)
	b = appendString(b, o.Code)
	b = appendString(b, o.Message)
	b = binary.AppendVarint(b, o.ResultingOnHand)
	b = binary.AppendVarint(b, o.Version)
	b = binary.AppendUvarint(b, uint64(len(o.Warnings)))
	for _, w := range o.Warnings {
		b = appendString(b, w)
	}
	b = appendString(b, string(o.BodyHash))
	b = binary.AppendVarint(b, o.AppliedAt)
	return appendString(b, o.WarehouseID)
}

// DecodeOutcome reverses EncodeOutcome.
func DecodeOutcome(v []byte) (Outcome, error) {
	d := decoder{b: v}
	format := d.byte()
	if format != outcomeFormat && format != outcomeFormatV1 {
		return Outcome{}, fmt.Errorf("%w: outcome has an unknown format", errCorrupt)
	}
	o := Outcome{TransactionID: d.string(), Status: d.string(), Code: d.string(), Message: d.string()}
	o.ResultingOnHand, o.Version = d.varint(), d.varint()
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		return Outcome{}, fmt.Errorf("%w: outcome warnings", errCorrupt)
	}
	for range n {
		o.Warnings = append(o.Warnings, d.string())
	}
	if h := d.string(); h != "" {
		o.BodyHash = []byte(h)
	}
	o.AppliedAt = d.varint()
	if format == outcomeFormat {
		o.WarehouseID = d.string()
	}
	if d.err != nil || len(d.b) != 0 {
		return Outcome{}, fmt.Errorf("%w: outcome of %q", errCorrupt, o.TransactionID)
	}
	return o, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads what the append functions wrote; the first failure sticks
// in err and later reads return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() { d.err, d.b = errCorrupt, nil }

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// skip moves past n read bytes, or fails on the n <= 0 of a bad varint.
func (d *decoder) skip(n int) bool {
	if n <= 0 {
		d.fail()
		return false
	}
	d.b = d.b[n:]
	return true
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if !d.skip(n) {
		return 0
	}
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if !d.skip(n) {
		return 0
	}
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// OutcomePrefix is the key prefix of every transaction's outcome, the
// idempotency keys that a new transaction looks up and misses (see
// state.Options.AbsentPrefix).
func OutcomePrefix() []byte { return []byte{tagOutcome} }

// RecordPrefix is the key prefix of every stock record: what every
// transaction reads, kept hot in memory (state.Options.HotPrefix).
func RecordPrefix() []byte { return []byte{tagRecord} }
