package schemas

// The codecs of the allocation requests and decisions, encoded through goavro
// and decoded by hand.

// AppendAllocationRequest appends a to dst in wire format,
// under the Append contract in the package documentation.
func (s *Set) AppendAllocationRequest(dst []byte, a *AllocationRequest) ([]byte, error) {
	return appendRecord(s, dst, kindAllocationRequest, "allocation request", a)
}

func (a *AllocationRequest) check() error {
	var c checker
	checkEnum(&c, "action", a.Action, allocationActions)
	c.strFields([]strField{
		{"allocationId", a.AllocationID}, {"orderId", a.OrderID}, {"warehouseId", a.WarehouseID}, {"itemId", a.ItemID},
	})
	c.optStr("locationId", a.LocationID)
	c.optStr("lotNumber", a.LotNumber)
	return c.err
}

func (a *AllocationRequest) native() map[string]any {
	return map[string]any{
		"action":       string(a.Action),
		"allocationId": a.AllocationID,
		"orderId":      a.OrderID,
		"orderLine":    a.OrderLine,
		"warehouseId":  a.WarehouseID,
		"itemId":       a.ItemID,
		"quantity":     a.Quantity,
		"locationId":   optUnion("string", a.LocationID),
		"lotNumber":    optUnion("string", a.LotNumber),
		"allowPartial": a.AllowPartial,
		"expiresAt":    optMillis(a.ExpiresAt),
		"requestedAt":  millis(a.RequestedAt),
		"bodyHash":     a.BodyHash,
	}
}

// DecodeAllocationRequest decodes a wire-format AllocationRequest,
// under the Decode contract in the package documentation.
func (s *Set) DecodeAllocationRequest(b []byte) (AllocationRequest, error) {
	return decodeRecord(s, b, kindAllocationRequest, "allocation request", func(r *reader) AllocationRequest {
		return AllocationRequest{
			Action:       readEnum(r, "action", allocationActions),
			AllocationID: r.str("allocationId"),
			OrderID:      r.str("orderId"),
			OrderLine:    r.int("orderLine"),
			WarehouseID:  r.str("warehouseId"),
			ItemID:       r.str("itemId"),
			Quantity:     r.long("quantity"),
			LocationID:   r.optStr("locationId"),
			LotNumber:    r.optStr("lotNumber"),
			AllowPartial: r.bool("allowPartial"),
			ExpiresAt:    r.optTime("expiresAt"),
			RequestedAt:  r.time("requestedAt"),
			BodyHash:     r.bytes("bodyHash"),
		}
	})
}

// AppendAllocationDecision appends d to dst in wire format,
// under the Append contract in the package documentation.
func (s *Set) AppendAllocationDecision(dst []byte, d *AllocationDecision) ([]byte, error) {
	return appendRecord(s, dst, kindAllocationDecision, "allocation decision", d)
}

func (d *AllocationDecision) check() error {
	var c checker
	checkEnum(&c, "status", d.Status, allocationStatuses)
	c.strFields([]strField{
		{"decisionId", d.DecisionID}, {"allocationId", d.AllocationID}, {"orderId", d.OrderID},
		{"warehouseId", d.WarehouseID}, {"itemId", d.ItemID},
	})
	for _, l := range d.Lines {
		c.str("lines.locationId", l.LocationID)
		c.str("lines.lotNumber", l.LotNumber)
	}
	c.optStr("reason", d.Reason)
	return c.err
}

func (d *AllocationDecision) native() map[string]any {
	lines := nativeArray(d.Lines, func(l AllocationLine) any {
		return map[string]any{"locationId": l.LocationID, "lotNumber": l.LotNumber, "quantity": l.Quantity}
	})
	return map[string]any{
		"decisionId":        d.DecisionID,
		"allocationId":      d.AllocationID,
		"orderId":           d.OrderID,
		"orderLine":         d.OrderLine,
		"warehouseId":       d.WarehouseID,
		"itemId":            d.ItemID,
		"status":            string(d.Status),
		"requestedQuantity": d.RequestedQuantity,
		"confirmedQuantity": d.ConfirmedQuantity,
		"backorderQuantity": d.BackorderQuantity,
		"pickedQuantity":    d.PickedQuantity,
		"lines":             lines,
		"reason":            optUnion("string", d.Reason),
		"decidedAt":         millis(d.DecidedAt),
		"sequence":          d.Sequence,
	}
}

// DecodeAllocationDecision decodes a wire-format AllocationDecision,
// under the Decode contract in the package documentation.
func (s *Set) DecodeAllocationDecision(b []byte) (AllocationDecision, error) {
	return decodeRecord(s, b, kindAllocationDecision, "allocation decision", func(r *reader) AllocationDecision {
		d := AllocationDecision{
			DecisionID:        r.str("decisionId"),
			AllocationID:      r.str("allocationId"),
			OrderID:           r.str("orderId"),
			OrderLine:         r.int("orderLine"),
			WarehouseID:       r.str("warehouseId"),
			ItemID:            r.str("itemId"),
			Status:            readEnum(r, "status", allocationStatuses),
			RequestedQuantity: r.long("requestedQuantity"),
			ConfirmedQuantity: r.long("confirmedQuantity"),
			BackorderQuantity: r.long("backorderQuantity"),
			PickedQuantity:    r.long("pickedQuantity"),
		}
		for n := r.blockCount("lines"); n > 0; n = r.blockCount("lines") {
			for range n {
				d.Lines = append(d.Lines, AllocationLine{
					LocationID: r.str("lines.locationId"),
					LotNumber:  r.str("lines.lotNumber"),
					Quantity:   r.long("lines.quantity"),
				})
			}
		}
		d.Reason = r.optStr("reason")
		d.DecidedAt = r.time("decidedAt")
		d.Sequence = r.long("sequence")
		return d
	})
}
