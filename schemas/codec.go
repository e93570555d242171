package schemas

import (
	"fmt"
	"slices"
	"time"

	"github.com/linkedin/goavro/v2"
)

var errNilRecord = fmt.Errorf("%w: nil record", ErrInvalid)

// appendNative encodes a goavro native value after k's header.
func (s *Set) appendNative(dst []byte, k kind, native map[string]any) ([]byte, error) {
	out, err := s.codecs[k].BinaryFromNative(append(dst, s.headers[k][:]...), native)
	if err != nil {
		return dst, err
	}
	return out, nil
}

func optUnion[T any](branch string, v *T) any {
	if v == nil {
		return nil
	}
	return goavro.Union(branch, *v)
}

func millis(t time.Time) int64 { return t.UnixMilli() }

// AppendTransaction appends t to dst in wire format,
// under the Append contract in the package documentation. It is encoded by
// hand (ingest writes one per accepted scan): no goavro, no allocation
// beyond growing dst.
func (s *Set) AppendTransaction(dst []byte, t *Transaction) ([]byte, error) {
	if err := t.check(); err != nil {
		return dst, fmt.Errorf("encoding transaction: %w", err)
	}
	b := append(dst, s.headers[kindTransaction][:]...)
	b = appendString(b, t.TransactionID)
	b = appendLong(b, int64(slices.Index(transactionTypes, t.Type)))
	b = appendString(b, t.WarehouseID)
	b = appendString(b, t.ItemID)
	b = appendString(b, t.LocationID)
	b = appendString(b, t.LotNumber)
	b = appendLong(b, t.Quantity)
	b = appendOptString(b, t.ToLocationID)
	b = appendOptLong(b, t.ExpectedVersion)
	b = appendOptString(b, t.AllocationID)
	b = appendBool(b, t.Override)
	b = appendString(b, t.UserID)
	b = appendOptString(b, t.ReasonCode)
	b = appendString(b, t.ScannerID)
	b = appendLong(b, millis(t.DeviceTimestamp))
	b = appendLong(b, millis(t.CorrectedTimestamp))
	b = appendLong(b, millis(t.SentAt))
	b = appendLong(b, millis(t.ReceivedAt))
	b = appendString(b, string(t.BodyHash))
	b = appendOptString(b, t.Principal)
	b = appendOptString(b, t.CountTaskID)
	return b, nil
}

func (t *Transaction) check() error {
	if t == nil {
		return errNilRecord
	}
	var c checker
	checkEnum(&c, "type", t.Type, transactionTypes)
	for _, f := range [...]struct{ name, v string }{
		{"transactionId", t.TransactionID}, {"warehouseId", t.WarehouseID}, {"itemId", t.ItemID},
		{"locationId", t.LocationID}, {"lotNumber", t.LotNumber}, {"userId", t.UserID}, {"scannerId", t.ScannerID},
	} {
		c.str(f.name, f.v)
	}
	c.optStr("toLocationId", t.ToLocationID)
	c.optStr("allocationId", t.AllocationID)
	c.optStr("reasonCode", t.ReasonCode)
	c.optStr("principal", t.Principal)
	c.optStr("countTaskId", t.CountTaskID)
	return c.err
}

// DecodeTransaction decodes a wire-format Transaction,
// under the Decode contract in the package documentation.
func (s *Set) DecodeTransaction(b []byte) (Transaction, error) {
	p, err := s.payload(b, kindTransaction)
	if err != nil {
		return Transaction{}, fmt.Errorf("decoding transaction: %w", err)
	}
	r := reader{s: string(p)}
	// Composite-literal calls run left to right, in field (= schema) order.
	t := Transaction{
		TransactionID:      r.str("transactionId"),
		Type:               readEnum(&r, "type", transactionTypes),
		WarehouseID:        r.str("warehouseId"),
		ItemID:             r.str("itemId"),
		LocationID:         r.str("locationId"),
		LotNumber:          r.str("lotNumber"),
		Quantity:           r.long("quantity"),
		ToLocationID:       r.optStr("toLocationId"),
		ExpectedVersion:    r.optLong("expectedVersion"),
		AllocationID:       r.optStr("allocationId"),
		Override:           r.bool("override"),
		UserID:             r.str("userId"),
		ReasonCode:         r.optStr("reasonCode"),
		ScannerID:          r.str("scannerId"),
		DeviceTimestamp:    r.time("deviceTimestamp"),
		CorrectedTimestamp: r.time("correctedTimestamp"),
		SentAt:             r.time("sentAt"),
		ReceivedAt:         r.time("receivedAt"),
		BodyHash:           r.bytes("bodyHash"),
	}
	// Added later, together, with null defaults: records written
	// before have neither.
	if !r.atEnd() {
		t.Principal, t.CountTaskID = r.optStr("principal"), r.optStr("countTaskId")
	}
	if err := r.done(); err != nil {
		return Transaction{}, fmt.Errorf("decoding transaction: %w", err)
	}
	return t, nil
}

// AppendInventoryEvent appends e to dst in wire format,
// under the Append contract in the package documentation. It is encoded by
// hand: no goavro, no allocation beyond growing dst.
func (s *Set) AppendInventoryEvent(dst []byte, e *InventoryEvent) ([]byte, error) {
	if err := e.check(); err != nil {
		return dst, fmt.Errorf("encoding inventory event: %w", err)
	}
	b := append(dst, s.headers[kindInventoryEvent][:]...)
	b = appendString(b, e.EventID)
	b = appendLong(b, millis(e.Timestamp))
	b = appendLong(b, int64(slices.Index(eventTypes, e.EventType)))
	b = appendString(b, e.ItemID)
	b = appendString(b, e.WarehouseID)
	b = appendString(b, e.LocationID)
	b = appendOptString(b, e.LotNumber)
	b = appendLong(b, e.QuantityChange)
	b = appendLong(b, e.ResultingOnHand)
	b = appendString(b, e.TransactionID)
	b = appendString(b, e.ScannerID)
	b = appendString(b, e.UserID)
	b = appendLong(b, e.Version)
	b = appendLong(b, e.Allocated)
	b = appendLong(b, e.Available)
	b = appendLong(b, millis(e.DeviceTimestamp))
	b = appendLong(b, millis(e.CorrectedTimestamp))
	b = appendStrings(b, e.Warnings)
	b = appendOptString(b, e.AllocationID)
	b = appendOptString(b, e.Principal)
	return b, nil
}

func (e *InventoryEvent) check() error {
	if e == nil {
		return errNilRecord
	}
	var c checker
	checkEnum(&c, "eventType", e.EventType, eventTypes)
	for _, f := range [...]struct{ name, v string }{
		{"eventId", e.EventID}, {"itemId", e.ItemID}, {"warehouseId", e.WarehouseID}, {"locationId", e.LocationID},
		{"transactionId", e.TransactionID}, {"scannerId", e.ScannerID}, {"userId", e.UserID},
	} {
		c.str(f.name, f.v)
	}
	c.optStr("lotNumber", e.LotNumber)
	c.strs("warnings", e.Warnings)
	c.optStr("allocationId", e.AllocationID)
	c.optStr("principal", e.Principal)
	return c.err
}

// DecodeInventoryEvent decodes a wire-format InventoryEvent,
// under the Decode contract in the package documentation.
func (s *Set) DecodeInventoryEvent(b []byte) (InventoryEvent, error) {
	p, err := s.payload(b, kindInventoryEvent)
	if err != nil {
		return InventoryEvent{}, fmt.Errorf("decoding inventory event: %w", err)
	}
	r := reader{s: string(p)}
	e := InventoryEvent{
		EventID:            r.str("eventId"),
		Timestamp:          r.time("timestamp"),
		EventType:          readEnum(&r, "eventType", eventTypes),
		ItemID:             r.str("itemId"),
		WarehouseID:        r.str("warehouseId"),
		LocationID:         r.str("locationId"),
		LotNumber:          r.optStr("lotNumber"),
		QuantityChange:     r.long("quantityChange"),
		ResultingOnHand:    r.long("resultingOnHand"),
		TransactionID:      r.str("transactionId"),
		ScannerID:          r.str("scannerId"),
		UserID:             r.str("userId"),
		Version:            r.long("version"),
		Allocated:          r.long("allocated"),
		Available:          r.long("available"),
		DeviceTimestamp:    r.time("deviceTimestamp"),
		CorrectedTimestamp: r.time("correctedTimestamp"),
		Warnings:           r.strs("warnings"),
		AllocationID:       r.optStr("allocationId"),
	}
	if !r.atEnd() { // added later with a null default
		e.Principal = r.optStr("principal")
	}
	if err := r.done(); err != nil {
		return InventoryEvent{}, fmt.Errorf("decoding inventory event: %w", err)
	}
	return e, nil
}

// AppendCatalogEntry appends e to dst in wire format,
// under the Append contract in the package documentation.
func (s *Set) AppendCatalogEntry(dst []byte, e *CatalogEntry) ([]byte, error) {
	if err := e.check(); err != nil {
		return dst, fmt.Errorf("encoding catalog entry: %w", err)
	}
	dst, err := s.appendNative(dst, kindCatalogEntry, e.native())
	if err != nil {
		return dst, fmt.Errorf("encoding catalog entry: %w", err)
	}
	return dst, nil
}

func (e *CatalogEntry) check() error {
	if e == nil {
		return errNilRecord
	}
	var c checker
	checkEnum(&c, "kind", e.Kind, catalogKinds)
	c.str("id", e.ID)
	c.strs("locations", e.Locations)
	c.str("description", e.Description)
	c.optStr("abcClass", e.AbcClass)
	return c.err
}

func (e *CatalogEntry) native() map[string]any {
	locations := make([]any, len(e.Locations))
	for i, l := range e.Locations {
		locations[i] = l
	}
	return map[string]any{
		"kind":                   string(e.Kind),
		"id":                     e.ID,
		"locations":              locations,
		"description":            e.Description,
		"lotTracked":             e.LotTracked,
		"maxTransactionQuantity": e.MaxTransactionQuantity,
		"abcClass":               optUnion("string", e.AbcClass),
		"countTolerance":         optUnion("double", e.CountTolerance),
	}
}

// DecodeCatalogEntry decodes a wire-format CatalogEntry,
// under the Decode contract in the package documentation.
func (s *Set) DecodeCatalogEntry(b []byte) (CatalogEntry, error) {
	p, err := s.payload(b, kindCatalogEntry)
	if err != nil {
		return CatalogEntry{}, fmt.Errorf("decoding catalog entry: %w", err)
	}
	r := reader{s: string(p)}
	e := CatalogEntry{
		Kind:                   readEnum(&r, "kind", catalogKinds),
		ID:                     r.str("id"),
		Locations:              r.strs("locations"),
		Description:            r.str("description"),
		LotTracked:             r.bool("lotTracked"),
		MaxTransactionQuantity: r.long("maxTransactionQuantity"),
	}
	if !r.atEnd() { // added later, with null defaults
		e.AbcClass, e.CountTolerance = r.optStr("abcClass"), r.optDouble("countTolerance")
	}
	if err := r.done(); err != nil {
		return CatalogEntry{}, fmt.Errorf("decoding catalog entry: %w", err)
	}
	return e, nil
}

// AppendAllocationRequest appends a to dst in wire format,
// under the Append contract in the package documentation.
func (s *Set) AppendAllocationRequest(dst []byte, a *AllocationRequest) ([]byte, error) {
	if err := a.check(); err != nil {
		return dst, fmt.Errorf("encoding allocation request: %w", err)
	}
	dst, err := s.appendNative(dst, kindAllocationRequest, a.native())
	if err != nil {
		return dst, fmt.Errorf("encoding allocation request: %w", err)
	}
	return dst, nil
}

func (a *AllocationRequest) check() error {
	if a == nil {
		return errNilRecord
	}
	var c checker
	checkEnum(&c, "action", a.Action, allocationActions)
	for _, f := range [...]struct{ name, v string }{
		{"allocationId", a.AllocationID}, {"orderId", a.OrderID}, {"warehouseId", a.WarehouseID}, {"itemId", a.ItemID},
	} {
		c.str(f.name, f.v)
	}
	c.optStr("locationId", a.LocationID)
	c.optStr("lotNumber", a.LotNumber)
	return c.err
}

func (a *AllocationRequest) native() map[string]any {
	var expiresAt any
	if a.ExpiresAt != nil {
		expiresAt = goavro.Union("long.timestamp-millis", millis(*a.ExpiresAt))
	}
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
		"expiresAt":    expiresAt,
		"requestedAt":  millis(a.RequestedAt),
		"bodyHash":     a.BodyHash,
	}
}

// DecodeAllocationRequest decodes a wire-format AllocationRequest,
// under the Decode contract in the package documentation.
func (s *Set) DecodeAllocationRequest(b []byte) (AllocationRequest, error) {
	p, err := s.payload(b, kindAllocationRequest)
	if err != nil {
		return AllocationRequest{}, fmt.Errorf("decoding allocation request: %w", err)
	}
	r := reader{s: string(p)}
	a := AllocationRequest{
		Action:       readEnum(&r, "action", allocationActions),
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
	if err := r.done(); err != nil {
		return AllocationRequest{}, fmt.Errorf("decoding allocation request: %w", err)
	}
	return a, nil
}

// AppendAllocationDecision appends d to dst in wire format,
// under the Append contract in the package documentation.
func (s *Set) AppendAllocationDecision(dst []byte, d *AllocationDecision) ([]byte, error) {
	if err := d.check(); err != nil {
		return dst, fmt.Errorf("encoding allocation decision: %w", err)
	}
	dst, err := s.appendNative(dst, kindAllocationDecision, d.native())
	if err != nil {
		return dst, fmt.Errorf("encoding allocation decision: %w", err)
	}
	return dst, nil
}

func (d *AllocationDecision) check() error {
	if d == nil {
		return errNilRecord
	}
	var c checker
	checkEnum(&c, "status", d.Status, allocationStatuses)
	for _, f := range [...]struct{ name, v string }{
		{"decisionId", d.DecisionID}, {"allocationId", d.AllocationID}, {"orderId", d.OrderID},
		{"warehouseId", d.WarehouseID}, {"itemId", d.ItemID},
	} {
		c.str(f.name, f.v)
	}
	for _, l := range d.Lines {
		c.str("lines.locationId", l.LocationID)
		c.str("lines.lotNumber", l.LotNumber)
	}
	c.optStr("reason", d.Reason)
	return c.err
}

func (d *AllocationDecision) native() map[string]any {
	lines := make([]any, len(d.Lines))
	for i, l := range d.Lines {
		lines[i] = map[string]any{"locationId": l.LocationID, "lotNumber": l.LotNumber, "quantity": l.Quantity}
	}
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
	p, err := s.payload(b, kindAllocationDecision)
	if err != nil {
		return AllocationDecision{}, fmt.Errorf("decoding allocation decision: %w", err)
	}
	r := reader{s: string(p)}
	d := AllocationDecision{
		DecisionID:        r.str("decisionId"),
		AllocationID:      r.str("allocationId"),
		OrderID:           r.str("orderId"),
		OrderLine:         r.int("orderLine"),
		WarehouseID:       r.str("warehouseId"),
		ItemID:            r.str("itemId"),
		Status:            readEnum(&r, "status", allocationStatuses),
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
	if err := r.done(); err != nil {
		return AllocationDecision{}, fmt.Errorf("decoding allocation decision: %w", err)
	}
	return d, nil
}

// AppendPositionSnapshot appends p to dst in wire format,
// under the Append contract in the package documentation.
func (s *Set) AppendPositionSnapshot(dst []byte, p *PositionSnapshot) ([]byte, error) {
	if err := p.check(); err != nil {
		return dst, fmt.Errorf("encoding position snapshot: %w", err)
	}
	dst, err := s.appendNative(dst, kindPositionSnapshot, p.native())
	if err != nil {
		return dst, fmt.Errorf("encoding position snapshot: %w", err)
	}
	return dst, nil
}

func (p *PositionSnapshot) check() error {
	if p == nil {
		return errNilRecord
	}
	var c checker
	for _, f := range [...]struct{ name, v string }{
		{"snapshotId", p.SnapshotID}, {"warehouseId", p.WarehouseID}, {"itemId", p.ItemID},
		{"locationId", p.LocationID}, {"lotNumber", p.LotNumber},
	} {
		c.str(f.name, f.v)
	}
	return c.err
}

func (p *PositionSnapshot) native() map[string]any {
	return map[string]any{
		"snapshotId":  p.SnapshotID,
		"partition":   p.Partition,
		"takenAt":     millis(p.TakenAt),
		"warehouseId": p.WarehouseID,
		"itemId":      p.ItemID,
		"locationId":  p.LocationID,
		"lotNumber":   p.LotNumber,
		"onHand":      p.OnHand,
		"allocated":   p.Allocated,
		"available":   p.Available,
		"version":     p.Version,
		"updatedAt":   millis(p.UpdatedAt),
	}
}

// DecodePositionSnapshot decodes a wire-format PositionSnapshot,
// under the Decode contract in the package documentation.
func (s *Set) DecodePositionSnapshot(b []byte) (PositionSnapshot, error) {
	pl, err := s.payload(b, kindPositionSnapshot)
	if err != nil {
		return PositionSnapshot{}, fmt.Errorf("decoding position snapshot: %w", err)
	}
	r := reader{s: string(pl)}
	p := PositionSnapshot{
		SnapshotID:  r.str("snapshotId"),
		Partition:   r.int("partition"),
		TakenAt:     r.time("takenAt"),
		WarehouseID: r.str("warehouseId"),
		ItemID:      r.str("itemId"),
		LocationID:  r.str("locationId"),
		LotNumber:   r.str("lotNumber"),
		OnHand:      r.long("onHand"),
		Allocated:   r.long("allocated"),
		Available:   r.long("available"),
		Version:     r.long("version"),
		UpdatedAt:   r.time("updatedAt"),
	}
	if err := r.done(); err != nil {
		return PositionSnapshot{}, fmt.Errorf("decoding position snapshot: %w", err)
	}
	return p, nil
}

// AppendLock appends l to dst in wire format,
// under the Append contract in the package documentation.
func (s *Set) AppendLock(dst []byte, l *Lock) ([]byte, error) {
	if err := l.check(); err != nil {
		return dst, fmt.Errorf("encoding lock: %w", err)
	}
	dst, err := s.appendNative(dst, kindLock, l.native())
	if err != nil {
		return dst, fmt.Errorf("encoding lock: %w", err)
	}
	return dst, nil
}

func (l *Lock) check() error {
	if l == nil {
		return errNilRecord
	}
	var c checker
	for _, f := range [...]struct{ name, v string }{
		{"lockId", l.LockID}, {"warehouseId", l.WarehouseID}, {"locationId", l.LocationID}, {"scannerId", l.ScannerID},
	} {
		c.str(f.name, f.v)
	}
	return c.err
}

func (l *Lock) native() map[string]any {
	var releasedAt any
	if l.ReleasedAt != nil {
		releasedAt = goavro.Union("long.timestamp-millis", millis(*l.ReleasedAt))
	}
	return map[string]any{
		"lockId":      l.LockID,
		"warehouseId": l.WarehouseID,
		"locationId":  l.LocationID,
		"scannerId":   l.ScannerID,
		"acquiredAt":  millis(l.AcquiredAt),
		"expiresAt":   millis(l.ExpiresAt),
		"releasedAt":  releasedAt,
	}
}

// DecodeLock decodes a wire-format Lock,
// under the Decode contract in the package documentation.
func (s *Set) DecodeLock(b []byte) (Lock, error) {
	p, err := s.payload(b, kindLock)
	if err != nil {
		return Lock{}, fmt.Errorf("decoding lock: %w", err)
	}
	r := reader{s: string(p)}
	l := Lock{
		LockID:      r.str("lockId"),
		WarehouseID: r.str("warehouseId"),
		LocationID:  r.str("locationId"),
		ScannerID:   r.str("scannerId"),
		AcquiredAt:  r.time("acquiredAt"),
		ExpiresAt:   r.time("expiresAt"),
		ReleasedAt:  r.optTime("releasedAt"),
	}
	if err := r.done(); err != nil {
		return Lock{}, fmt.Errorf("decoding lock: %w", err)
	}
	return l, nil
}

// AppendToken appends t to dst in wire format,
// under the Append contract in the package documentation.
func (s *Set) AppendToken(dst []byte, t *Token) ([]byte, error) {
	if err := t.check(); err != nil {
		return dst, fmt.Errorf("encoding token: %w", err)
	}
	dst, err := s.appendNative(dst, kindToken, t.native())
	if err != nil {
		return dst, fmt.Errorf("encoding token: %w", err)
	}
	return dst, nil
}

func (t *Token) check() error {
	if t == nil {
		return errNilRecord
	}
	var c checker
	c.str("tokenId", t.TokenID)
	c.str("name", t.Name)
	c.str("createdBy", t.CreatedBy)
	c.strs("warehouses", t.Warehouses)
	if c.err == nil && !slices.Contains(tokenRoles, t.Role) {
		c.err = fmt.Errorf("%w: role %q is not one of %v", ErrInvalid, t.Role, tokenRoles)
	}
	return c.err
}

func optMillis(t *time.Time) any {
	if t == nil {
		return nil
	}
	return goavro.Union("long.timestamp-millis", millis(*t))
}

func (t *Token) native() map[string]any {
	whs := make([]any, len(t.Warehouses))
	for i, w := range t.Warehouses {
		whs[i] = w
	}
	return map[string]any{
		"tokenId":    t.TokenID,
		"name":       t.Name,
		"role":       t.Role,
		"warehouses": whs,
		"expiresAt":  optMillis(t.ExpiresAt),
		"createdAt":  millis(t.CreatedAt),
		"createdBy":  t.CreatedBy,
		"revokedAt":  optMillis(t.RevokedAt),
		"hash":       t.Hash,
	}
}

// DecodeToken decodes a wire-format Token,
// under the Decode contract in the package documentation.
func (s *Set) DecodeToken(b []byte) (Token, error) {
	p, err := s.payload(b, kindToken)
	if err != nil {
		return Token{}, fmt.Errorf("decoding token: %w", err)
	}
	r := reader{s: string(p)}
	t := Token{
		TokenID:    r.str("tokenId"),
		Name:       r.str("name"),
		Role:       readEnum(&r, "role", tokenRoles),
		Warehouses: r.strs("warehouses"),
		ExpiresAt:  r.optTime("expiresAt"),
		CreatedAt:  r.time("createdAt"),
		CreatedBy:  r.str("createdBy"),
		RevokedAt:  r.optTime("revokedAt"),
		Hash:       r.bytes("hash"),
	}
	if err := r.done(); err != nil {
		return Token{}, fmt.Errorf("decoding token: %w", err)
	}
	return t, nil
}
