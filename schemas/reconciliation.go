package schemas

import (
	"fmt"
	"sync"
	"time"

	"github.com/linkedin/goavro/v2"
)

// The reconciliation records (commands, discrepancies, count tasks, cloud
// reports) are few, so they go through goavro both ways rather than a
// hand-written codec; the decoders check the shape of what goavro returns.

// CloudPosition is a stock record as the cloud holds it.
type CloudPosition struct {
	ItemID, LocationID, LotNumber string
	OnHand, Version               int64
}

// ReportPiece is the part of a cloud report one partition compares.
type ReportPiece struct {
	PieceID, ReportID string
	Complete          bool
	ItemFrom, ItemTo  *string
	Positions         []CloudPosition
}

// DiscrepancyChange is a supervisor's change to a discrepancy.
type DiscrepancyChange struct {
	DiscrepancyID                string
	Status, Assignee, Resolution *string
	Note                         string
}

// HeldCountDecision is a supervisor's decision on a held count.
type HeldCountDecision struct {
	TransactionID string
	Approve       bool
	Note          string
}

// Command is one processor command (Avro io.invsync.v1.Command).
type Command struct {
	CommandID           string
	Kind                string // REPORT_PIECE, DISCREPANCY_UPDATE, COUNT_DECISION
	WarehouseID, ItemID string
	IssuedAt            time.Time
	By                  string
	Report              *ReportPiece
	Discrepancy         *DiscrepancyChange
	Count               *HeldCountDecision
}

// DiscrepancyStep is one step of a discrepancy's history.
type DiscrepancyStep struct {
	At         time.Time
	By, Status string
	Note       string
}

// Discrepancy is a discrepancy as published (Avro io.invsync.v1.Discrepancy).
type Discrepancy struct {
	DiscrepancyID, WarehouseID, ItemID, LocationID, LotNumber string
	Kind                                                      string
	WarehouseOnHand, WarehouseVersion                         int64
	CloudOnHand, CloudVersion                                 *int64
	Status                                                    string
	Assignee, Resolution                                      *string
	ReportID                                                  string
	CountTaskID                                               *string
	OpenedAt, UpdatedAt                                       time.Time
	Sequence                                                  int64
	History                                                   []DiscrepancyStep
}

// CountTask is a count task (Avro io.invsync.v1.CountTask).
type CountTask struct {
	CountTaskID, WarehouseID, LocationID string
	ItemID                               *string
	Reason, Status                       string
	CreatedAt                            time.Time
	CreatedBy                            string
	DiscrepancyID                        *string
	CompletedAt                          *time.Time
	CompletedBy                          *string
}

// CloudPositionsReport is a cloud's report (Avro
// io.invsync.v1.CloudPositionsReport).
type CloudPositionsReport struct {
	ReportID, WarehouseID string
	Complete              bool
	ItemFrom, ItemTo      *string
	Positions             []CloudPosition
}

func positionsNative(ps []CloudPosition) []any {
	return nativeArray(ps, func(p CloudPosition) any {
		return map[string]any{"itemId": p.ItemID, "locationId": p.LocationID, "lotNumber": p.LotNumber, "onHand": p.OnHand, "version": p.Version}
	})
}

// AppendCommand appends c to dst in wire format.
func (s *Set) AppendCommand(dst []byte, c *Command) ([]byte, error) {
	native := map[string]any{"commandId": c.CommandID, "kind": c.Kind, "warehouseId": c.WarehouseID, "itemId": c.ItemID,
		"issuedAt": millis(c.IssuedAt), "by": c.By, "report": nil, "discrepancy": nil, "count": nil}
	if r := c.Report; r != nil {
		native["report"] = goavro.Union("io.invsync.v1.ReportPiece", map[string]any{"pieceId": r.PieceID, "reportId": r.ReportID,
			"complete": r.Complete, "itemFrom": optUnion("string", r.ItemFrom), "itemTo": optUnion("string", r.ItemTo),
			"positions": positionsNative(r.Positions)})
	}
	if d := c.Discrepancy; d != nil {
		native["discrepancy"] = goavro.Union("io.invsync.v1.DiscrepancyChange", map[string]any{"discrepancyId": d.DiscrepancyID,
			"status": optUnion("string", d.Status), "assignee": optUnion("string", d.Assignee), "resolution": optUnion("string", d.Resolution), "note": d.Note})
	}
	if h := c.Count; h != nil {
		native["count"] = goavro.Union("io.invsync.v1.HeldCountDecision", map[string]any{"transactionId": h.TransactionID, "approve": h.Approve, "note": h.Note})
	}
	return s.appendChecked(dst, kindCommand, "command", native)
}

// AppendDiscrepancy appends d to dst in wire format.
func (s *Set) AppendDiscrepancy(dst []byte, d *Discrepancy) ([]byte, error) {
	hist := nativeArray(d.History, func(h DiscrepancyStep) any {
		return map[string]any{"at": millis(h.At), "by": h.By, "status": h.Status, "note": h.Note}
	})
	return s.appendChecked(dst, kindDiscrepancy, "discrepancy", map[string]any{
		"discrepancyId": d.DiscrepancyID, "warehouseId": d.WarehouseID, "itemId": d.ItemID, "locationId": d.LocationID,
		"lotNumber": d.LotNumber, "kind": d.Kind, "warehouseOnHand": d.WarehouseOnHand, "warehouseVersion": d.WarehouseVersion,
		"cloudOnHand": optUnion("long", d.CloudOnHand), "cloudVersion": optUnion("long", d.CloudVersion), "status": d.Status,
		"assignee": optUnion("string", d.Assignee), "resolution": optUnion("string", d.Resolution), "reportId": d.ReportID,
		"countTaskId": optUnion("string", d.CountTaskID), "openedAt": millis(d.OpenedAt), "updatedAt": millis(d.UpdatedAt),
		"sequence": d.Sequence, "history": hist,
	})
}

// AppendCountTask appends t to dst in wire format.
func (s *Set) AppendCountTask(dst []byte, t *CountTask) ([]byte, error) {
	return s.appendChecked(dst, kindCountTask, "count task", map[string]any{
		"countTaskId": t.CountTaskID, "warehouseId": t.WarehouseID, "locationId": t.LocationID, "itemId": optUnion("string", t.ItemID),
		"reason": t.Reason, "status": t.Status, "createdAt": millis(t.CreatedAt), "createdBy": t.CreatedBy,
		"discrepancyId": optUnion("string", t.DiscrepancyID), "completedAt": optMillis(t.CompletedAt), "completedBy": optUnion("string", t.CompletedBy),
	})
}

// AppendCloudPositionsReport appends r to dst in wire format.
func (s *Set) AppendCloudPositionsReport(dst []byte, r *CloudPositionsReport) ([]byte, error) {
	return s.appendChecked(dst, kindCloudPositions, "cloud positions report", map[string]any{
		"reportId": r.ReportID, "warehouseId": r.WarehouseID, "complete": r.Complete,
		"itemFrom": optUnion("string", r.ItemFrom), "itemTo": optUnion("string", r.ItemTo), "positions": positionsNative(r.Positions),
	})
}

func (s *Set) appendChecked(dst []byte, k kind, what string, native map[string]any) ([]byte, error) {
	out, err := s.appendNative(dst, k, native)
	if err != nil {
		return dst, fmt.Errorf("encoding %s: %w: %w", what, ErrInvalid, err)
	}
	return out, nil
}

// maxBlockCount bounds the items of one array block goavro allocates for
// before reading them. goavro's own bound is 2^31, so a ten-byte record
// claiming that many items would make it allocate tens of gigabytes; no
// invsync writer puts more than a few thousand items in a block (a report
// page holds at most 10,000 positions, in one block).
const maxBlockCount = 1 << 17

var boundGoavro sync.Once

// decodeNative decodes b as kind k with goavro.
func (s *Set) decodeNative(b []byte, k kind, what string) (nativeRecord, error) {
	p, err := s.payload(b, k)
	if err != nil {
		return nil, fmt.Errorf("decoding %s: %w", what, err)
	}
	// goavro's bound is a package variable: set once, before the first
	// decode, never changed after.
	boundGoavro.Do(func() { goavro.MaxBlockCount = maxBlockCount })
	v, rest, err := s.codecs[k].NativeFromBinary(p)
	if err != nil {
		return nil, fmt.Errorf("decoding %s: %w: %w", what, ErrMalformed, err)
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("decoding %s: %w: %d bytes after the record", what, ErrMalformed, len(rest))
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("decoding %s: %w: not a record", what, ErrMalformed)
	}
	return nativeRecord(m), nil
}

// nativeRecord reads goavro's native form of a record.
type nativeRecord map[string]any

func (n nativeRecord) str(f string) string     { v, _ := n[f].(string); return v }
func (n nativeRecord) long(f string) int64     { v, _ := n[f].(int64); return v }
func (n nativeRecord) boolean(f string) bool   { v, _ := n[f].(bool); return v }
func (n nativeRecord) time(f string) time.Time { v, _ := n[f].(time.Time); return v.UTC() }

// union returns the value of a ["null", T] union field, nil for null.
func (n nativeRecord) union(f string) any {
	m, ok := n[f].(map[string]any)
	if !ok {
		return nil
	}
	for _, v := range m {
		return v
	}
	return nil
}

func (n nativeRecord) optStr(f string) *string {
	if v, ok := n.union(f).(string); ok {
		return &v
	}
	return nil
}

func (n nativeRecord) optLong(f string) *int64 {
	if v, ok := n.union(f).(int64); ok {
		return &v
	}
	return nil
}

func (n nativeRecord) optTime(f string) *time.Time {
	if v, ok := n.union(f).(time.Time); ok {
		v = v.UTC()
		return &v
	}
	return nil
}

func (n nativeRecord) record(f string) nativeRecord {
	if m, ok := n.union(f).(map[string]any); ok {
		return nativeRecord(m)
	}
	return nil
}

func (n nativeRecord) records(f string) []nativeRecord {
	arr, _ := n[f].([]any)
	out := make([]nativeRecord, 0, len(arr))
	for _, a := range arr {
		if m, ok := a.(map[string]any); ok {
			out = append(out, nativeRecord(m))
		}
	}
	return out
}

func positionsOf(n nativeRecord) []CloudPosition {
	var out []CloudPosition
	for _, p := range n.records("positions") {
		out = append(out, CloudPosition{ItemID: p.str("itemId"), LocationID: p.str("locationId"), LotNumber: p.str("lotNumber"),
			OnHand: p.long("onHand"), Version: p.long("version")})
	}
	return out
}

// DecodeCommand decodes a wire-format Command.
func (s *Set) DecodeCommand(b []byte) (Command, error) {
	n, err := s.decodeNative(b, kindCommand, "command")
	if err != nil {
		return Command{}, err
	}
	c := Command{CommandID: n.str("commandId"), Kind: n.str("kind"), WarehouseID: n.str("warehouseId"), ItemID: n.str("itemId"),
		IssuedAt: n.time("issuedAt"), By: n.str("by")}
	if r := n.record("report"); r != nil {
		c.Report = &ReportPiece{PieceID: r.str("pieceId"), ReportID: r.str("reportId"), Complete: r.boolean("complete"),
			ItemFrom: r.optStr("itemFrom"), ItemTo: r.optStr("itemTo"), Positions: positionsOf(r)}
	}
	if d := n.record("discrepancy"); d != nil {
		c.Discrepancy = &DiscrepancyChange{DiscrepancyID: d.str("discrepancyId"), Status: d.optStr("status"),
			Assignee: d.optStr("assignee"), Resolution: d.optStr("resolution"), Note: d.str("note")}
	}
	if h := n.record("count"); h != nil {
		c.Count = &HeldCountDecision{TransactionID: h.str("transactionId"), Approve: h.boolean("approve"), Note: h.str("note")}
	}
	return c, nil
}

// DecodeDiscrepancy decodes a wire-format Discrepancy.
func (s *Set) DecodeDiscrepancy(b []byte) (Discrepancy, error) {
	n, err := s.decodeNative(b, kindDiscrepancy, "discrepancy")
	if err != nil {
		return Discrepancy{}, err
	}
	d := Discrepancy{DiscrepancyID: n.str("discrepancyId"), WarehouseID: n.str("warehouseId"), ItemID: n.str("itemId"),
		LocationID: n.str("locationId"), LotNumber: n.str("lotNumber"), Kind: n.str("kind"), WarehouseOnHand: n.long("warehouseOnHand"),
		WarehouseVersion: n.long("warehouseVersion"), CloudOnHand: n.optLong("cloudOnHand"), CloudVersion: n.optLong("cloudVersion"),
		Status: n.str("status"), Assignee: n.optStr("assignee"), Resolution: n.optStr("resolution"), ReportID: n.str("reportId"),
		CountTaskID: n.optStr("countTaskId"), OpenedAt: n.time("openedAt"), UpdatedAt: n.time("updatedAt"), Sequence: n.long("sequence")}
	for _, h := range n.records("history") {
		d.History = append(d.History, DiscrepancyStep{At: h.time("at"), By: h.str("by"), Status: h.str("status"), Note: h.str("note")})
	}
	return d, nil
}

// DecodeCountTask decodes a wire-format CountTask.
func (s *Set) DecodeCountTask(b []byte) (CountTask, error) {
	n, err := s.decodeNative(b, kindCountTask, "count task")
	if err != nil {
		return CountTask{}, err
	}
	return CountTask{CountTaskID: n.str("countTaskId"), WarehouseID: n.str("warehouseId"), LocationID: n.str("locationId"),
		ItemID: n.optStr("itemId"), Reason: n.str("reason"), Status: n.str("status"), CreatedAt: n.time("createdAt"),
		CreatedBy: n.str("createdBy"), DiscrepancyID: n.optStr("discrepancyId"), CompletedAt: n.optTime("completedAt"),
		CompletedBy: n.optStr("completedBy")}, nil
}

// DecodeCloudPositionsReport decodes a wire-format CloudPositionsReport.
func (s *Set) DecodeCloudPositionsReport(b []byte) (CloudPositionsReport, error) {
	n, err := s.decodeNative(b, kindCloudPositions, "cloud positions report")
	if err != nil {
		return CloudPositionsReport{}, err
	}
	return CloudPositionsReport{ReportID: n.str("reportId"), WarehouseID: n.str("warehouseId"), Complete: n.boolean("complete"),
		ItemFrom: n.optStr("itemFrom"), ItemTo: n.optStr("itemTo"), Positions: positionsOf(n)}, nil
}
