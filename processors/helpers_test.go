package processors

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// t0 is the morning every test time is measured from.
var t0 = time.Date(2026, time.November, 26, 10, 0, 0, 0, time.UTC)

const (
	testWH   = "WH-001"
	testItem = "ITEM-12345"
	locA     = "A-05-02"
	locB     = "B-01-01"
)

// sec is t0 plus s seconds: the corrected time of a test transaction.
func sec(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

// txOpt changes a test transaction before its BodyHash is computed.
type txOpt func(*Transaction)

func lot(l string) txOpt  { return func(t *Transaction) { t.LotNumber = l } }
func item(i string) txOpt { return func(t *Transaction) { t.ItemID = i } }

func expectVersion(v int64) txOpt { return func(t *Transaction) { t.ExpectedVersion = &v } }

// receivedAt sets the server receive time to t0+d (default t0+1h).
func receivedAt(d time.Duration) txOpt {
	return func(t *Transaction) { t.ReceivedAt = t0.Add(d) }
}

func allocation(id string) txOpt { return func(t *Transaction) { t.AllocationID = id } }

// newTx builds a transaction observed at t0+s seconds and received at
// t0+1h, well inside the default window.
func newTx(typ TxType, id string, s int, loc string, qty int64, opts ...txOpt) *Transaction {
	tx := &Transaction{
		TransactionID:      id,
		Type:               typ,
		WarehouseID:        testWH,
		ItemID:             testItem,
		LocationID:         loc,
		Quantity:           qty,
		UserID:             "warehouse_user_23",
		ScannerID:          "SCANNER-08",
		DeviceTimestamp:    sec(s).Add(-2 * time.Second), // a skewed device clock
		CorrectedTimestamp: sec(s),
		SentAt:             t0.Add(time.Hour - 2*time.Second),
		ReceivedAt:         t0.Add(time.Hour),
	}
	for _, o := range opts {
		o(tx)
	}
	tx.BodyHash = tx.Hash()
	return tx
}

func receipt(id string, s int, loc string, q int64, o ...txOpt) *Transaction {
	return newTx(Receipt, id, s, loc, q, o...)
}

func pick(id string, s int, loc string, q int64, o ...txOpt) *Transaction {
	return newTx(Pick, id, s, loc, q, o...)
}

func adjust(id string, s int, loc string, q int64, o ...txOpt) *Transaction {
	return newTx(Adjustment, id, s, loc, q, o...)
}

func count(id string, s int, loc string, q int64, o ...txOpt) *Transaction {
	return newTx(CycleCount, id, s, loc, q, o...)
}

func move(id string, s int, from, to string, q int64, o ...txOpt) *Transaction {
	return newTx(Move, id, s, from, q, append([]txOpt{func(t *Transaction) { t.ToLocationID = to }}, o...)...)
}

// recordState is the part of a stored record the conflict rules decide.
type recordState struct {
	item, loc, lot string
	onHand         int64
	version        int64
}

func (r recordState) String() string {
	return fmt.Sprintf("%s/%s/%q onHand=%d v%d", r.item, r.loc, r.lot, r.onHand, r.version)
}

// allRecords decodes every stock record in s, in key order.
func allRecords(t testing.TB, s Reader) []Record {
	t.Helper()
	var out []Record
	err := s.Scan([]byte{tagRecord}, []byte{tagRecord + 1}, func(k, v []byte) error {
		r, err := decodeRecord(k, v)
		out = append(out, r)
		return err
	})
	if err != nil {
		t.Fatalf("scanning records: %v", err)
	}
	return out
}

func recordStates(t testing.TB, s Reader) []recordState {
	t.Helper()
	var out []recordState
	for _, r := range allRecords(t, s) {
		out = append(out, recordState{r.ItemID, r.LocationID, r.LotNumber, r.OnHand, r.Version})
	}
	return out
}

// ledgerLen is the number of ledger entries the record at loc/lot holds.
func ledgerLen(s *memStore, item, loc, lot string) int {
	return s.countPrefix(ledgerPrefix(&Record{WarehouseID: testWH, ItemID: item, LocationID: loc, LotNumber: lot}))
}

func mustApply(t testing.TB, p *Processor, s Store, tx *Transaction, now time.Time) Result {
	t.Helper()
	res, err := p.Apply(s, tx, now)
	if err != nil {
		t.Fatalf("Apply(%s): %v", tx.TransactionID, err)
	}
	return res
}

func fmtList[T any](xs []T) string {
	return "[" + strings.Join(mapped(xs, func(x T) string { return fmt.Sprint(x) }), " ") + "]"
}

// mapped is f of each of xs, in order.
func mapped[T, U any](xs []T, f func(T) U) []U {
	out := make([]U, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

// sameStrings compares string lists, a nil list equal to an empty one.
func sameStrings(a, b []string) bool { return len(a) == 0 && len(b) == 0 || slices.Equal(a, b) }
