package processors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Allocation statuses.
const (
	AllocTentative = "TENTATIVE"
	AllocConfirmed = "CONFIRMED"
	AllocPartial   = "PARTIAL"
	AllocRejected  = "REJECTED"
	AllocCancelled = "CANCELLED"
	AllocFulfilled = "FULFILLED"
	AllocExpired   = "EXPIRED"
)

// Allocation decision reasons.
const (
	ReasonInsufficientStock = "INSUFFICIENT_STOCK"
	ReasonShortfall         = "SHORTFALL"
	ReasonCancelled         = "CANCELLED_BY_REQUEST"
	ReasonExpired           = "EXPIRED"
)

// WarnAllocationNotActive: a PICK named an allocation that is unknown,
// finished, or holds no reservation at the picked location and lot; the
// pick is applied as a plain pick.
const WarnAllocationNotActive = "ALLOCATION_NOT_ACTIVE"

// AllocAction is what an allocation request asks.
type AllocAction string

// Allocation request actions.
const (
	ActionAllocate AllocAction = "ALLOCATE"
	ActionCancel   AllocAction = "CANCEL"
)

// AllocRequest is the cloud's request for (or cancellation of) a reservation.
type AllocRequest struct {
	Action       AllocAction
	AllocationID string
	OrderID      string
	OrderLine    int32
	WarehouseID  string
	ItemID       string
	Quantity     int64
	LocationID   string // preferred location, "" for none
	LotNumber    string // required lot, "" for any
	AllowPartial bool
	ExpiresAt    *time.Time
	RequestedAt  time.Time
	BodyHash     []byte
}

// Hash is the idempotency hash of an ALLOCATE request's content.
func (r *AllocRequest) Hash() []byte {
	b, _ := json.Marshal([]any{r.AllocationID, r.OrderID, r.OrderLine, r.WarehouseID, r.ItemID, r.Quantity,
		r.LocationID, r.LotNumber, r.AllowPartial, r.ExpiresAt})
	return hashBytes(b)
}

// AllocLine is a reservation at one location and lot.
type AllocLine struct {
	LocationID string `json:"locationId"`
	LotNumber  string `json:"lotNumber"`
	Quantity   int64  `json:"quantity"`
}

// AllocHistory is one state change of an allocation.
type AllocHistory struct {
	At     time.Time `json:"at"`
	Status string    `json:"status"`
	Reason string    `json:"reason,omitempty"`
}

// Allocation is the processor's record of one allocation.
type Allocation struct {
	AllocationID      string         `json:"allocationId"`
	OrderID           string         `json:"orderId"`
	OrderLine         int32          `json:"orderLine"`
	WarehouseID       string         `json:"warehouseId"`
	ItemID            string         `json:"itemId"`
	Status            string         `json:"status"`
	RequestedQuantity int64          `json:"requestedQuantity"`
	ConfirmedQuantity int64          `json:"confirmedQuantity"`
	BackorderQuantity int64          `json:"backorderQuantity"`
	PickedQuantity    int64          `json:"pickedQuantity"`
	Lines             []AllocLine    `json:"lines"`
	Reason            string         `json:"reason,omitempty"`
	History           []AllocHistory `json:"history"`
	AllowPartial      bool           `json:"allowPartial"`
	LocationID        string         `json:"preferredLocationId,omitempty"`
	LotNumber         string         `json:"lotNumber,omitempty"`
	ExpiresAt         *time.Time     `json:"expiresAt,omitempty"`
	Seq               int64          `json:"seq"`      // creation order within its stock key (newest = highest)
	Sequence          int64          `json:"sequence"` // number of published decisions
	BodyHash          []byte         `json:"bodyHash"`
}

// Active reports whether the allocation still holds reservations.
func (a *Allocation) Active() bool {
	return a.Status == AllocConfirmed || a.Status == AllocPartial
}

// AllocResult is what an allocation request or a transaction did to
// allocations: each changed allocation's state after the change, one per
// published decision, in order.
type AllocResult struct {
	Allocation Allocation
	Duplicate  bool
	Mismatch   bool
	Unknown    bool // a CANCEL of an allocation never seen
	Decisions  []Allocation
	// Events restate each stock record whose reservation changed.
	Events []Event
}

const (
	tagAlloc       = 'a' // a allocId                         -> Allocation (JSON)
	tagAllocActive = 'A' // A wh 0 item 0 seq(8) allocId      -> ""
	tagAllocOrder  = 'o' // o orderId 0 allocId               -> ""
	tagAllocSeq    = 'q' // q wh 0 item                       -> last seq
	tagAllocExpiry = 'x' // x expiresAt(8) allocId            -> ""
)

// AllocationKey is the key of an allocation.
func AllocationKey(id string) []byte { return joinKey(tagAlloc, id) }

func activePrefix(wh, item string) []byte { return append(joinKey(tagAllocActive, wh, item), 0) }

func activeKey(a *Allocation) []byte {
	k := binary.BigEndian.AppendUint64(activePrefix(a.WarehouseID, a.ItemID), uint64(a.Seq))
	return append(k, a.AllocationID...)
}

func orderPrefix(orderID string) []byte { return append(joinKey(tagAllocOrder, orderID), 0) }

func expiryKey(a *Allocation) []byte {
	k := binary.BigEndian.AppendUint64([]byte{tagAllocExpiry}, uint64(a.ExpiresAt.UnixMilli())^(1<<63))
	return append(k, a.AllocationID...)
}

func loadAllocation(s Reader, id string) (Allocation, bool, error) {
	return getJSON[Allocation](s, AllocationKey(id), "allocation", id)
}

func saveAllocation(s Store, a *Allocation) error {
	if err := setJSON(s, AllocationKey(a.AllocationID), a); err != nil {
		return err
	}
	if a.Active() {
		if err := s.Set(activeKey(a), nil); err != nil {
			return err
		}
		if a.ExpiresAt != nil {
			return s.Set(expiryKey(a), []byte(a.WarehouseID+"\x00"+a.ItemID))
		}
		return nil
	}
	if err := s.Delete(activeKey(a)); err != nil {
		return err
	}
	if a.ExpiresAt != nil {
		return s.Delete(expiryKey(a))
	}
	return nil
}

// LookupAllocation returns an allocation by id.
func LookupAllocation(s Reader, id string) (Allocation, bool, error) { return loadAllocation(s, id) }

// OrderAllocations returns the allocations of an order held in s.
func OrderAllocations(s Reader, orderID string) ([]Allocation, error) {
	prefix := orderPrefix(orderID)
	var ids []string
	if err := s.Scan(prefix, PrefixEnd(prefix), func(k, _ []byte) error {
		ids = append(ids, string(k[len(prefix):]))
		return nil
	}); err != nil {
		return nil, err
	}
	var out []Allocation
	for _, id := range ids {
		a, ok, err := loadAllocation(s, id)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, a)
		}
	}
	return out, nil
}

// decide records a state change of a: the status, reason and history entry,
// and one more published decision.
func (a *Allocation) decide(status, reason string, now time.Time) {
	a.Status, a.Reason = status, reason
	a.History = append(a.History, AllocHistory{At: now.UTC(), Status: status, Reason: reason})
	a.Sequence++
}

// Allocate applies an allocation request: creates and decides a new
// allocation, or cancels one.
func (p *Processor) Allocate(s Store, req *AllocRequest, now time.Time) (AllocResult, error) {
	ts := track(s)
	res, err := p.allocate(ts, req, now)
	if err != nil || len(res.Decisions) == 0 {
		return res, err
	}
	res.Events, err = ts.reservationEvents(nil, DecisionID(&res.Decisions[len(res.Decisions)-1]), now)
	return res, err
}

// DecisionID is the id of an allocation's latest decision:
// "dec-<allocationId>-<sequence>".
func DecisionID(a *Allocation) string { return fmt.Sprintf("dec-%s-%d", a.AllocationID, a.Sequence) }

func (p *Processor) allocate(s Store, req *AllocRequest, now time.Time) (AllocResult, error) {
	if req.Action == ActionCancel {
		return p.cancel(s, req.AllocationID, AllocCancelled, ReasonCancelled, now)
	}
	if a, ok, err := loadAllocation(s, req.AllocationID); err != nil {
		return AllocResult{}, err
	} else if ok {
		return AllocResult{Allocation: a, Duplicate: true, Mismatch: !bytes.Equal(a.BodyHash, req.BodyHash)}, nil
	}
	seq, err := nextSeq(s, req.WarehouseID, req.ItemID)
	if err != nil {
		return AllocResult{}, err
	}
	a := Allocation{
		AllocationID: req.AllocationID, OrderID: req.OrderID, OrderLine: req.OrderLine,
		WarehouseID: req.WarehouseID, ItemID: req.ItemID, RequestedQuantity: req.Quantity,
		AllowPartial: req.AllowPartial, LocationID: req.LocationID, LotNumber: req.LotNumber,
		ExpiresAt: req.ExpiresAt, Seq: seq, BodyHash: req.BodyHash, Lines: []AllocLine{},
		History: []AllocHistory{{At: req.RequestedAt.UTC(), Status: AllocTentative}},
	}
	recs, err := Positions(s, req.WarehouseID, req.ItemID, nil, nil)
	if err != nil {
		return AllocResult{}, err
	}
	lines := pickLines(recs, req.Quantity, req.LocationID, req.LotNumber, "")
	var got int64
	for _, l := range lines {
		got += l.Quantity
	}
	switch {
	case got == req.Quantity:
		a.ConfirmedQuantity = got
		a.Lines = lines
		a.decide(AllocConfirmed, "", now)
	case got > 0 && req.AllowPartial:
		a.ConfirmedQuantity, a.BackorderQuantity = got, req.Quantity-got
		a.Lines = lines
		a.decide(AllocPartial, ReasonInsufficientStock, now)
	default:
		a.decide(AllocRejected, ReasonInsufficientStock, now)
	}
	if err := reserve(s, &a, a.Lines, +1, now); err != nil {
		return AllocResult{}, err
	}
	if err := s.Set(append(orderPrefix(a.OrderID), a.AllocationID...), nil); err != nil {
		return AllocResult{}, err
	}
	if err := saveAllocation(s, &a); err != nil {
		return AllocResult{}, err
	}
	return AllocResult{Allocation: a, Decisions: []Allocation{a}}, nil
}

func nextSeq(s Store, wh, item string) (int64, error) {
	key := joinKey(tagAllocSeq, wh, item)
	v, ok, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	var seq int64
	if ok {
		seq, _ = binary.Varint(v)
	}
	seq++
	return seq, s.Set(key, binary.AppendVarint(nil, seq))
}

// cancel releases what an active allocation still reserves and moves it to
// status (CANCELLED or EXPIRED). Cancelling a finished allocation changes
// nothing.
func (p *Processor) cancel(s Store, id, status, reason string, now time.Time) (AllocResult, error) {
	a, ok, err := loadAllocation(s, id)
	if err != nil {
		return AllocResult{}, err
	}
	if !ok {
		return AllocResult{Unknown: true}, nil
	}
	if !a.Active() {
		return AllocResult{Allocation: a, Duplicate: true}, nil
	}
	if err := reserve(s, &a, a.Lines, -1, now); err != nil {
		return AllocResult{}, err
	}
	a.Lines = []AllocLine{}
	a.decide(status, reason, now)
	if err := saveAllocation(s, &a); err != nil {
		return AllocResult{}, err
	}
	return AllocResult{Allocation: a, Decisions: []Allocation{a}}, nil
}

// reserve adds (sign +1) or releases (-1) lines on their stock records.
func reserve(s Store, a *Allocation, lines []AllocLine, sign int64, now time.Time) error {
	for _, l := range lines {
		if l.Quantity == 0 {
			continue
		}
		r, err := loadRecord(s, a.WarehouseID, a.ItemID, l.LocationID, l.LotNumber)
		if err != nil {
			return err
		}
		r.Allocated += sign * l.Quantity
		r.Version++
		r.UpdatedAt = now.UnixMilli()
		if err := s.Set(RecordKey(r.WarehouseID, r.ItemID, r.LocationID, r.LotNumber), r.encode()); err != nil {
			return err
		}
	}
	return nil
}

// pickLines chooses where to reserve up to qty among recs. The picking
// strategy: only the requested lot when one is given; the preferred
// location first; then lots oldest first (lot numbers in ascending order,
// first-expired-first-out where lot numbers encode dates as they usually
// do); then the locations with the most available stock first, so an order
// line is served from as few locations as possible. skip excludes one
// record (the one that fell short).
func pickLines(recs []Record, qty int64, preferLoc, lot string, skip string) []AllocLine {
	type cand struct {
		r     Record
		avail int64
	}
	var cands []cand
	for _, r := range recs {
		if lot != "" && r.LotNumber != lot {
			continue
		}
		if skip != "" && recordID(&r) == skip {
			continue
		}
		if avail := max(r.OnHand, 0) - r.Allocated; avail > 0 {
			cands = append(cands, cand{r, avail})
		}
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if pa, pb := a.r.LocationID == preferLoc, b.r.LocationID == preferLoc; pa != pb {
			return pa
		}
		if a.r.LotNumber != b.r.LotNumber {
			return a.r.LotNumber < b.r.LotNumber
		}
		if a.avail != b.avail {
			return a.avail > b.avail
		}
		return a.r.LocationID < b.r.LocationID
	})
	var out []AllocLine
	for _, c := range cands {
		if qty <= 0 {
			break
		}
		take := min(c.avail, qty)
		out = append(out, AllocLine{LocationID: c.r.LocationID, LotNumber: c.r.LotNumber, Quantity: take})
		qty -= take
	}
	return out
}

func recordID(r *Record) string { return r.LocationID + "\x00" + r.LotNumber }

// addLines merges add into lines (same location and lot summed).
func addLines(lines, add []AllocLine) []AllocLine {
	for _, l := range add {
		merged := false
		for i := range lines {
			if lines[i].LocationID == l.LocationID && lines[i].LotNumber == l.LotNumber {
				lines[i].Quantity += l.Quantity
				merged = true
				break
			}
		}
		if !merged {
			lines = append(lines, l)
		}
	}
	out := lines[:0]
	for _, l := range lines {
		if l.Quantity > 0 {
			out = append(out, l)
		}
	}
	return out
}

func hashBytes(b []byte) []byte {
	t := Transaction{TransactionID: string(b)}
	return t.Hash()
}

// ValidAllocationID reports what is wrong with an allocation or order id,
// or "".
func ValidAllocationID(name, id string) string {
	if id == "" {
		return name + " is required"
	}
	if msg := checkID(id, 128); msg != "" {
		return name + " " + msg
	}
	return ""
}

var errStopScan = errors.New("stop scan")
