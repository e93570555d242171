package sim

import (
	"testing"

	wire "github.com/invsync/invsync/api"
)

// The reference system's rule, case by case: deltas always add, a count
// wins only if not older than the record's last write, duplicates are
// ignored, timestamps are the device's as sent.
func TestLWW(t *testing.T) {
	tx := func(id, typ, at string, q int64) wire.Transaction {
		return wire.Transaction{TransactionID: id, Type: typ, Timestamp: "2026-11-26T10:00:" + at + ".000Z",
			WarehouseID: "W", ItemID: "I", LocationID: "L", Quantity: q}
	}
	k := recordKey("W", "I", "L")
	for _, c := range []struct {
		name string
		txs  []wire.Transaction
		want int64
	}{
		{"deltas add", []wire.Transaction{tx("1", "RECEIPT", "00", 10), tx("2", "PICK", "01", 3), tx("3", "ADJUSTMENT", "02", -2)}, 5},
		{"a count sets", []wire.Transaction{tx("1", "RECEIPT", "00", 10), tx("2", "CYCLE_COUNT", "05", 7)}, 7},
		{"an older count loses", []wire.Transaction{tx("1", "RECEIPT", "09", 10), tx("2", "CYCLE_COUNT", "05", 7)}, 10},
		{"a late older pick still subtracts", []wire.Transaction{tx("1", "RECEIPT", "00", 10), tx("2", "CYCLE_COUNT", "05", 8), tx("3", "PICK", "03", 2)}, 6},
		{"a count overwrites an earlier-arrived newer pick's effect only if newer", []wire.Transaction{tx("1", "RECEIPT", "00", 10), tx("2", "PICK", "07", 2), tx("3", "CYCLE_COUNT", "05", 10)}, 8},
		{"duplicates are ignored", []wire.Transaction{tx("1", "RECEIPT", "00", 10), tx("1", "RECEIPT", "00", 10)}, 10},
	} {
		l := newLWW()
		for _, x := range c.txs {
			l.apply(x)
		}
		if got := l.onHand(k); got != c.want {
			t.Errorf("%s: on-hand %d, want %d", c.name, got, c.want)
		}
	}
	l := newLWW()
	l.apply(wire.Transaction{TransactionID: "m", Type: "MOVE", Timestamp: "2026-11-26T10:00:00.000Z", WarehouseID: "W", ItemID: "I", LocationID: "L", ToLocationID: "M", Quantity: 4})
	if l.onHand(k) != -4 || l.onHand(recordKey("W", "I", "M")) != 4 {
		t.Errorf("move: %d at L, %d at M; want -4 and 4", l.onHand(k), l.onHand(recordKey("W", "I", "M")))
	}
}
