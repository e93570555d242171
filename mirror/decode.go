package mirror

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/invsync/invsync/schemas"
)

// eventReconciliationCorrection is the event type reconciliation publishes
// for a record it found out of line (quantityChange 0, the warehouse's
// resultingOnHand and version).
const eventReconciliationCorrection = schemas.EventReconciliationCorrection

// avroDiscrepancy decodes the Avro Discrepancy records invsync publishes.
func avroDiscrepancy(codec *schemas.Set) DiscrepancyDecoder {
	return func(v []byte) (Discrepancy, error) {
		d, err := codec.DecodeDiscrepancy(v)
		if err != nil {
			return Discrepancy{}, err
		}
		return Discrepancy{DiscrepancyID: d.DiscrepancyID, WarehouseID: d.WarehouseID, ItemID: d.ItemID, LocationID: d.LocationID,
			LotNumber: d.LotNumber, Kind: d.Kind, WarehouseOnHand: &d.WarehouseOnHand, WarehouseVersion: &d.WarehouseVersion,
			CloudOnHand: d.CloudOnHand, CloudVersion: d.CloudVersion, Status: d.Status, Assignee: d.Assignee,
			Resolution: d.Resolution, OpenedAt: d.OpenedAt, UpdatedAt: d.UpdatedAt}, nil
	}
}

// errUnstorable: a decoded value that the database cannot hold as it is.
var errUnstorable = errors.New("value cannot be stored")

// decoders turns the values of each mirrored topic into rows of a batch.
// Each decode function decodes and checks the whole value before it folds
// anything into the batch, so a value that fails leaves the batch as it was.
type decoders struct {
	byTopic map[string]func(value []byte, b *batch) error
}

// newDecoders returns the decoders of the mirrored topics: inventory
// events into positions, allocation decisions into allocations,
// discrepancies into discrepancies.
func newDecoders(codec *schemas.Set, topics schemas.Topics, discrepancy DiscrepancyDecoder) *decoders {
	if discrepancy == nil {
		discrepancy = avroDiscrepancy(codec)
	}
	d := &decoders{byTopic: map[string]func([]byte, *batch) error{
		topics.InventoryEvents: func(v []byte, b *batch) error {
			e, row, err := decodeRow(v, codec.DecodeInventoryEvent, positionFromEvent)
			if err != nil {
				return err
			}
			b.addPosition(row)
			b.eventDecoded, b.eventScanned = true, e.CorrectedTimestamp
			return nil
		},
		topics.AllocationDecisions: func(v []byte, b *batch) error {
			_, row, err := decodeRow(v, codec.DecodeAllocationDecision, allocationFromDecision)
			if err != nil {
				return err
			}
			b.addAllocation(row)
			return nil
		},
	}}
	if discrepancy != nil {
		d.byTopic[topics.Discrepancies] = func(v []byte, b *batch) error {
			x, err := discrepancy(v)
			if err != nil {
				return fmt.Errorf("decoding discrepancy: %w", err)
			}
			if err := checkDiscrepancy(&x); err != nil {
				return err
			}
			b.addDiscrepancy(x)
			return nil
		}
	}
	return d
}

// decodeRow decodes v with decode and makes a row of the value with toRow.
func decodeRow[W, R any](v []byte, decode func([]byte) (W, error), toRow func(*W) (R, error)) (W, R, error) {
	w, err := decode(v)
	if err != nil {
		var r R
		return w, r, err
	}
	r, err := toRow(&w)
	return w, r, err
}

// topics returns the topics the mirror reads: those it has a decoder for,
// sorted.
func (d *decoders) topics() []string { return slices.Sorted(maps.Keys(d.byTopic)) }

func (d *decoders) decode(topic string, value []byte, b *batch) error {
	f, ok := d.byTopic[topic]
	if !ok {
		return fmt.Errorf("no decoder for topic %s", topic)
	}
	if value == nil {
		return errors.New("record has no value")
	}
	return f(value, b)
}

func positionFromEvent(e *schemas.InventoryEvent) (positionRow, error) {
	row := positionRow{
		positionKey: positionKey{WarehouseID: e.WarehouseID, ItemID: e.ItemID, LocationID: e.LocationID},
		OnHand:      e.ResultingOnHand,
		Allocated:   e.Allocated,
		Available:   e.Available,
		Version:     e.Version,
		UpdatedAt:   e.Timestamp,
		Correction:  e.EventType == eventReconciliationCorrection,
	}
	if e.LotNumber != nil {
		row.LotNumber = *e.LotNumber
	}
	var c storable
	c.required("warehouseId", row.WarehouseID)
	c.required("itemId", row.ItemID)
	c.required("locationId", row.LocationID)
	c.text("lotNumber", row.LotNumber)
	c.time("timestamp", row.UpdatedAt)
	if row.Version < 0 {
		c.fail("version %d is negative", row.Version)
	}
	return checked(&c, row, "inventory event "+e.EventID)
}

// allocationLineJSON is one element of allocations.lines.
type allocationLineJSON struct {
	LocationID string `json:"locationId"`
	LotNumber  string `json:"lotNumber"`
	Quantity   int64  `json:"quantity"`
}

func allocationFromDecision(d *schemas.AllocationDecision) (allocationRow, error) {
	lines := make([]allocationLineJSON, len(d.Lines))
	var c storable
	for i, l := range d.Lines {
		lines[i] = allocationLineJSON{LocationID: l.LocationID, LotNumber: l.LotNumber, Quantity: l.Quantity}
		c.text("lines.locationId", l.LocationID)
		c.text("lines.lotNumber", l.LotNumber)
	}
	js, err := json.Marshal(lines)
	if err != nil {
		return allocationRow{}, fmt.Errorf("allocation decision %s: encoding lines: %w", d.DecisionID, err)
	}
	row := allocationRow{
		AllocationID: d.AllocationID, OrderID: d.OrderID, OrderLine: d.OrderLine,
		WarehouseID: d.WarehouseID, ItemID: d.ItemID, Status: string(d.Status),
		Requested: d.RequestedQuantity, Confirmed: d.ConfirmedQuantity,
		Backorder: d.BackorderQuantity, Picked: d.PickedQuantity,
		LinesJSON: string(js), Reason: d.Reason, DecisionID: d.DecisionID,
		Sequence: d.Sequence, UpdatedAt: d.DecidedAt,
	}
	c.required("allocationId", row.AllocationID)
	c.text("decisionId", row.DecisionID)
	c.text("orderId", row.OrderID)
	c.text("warehouseId", row.WarehouseID)
	c.text("itemId", row.ItemID)
	if row.Reason != nil {
		c.text("reason", *row.Reason)
	}
	c.time("decidedAt", row.UpdatedAt)
	if row.Sequence < 1 {
		c.fail("sequence %d is not positive", row.Sequence)
	}
	return checked(&c, row, "allocation decision "+d.DecisionID)
}

func checkDiscrepancy(x *Discrepancy) error {
	var c storable
	c.required("discrepancyId", x.DiscrepancyID)
	c.required("warehouseId", x.WarehouseID)
	c.required("itemId", x.ItemID)
	c.required("locationId", x.LocationID)
	c.text("lotNumber", x.LotNumber)
	c.required("kind", x.Kind)
	c.required("status", x.Status)
	for _, s := range []*string{x.Assignee, x.Resolution} {
		if s != nil {
			c.text("assignee/resolution", *s)
		}
	}
	c.time("openedAt", x.OpenedAt)
	c.time("updatedAt", x.UpdatedAt)
	_, err := checked(&c, x, "discrepancy "+x.DiscrepancyID)
	return err
}

// storable collects the first reason a decoded value cannot be stored the
// same way in both databases: PostgreSQL text cannot hold NUL, and its
// timestamps end in year 294276 where Avro's millisecond longs go far
// beyond; years outside 1..9999 are refused in both for one behaviour.
type storable struct{ err error }

// checked returns v, or the first problem c found with what it was found
// in (e.g. "inventory event <id>").
func checked[T any](c *storable, v T, what string) (T, error) {
	if c.err != nil {
		var zero T
		return zero, fmt.Errorf("%s: %w", what, c.err)
	}
	return v, nil
}

func (c *storable) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("%w: %s", errUnstorable, fmt.Sprintf(format, args...))
	}
}

func (c *storable) text(field, s string) {
	if strings.IndexByte(s, 0) >= 0 {
		c.fail("%s contains a NUL character", field)
	}
}

func (c *storable) required(field, s string) {
	if s == "" {
		c.fail("%s is empty", field)
	}
	c.text(field, s)
}

func (c *storable) time(field string, t time.Time) {
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		c.fail("%s is in year %d, outside 1..9999", field, y)
	}
}

// sanitizeText makes s storable as text in both databases.
func sanitizeText(s string) string {
	s = strings.ToValidUTF8(s, string(utf8.RuneError))
	return strings.ReplaceAll(s, "\x00", `\x00`)
}
