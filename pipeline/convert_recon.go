package pipeline

import (
	"time"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
)

// CountTaskToWire converts a count task to its Avro form.
func CountTaskToWire(t *processors.CountTask) schemas.CountTask {
	return schemas.CountTask{CountTaskID: t.CountTaskID, WarehouseID: t.WarehouseID, LocationID: t.LocationID,
		ItemID: optString(t.ItemID), Reason: t.Reason, Status: t.Status, CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy,
		DiscrepancyID: optString(t.DiscrepancyID), CompletedAt: t.CompletedAt, CompletedBy: optString(t.CompletedBy)}
}

// CountTaskFromWire converts an Avro count task to the domain form.
func CountTaskFromWire(w *schemas.CountTask) processors.CountTask {
	return processors.CountTask{CountTaskID: w.CountTaskID, WarehouseID: w.WarehouseID, LocationID: w.LocationID,
		ItemID: deref(w.ItemID), Reason: w.Reason, Status: w.Status, CreatedAt: w.CreatedAt, CreatedBy: w.CreatedBy,
		DiscrepancyID: deref(w.DiscrepancyID), CompletedAt: w.CompletedAt, CompletedBy: deref(w.CompletedBy)}
}

// DiscrepancyToWire converts a discrepancy to its Avro form.
func DiscrepancyToWire(d *processors.Discrepancy) schemas.Discrepancy {
	w := schemas.Discrepancy{DiscrepancyID: d.DiscrepancyID, WarehouseID: d.WarehouseID, ItemID: d.ItemID, LocationID: d.LocationID,
		LotNumber: d.LotNumber, Kind: d.Kind, WarehouseOnHand: d.WarehouseOnHand, WarehouseVersion: d.WarehouseVersion,
		CloudOnHand: d.CloudOnHand, CloudVersion: d.CloudVersion, Status: d.Status, Assignee: optString(d.Assignee),
		Resolution: optString(d.Resolution), ReportID: d.ReportID, CountTaskID: optString(d.CountTaskID), OpenedAt: d.OpenedAt,
		UpdatedAt: d.UpdatedAt, Sequence: d.Sequence, History: []schemas.DiscrepancyStep{}}
	for _, h := range d.History {
		note := h.Note
		switch {
		case h.Resolution != "" && note != "":
			note = h.Resolution + ": " + note
		case h.Resolution != "":
			note = h.Resolution
		}
		w.History = append(w.History, schemas.DiscrepancyStep{At: h.At, By: h.By, Status: h.Status, Note: note})
	}
	return w
}

// CommandToWire converts a command to its Avro form.
func CommandToWire(c *processors.Command, issuedAt time.Time, by string) schemas.Command {
	w := schemas.Command{CommandID: c.CommandID, Kind: c.Kind, WarehouseID: c.WarehouseID, ItemID: c.ItemID, By: by, IssuedAt: issuedAt}
	if r := c.Report; r != nil {
		w.Report = &schemas.ReportPiece{PieceID: r.PieceID, ReportID: r.ReportID, Complete: r.Complete,
			ItemFrom: optString(r.ItemFrom), ItemTo: optString(r.ItemTo), Positions: []schemas.CloudPosition{}}
		for _, p := range r.Positions {
			w.Report.Positions = append(w.Report.Positions, schemas.CloudPosition(p))
		}
	}
	if d := c.Discrepancy; d != nil {
		w.Discrepancy = &schemas.DiscrepancyChange{DiscrepancyID: d.DiscrepancyID, Status: d.Status, Assignee: d.Assignee,
			Resolution: d.Resolution, Note: d.Note}
	}
	if h := c.Count; h != nil {
		w.Count = &schemas.HeldCountDecision{TransactionID: h.TransactionID, Approve: h.Approve, Note: h.Note}
	}
	return w
}

// CommandFromWire converts an Avro command to the domain form; the
// principal that issued it is who every change it makes is recorded by.
func CommandFromWire(w *schemas.Command) processors.Command {
	c := processors.Command{CommandID: w.CommandID, Kind: w.Kind, WarehouseID: w.WarehouseID, ItemID: w.ItemID}
	if r := w.Report; r != nil {
		c.Report = &processors.ReportPiece{PieceID: r.PieceID, ReportID: r.ReportID, WarehouseID: w.WarehouseID, Complete: r.Complete,
			ItemFrom: deref(r.ItemFrom), ItemTo: deref(r.ItemTo), By: w.By}
		for _, p := range r.Positions {
			c.Report.Positions = append(c.Report.Positions, processors.CloudPosition(p))
		}
	}
	if d := w.Discrepancy; d != nil {
		c.Discrepancy = &processors.DiscrepancyUpdate{DiscrepancyID: d.DiscrepancyID, Status: d.Status, Assignee: d.Assignee,
			Resolution: d.Resolution, Note: d.Note, By: w.By}
	}
	if h := w.Count; h != nil {
		c.Count = &processors.CountDecision{TransactionID: h.TransactionID, Approve: h.Approve, By: w.By, Note: h.Note}
	}
	return c
}
