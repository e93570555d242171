package processors

import "time"

// consumePick applies a PICK against its allocation: the reservation at the
// picked location is consumed by up to the picked quantity. The excess, if
// any, is an ordinary pick of unreserved stock. It returns the changed
// allocation's decision, if any, and a warning when the allocation holds no
// reservation.
func (p *Processor) consumePick(s Store, tx *Transaction, r *Record, now time.Time) ([]Allocation, string, error) {
	a, ok, err := loadAllocation(s, tx.AllocationID)
	if err != nil {
		return nil, "", err
	}
	if !ok || !a.Active() || a.WarehouseID != tx.WarehouseID || a.ItemID != tx.ItemID {
		return nil, WarnAllocationNotActive, nil
	}
	var used int64
	for i := range a.Lines {
		l := &a.Lines[i]
		if l.LocationID == tx.LocationID && l.LotNumber == tx.LotNumber {
			used = min(l.Quantity, tx.Quantity)
			l.Quantity -= used
		}
	}
	if used == 0 {
		return nil, WarnAllocationNotActive, nil
	}
	a.Lines = addLines(a.Lines, nil)
	a.PickedQuantity += used
	r.Allocated -= used
	if a.PickedQuantity >= a.ConfirmedQuantity && a.BackorderQuantity == 0 {
		a.decide(AllocFulfilled, "", now)
	} else {
		a.Sequence++
		a.History = append(a.History, AllocHistory{At: now.UTC(), Status: a.Status, Reason: "PICKED"})
	}
	if err := saveAllocation(s, &a); err != nil {
		return nil, "", err
	}
	return []Allocation{a}, "", nil
}

// resolveShortfall restores allocated ≤ max(onHand, 0) on record r after a
// physical change. First the shortfall is re-reserved from other records of
// the item (allocations bound to a lot first, as they have fewer places to
// go, then the others, oldest first within each); what cannot be covered
// comes off the allocations reserving at r, newest first, as backorder. Every allocation changed gets a
// SHORTFALL decision.
func (p *Processor) resolveShortfall(s Store, r *Record, now time.Time) ([]Allocation, error) {
	fresh, err := loadRecord(s, r.WarehouseID, r.ItemID, r.LocationID, r.LotNumber)
	if err != nil {
		return nil, err
	}
	*r = fresh
	short := r.Allocated - max(r.OnHand, 0)
	if short <= 0 {
		return nil, nil
	}
	prefix := activePrefix(r.WarehouseID, r.ItemID)
	var ids []string
	if err := s.Scan(prefix, PrefixEnd(prefix), func(k, _ []byte) error {
		ids = append(ids, string(k[len(prefix)+8:]))
		return nil
	}); err != nil {
		return nil, err
	}
	var allocs []Allocation // oldest first (the index is ordered by creation)
	for _, id := range ids {
		a, ok, err := loadAllocation(s, id)
		if err != nil {
			return nil, err
		}
		if ok && a.Active() && qtyAt(&a, r) > 0 {
			allocs = append(allocs, a)
		}
	}
	here := recordID(r)
	changed := make([]bool, len(allocs))
	// Allocations bound to a lot have fewer places to go: move them
	// first, then the others; oldest first within each.
	order := make([]int, 0, len(allocs))
	for pass := 0; pass < 2; pass++ {
		for i := range allocs {
			if (allocs[i].LotNumber != "") == (pass == 0) {
				order = append(order, i)
			}
		}
	}
	for _, i := range order {
		if short <= 0 {
			break
		}
		a := &allocs[i]
		cur, err := Positions(s, r.WarehouseID, r.ItemID, nil, nil)
		if err != nil {
			return nil, err
		}
		moved := pickLines(cur, min(qtyAt(a, r), short), a.LocationID, a.LotNumber, here)
		var got int64
		for _, l := range moved {
			got += l.Quantity
		}
		if got == 0 {
			continue
		}
		if err := reserve(s, a, moved, +1, now); err != nil {
			return nil, err
		}
		a.Lines = addLines(a.Lines, append(moved, AllocLine{LocationID: r.LocationID, LotNumber: r.LotNumber, Quantity: -got}))
		r.Allocated -= got
		short -= got
		changed[i] = true
	}
	for i := len(allocs) - 1; i >= 0 && short > 0; i-- {
		a := &allocs[i]
		back := min(qtyAt(a, r), short)
		if back == 0 {
			continue
		}
		a.Lines = addLines(a.Lines, []AllocLine{{LocationID: r.LocationID, LotNumber: r.LotNumber, Quantity: -back}})
		r.Allocated -= back
		a.ConfirmedQuantity -= back
		a.BackorderQuantity += back
		short -= back
		changed[i] = true
	}
	if err := s.Set(RecordKey(r.WarehouseID, r.ItemID, r.LocationID, r.LotNumber), r.encode()); err != nil {
		return nil, err
	}
	var decisions []Allocation
	for i := len(allocs) - 1; i >= 0; i-- { // newest first, the order they lost stock in
		if !changed[i] {
			continue
		}
		a := &allocs[i]
		status := a.Status
		if a.BackorderQuantity > 0 {
			status = AllocPartial
		}
		a.decide(status, ReasonShortfall, now)
		if err := saveAllocation(s, a); err != nil {
			return nil, err
		}
		decisions = append(decisions, *a)
	}
	return decisions, nil
}

// qtyAt is what a reserves at r's location and lot.
func qtyAt(a *Allocation, r *Record) int64 {
	var q int64
	for _, l := range a.Lines {
		if l.LocationID == r.LocationID && l.LotNumber == r.LotNumber {
			q += l.Quantity
		}
	}
	return q
}
