package bench

import (
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/invsync/invsync/processors"
)

// The transaction mix, in percent: what a warehouse's scanners report in a
// shift is mostly picks and receipts, with some moves, adjustments and
// counts.
const (
	mixPick       = 45
	mixReceipt    = 35
	mixMove       = 8
	mixAdjustment = 7
	mixCycleCount = 5
)

// catalogSpace lays the stock records the load touches over the demo
// catalog (processors.DemoCatalog): record i is a (warehouse, item,
// location, lot) chosen by a bijection, so any number of records can be
// named without remembering them.
//
// The first warehouses×items×locations indexes take every combination once,
// items varying fastest, so even a small record count spreads over as many
// stock keys (hence partitions) as it can; lot-tracked items there carry lot
// generation 1. Beyond that (more than 7.68 million records with the demo
// catalog) only lot-tracked items can supply new records, each with further
// lot generations.
type catalogSpace struct {
	warehouses []string
	items      []string
	lotTracked []bool
	lotItems   []int // indexes into items of the lot-tracked ones
	locations  []string
	base       int // len(warehouses) * len(items) * len(locations)
}

// stockRecord is one record of the load, as indexes into a catalogSpace.
type stockRecord struct {
	w, item, loc int
	gen          int // lot generation; 0 for items that are not lot-tracked
}

func newCatalogSpace(doc processors.CatalogDoc) *catalogSpace {
	s := &catalogSpace{}
	for _, w := range doc.Warehouses {
		s.warehouses = append(s.warehouses, w.WarehouseID)
	}
	// Every demo warehouse has the same locations; use the first one's.
	s.locations = doc.Warehouses[0].Locations
	for i, it := range doc.Items {
		s.items = append(s.items, it.ItemID)
		s.lotTracked = append(s.lotTracked, it.LotTracked)
		if it.LotTracked {
			s.lotItems = append(s.lotItems, i)
		}
	}
	s.base = len(s.warehouses) * len(s.items) * len(s.locations)
	return s
}

// record returns record i (i >= 0).
func (s *catalogSpace) record(i int) stockRecord {
	nw, ni, nl := len(s.warehouses), len(s.items), len(s.locations)
	if i < s.base {
		keys := nw * ni
		key := i % keys
		r := stockRecord{item: key % ni, w: key / ni}
		// Scatter the location per stock key so records of one key do not
		// all sit in the first aisle; still a bijection for a fixed key.
		r.loc = (i/keys + scatter(key)) % nl
		if s.lotTracked[r.item] {
			r.gen = 1
		}
		return r
	}
	j := i - s.base
	nlot := len(s.lotItems)
	keys := nw * nlot
	perGen := keys * nl
	key := j % keys
	r := stockRecord{item: s.lotItems[key%nlot], w: key / nlot, gen: 2 + j/perGen}
	r.loc = ((j%perGen)/keys + scatter(key)) % nl
	return r
}

// stride is the distance between record i and the next record with the
// same warehouse, item and lot (another location).
func (s *catalogSpace) stride(i int) int {
	if i < s.base {
		return len(s.warehouses) * len(s.items)
	}
	return len(s.warehouses) * len(s.lotItems)
}

// moveTarget returns the location a MOVE from record i (of n) goes to:
// another of the n records with the same warehouse, item and lot when there
// is one, else the next location (a record outside the set, created by the
// move; at most one per record).
func (s *catalogSpace) moveTarget(i, n int) int {
	r := s.record(i)
	for _, j := range []int{i + s.stride(i), i - s.stride(i)} {
		if j < 0 || j >= n {
			continue
		}
		if o := s.record(j); o.w == r.w && o.item == r.item && o.gen == r.gen && o.loc != r.loc {
			return o.loc
		}
	}
	return (r.loc + 1) % len(s.locations)
}

func (s *catalogSpace) lot(r stockRecord) string {
	if !s.lotTracked[r.item] {
		return ""
	}
	return "LOT-" + strconv.Itoa(r.gen)
}

// scatter is a cheap integer hash (splitmix64's finaliser).
func scatter(k int) int {
	x := uint64(k) + 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	x ^= x >> 31
	return int(x >> 1)
}

// scanTx is one generated scanner transaction: the generator's record,
// sent over HTTP as an api.Transaction (appendUpload, which
// TestAppendUploadIsTheAPIsUpload holds to that type) and by the peer
// straight to Kafka as a schemas.Transaction (peerWire).
type scanTx struct {
	ID         string
	Type       processors.TxType
	Timestamp  time.Time
	Warehouse  string
	Item       string
	Location   string
	Lot        string
	Quantity   int64
	ToLocation string // MOVE only
	User       string
}

// legs is the number of events the transaction yields once applied.
func (t *scanTx) legs() int32 {
	if t.Type == processors.Move {
		return 2
	}
	return 1
}

// workload makes the transactions of a run. It is immutable and safe for
// concurrent use; each request draws from its own seeded generator, so the
// same seed, phase and request always yield the same transactions.
type workload struct {
	space   *catalogSpace
	records int
	seed    uint64
	run     string // unique per run: transactionIds never repeat across runs
}

// rng returns the generator of one request of one phase.
func (w *workload) rng(phase, req int) *rand.Rand {
	return rand.New(rand.NewPCG(w.seed, uint64(phase)<<40|uint64(req)))
}

// txID is the transactionId of transaction seq of a phase. It contains no
// '-', so an eventId ("evt-<txid>-<leg>") splits unambiguously.
func (w *workload) txID(phase, seq int) string {
	return "bench." + w.run + "." + strconv.Itoa(phase) + "." + strconv.Itoa(seq)
}

// mixed appends one transaction of the mix on a record chosen uniformly.
func (w *workload) mixed(dst []scanTx, rng *rand.Rand, phase, seq int, at time.Time, user string) []scanTx {
	i := rng.IntN(w.records)
	t := w.base(phase, seq, i, at, user)
	switch k := rng.IntN(100); {
	case k < mixPick:
		t.Type, t.Quantity = processors.Pick, int64(1+rng.IntN(10))
	case k < mixPick+mixReceipt:
		t.Type, t.Quantity = processors.Receipt, int64(1+rng.IntN(50))
	case k < mixPick+mixReceipt+mixMove:
		t.Type, t.Quantity = processors.Move, int64(1+rng.IntN(20))
		t.ToLocation = w.space.locations[w.space.moveTarget(i, w.records)]
	case k < mixPick+mixReceipt+mixMove+mixAdjustment:
		q := int64(1 + rng.IntN(5))
		if rng.IntN(2) == 0 {
			q = -q
		}
		t.Type, t.Quantity = processors.Adjustment, q
	default:
		t.Type, t.Quantity = processors.CycleCount, int64(50+rng.IntN(451))
	}
	return append(dst, t)
}

// receipt appends the preload RECEIPT of record i.
func (w *workload) receipt(dst []scanTx, rng *rand.Rand, phase, i int, at time.Time) []scanTx {
	t := w.base(phase, i, i, at, "bench-preload")
	t.Type, t.Quantity = processors.Receipt, int64(100+rng.IntN(901))
	return append(dst, t)
}

func (w *workload) base(phase, seq, i int, at time.Time, user string) scanTx {
	r := w.space.record(i)
	return scanTx{
		ID:        w.txID(phase, seq),
		Timestamp: at,
		Warehouse: w.space.warehouses[r.w],
		Item:      w.space.items[r.item],
		Location:  w.space.locations[r.loc],
		Lot:       w.space.lot(r),
		User:      user,
	}
}

// appendUpload appends the JSON body of POST /v1/transactions. Every string
// the workload makes is plain ASCII without quotes or backslashes, so it is
// written as is; encoding/json would cost the load generator as much CPU as
// a fair share of the service under test.
func appendUpload(b []byte, scanner string, sentAt time.Time, txs []scanTx) []byte {
	b = append(b, `{"scannerId":"`...)
	b = append(b, scanner...)
	b = append(b, `","sentAt":"`...)
	b = appendTime(b, sentAt)
	b = append(b, `","transactions":[`...)
	for i := range txs {
		t := &txs[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"transactionId":"`...)
		b = append(b, t.ID...)
		b = append(b, `","type":"`...)
		b = append(b, t.Type...)
		b = append(b, `","timestamp":"`...)
		b = appendTime(b, t.Timestamp)
		b = append(b, `","warehouseId":"`...)
		b = append(b, t.Warehouse...)
		b = append(b, `","itemId":"`...)
		b = append(b, t.Item...)
		b = append(b, `","locationId":"`...)
		b = append(b, t.Location...)
		if t.Lot != "" {
			b = append(b, `","lotNumber":"`...)
			b = append(b, t.Lot...)
		}
		if t.ToLocation != "" {
			b = append(b, `","toLocationId":"`...)
			b = append(b, t.ToLocation...)
		}
		b = append(b, `","userId":"`...)
		b = append(b, t.User...)
		b = append(b, `","quantity":`...)
		b = strconv.AppendInt(b, t.Quantity, 10)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

func appendTime(b []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
}
