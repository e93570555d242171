package processors

import (
	"encoding/json"
	"fmt"
	"time"
)

// Reconciliation compares what the cloud believes with what the warehouse
// knows, record by record, by version. Every event carries the record's
// version, so a cloud reporting the version it last applied is compared
// exactly: a lower version is an event still in flight (behind, not a
// discrepancy, unless it stays behind past the grace period: STALE), the
// same version with another onHand is a MISMATCH, a higher one is AHEAD.
// The warehouse wins: each MISMATCH, MISSING_IN_CLOUD, STALE or AHEAD also
// restates the warehouse's position as a correction event.

// CloudPosition is one stock record as a cloud report states it.
type CloudPosition struct {
	ItemID     string `json:"itemId"`
	LocationID string `json:"locationId"`
	LotNumber  string `json:"lotNumber"`
	OnHand     int64  `json:"onHand"`
	Version    int64  `json:"version"`
}

// CloudReport is a whole cloud reconciliation report (or a page of one), as
// the API or the cloud-positions topic receives it; it is compared in
// pieces, one per partition.
type CloudReport struct {
	ReportID, WarehouseID string
	Complete              bool
	// ItemFrom and ItemTo bound the items a complete page covers.
	ItemFrom, ItemTo string
	Positions        []CloudPosition
}

// ReportPiece is the part of one cloud report that one partition compares:
// its stock keys' positions, and, for a complete report, the claim that
// records of the warehouse absent from it (within the item range) are
// absent from the cloud.
type ReportPiece struct {
	// PieceID identifies the piece: comparing it again changes nothing.
	PieceID     string
	ReportID    string
	WarehouseID string
	Complete    bool
	// ItemFrom and ItemTo bound, inclusively, the items a complete
	// report covers; empty means every item.
	ItemFrom, ItemTo string
	Positions        []CloudPosition
	// By is the name of the token that sent the report.
	By string
}

// ReportResult is what comparing a piece found.
type ReportResult struct {
	PieceID  string `json:"pieceId"`
	ReportID string `json:"reportId"`
	Compared int    `json:"compared"`
	Agreed   int    `json:"agreed"`
	Behind   int    `json:"behind"`
	// Opened are the discrepancies the piece opened or found still open.
	Opened []string `json:"discrepancies"`
	// Resolved are the discrepancies it resolved (CLOUD_CORRECTED).
	Resolved []string `json:"resolved"`
	// Duplicate: the piece was compared before; the counts are those of
	// the first comparison and nothing else changed.
	Duplicate bool `json:"-"`
	// Changes to publish: discrepancies opened, updated or resolved, and
	// the correction events.
	Discrepancies []Discrepancy `json:"-"`
	Events        []Event       `json:"-"`
}

const tagProcessed = 'p' // p commandId -> the command's stored result

func processedKey(id string) []byte { return joinKey(tagProcessed, id) }

// behind is what is remembered of a record found behind in a report: since
// when, and the version the cloud was then missing.
type behind struct {
	Since  int64 `json:"since"`
	Target int64 `json:"target"`
}

// CompareReport compares a report piece with the partition's state at now.
func (p *Processor) CompareReport(s Store, piece *ReportPiece, now time.Time) (ReportResult, error) {
	if res, ok, err := getJSON[ReportResult](s, processedKey(piece.PieceID), "report piece", piece.PieceID); err != nil || ok {
		res.Duplicate = ok
		return res, err
	}
	c := comparison{p: p, s: s, piece: piece, now: now, res: ReportResult{PieceID: piece.PieceID, ReportID: piece.ReportID,
		Opened: []string{}, Resolved: []string{}}}
	reported := map[string]bool{}
	for i := range piece.Positions {
		cp := &piece.Positions[i]
		key := RecordKey(piece.WarehouseID, cp.ItemID, cp.LocationID, cp.LotNumber)
		reported[string(key)] = true
		if err := c.compare(key, cp); err != nil {
			return ReportResult{}, err
		}
	}
	if piece.Complete {
		if err := c.missing(reported); err != nil {
			return ReportResult{}, err
		}
	}
	return c.res, setJSON(s, processedKey(piece.PieceID), c.res)
}

// comparison is one piece being compared.
type comparison struct {
	p     *Processor
	s     Store
	piece *ReportPiece
	now   time.Time
	res   ReportResult
}

func (c *comparison) compare(key []byte, cp *CloudPosition) error {
	c.res.Compared++
	v, ok, err := c.s.Get(key)
	if err != nil {
		return err
	}
	if !ok {
		r := Record{WarehouseID: c.piece.WarehouseID, ItemID: cp.ItemID, LocationID: cp.LocationID, LotNumber: cp.LotNumber}
		return c.discrepancy(&r, KindUnknownToWarehouse, cp)
	}
	r, err := decodeRecord(key, v)
	if err != nil {
		return err
	}
	switch {
	case cp.Version == r.Version && cp.OnHand == r.OnHand:
		c.res.Agreed++
		if err := c.s.Delete(behindKey(key)); err != nil {
			return err
		}
		return c.agreed(key)
	case cp.Version == r.Version:
		return c.discrepancy(&r, KindMismatch, cp)
	case cp.Version > r.Version:
		return c.discrepancy(&r, KindAhead, cp)
	default:
		return c.behind(key, &r, cp)
	}
}

func behindKey(recKey []byte) []byte { return append([]byte{tagBehind}, recKey...) }

// behind handles a record the cloud has not caught up with: in flight, or
// STALE once it stays behind the version it was missing for longer than
// the grace period.
func (c *comparison) behind(key []byte, r *Record, cp *CloudPosition) error {
	var b behind
	v, ok, err := c.s.Get(behindKey(key))
	if err != nil {
		return err
	}
	if ok {
		if err := json.Unmarshal(v, &b); err != nil {
			return fmt.Errorf("%w: behind %q: %v", errCorrupt, key, err)
		}
	}
	now := c.now.UnixMilli()
	if !ok || cp.Version >= b.Target {
		// First seen behind, or caught up with what it missed then and
		// behind again: the grace starts now.
		c.res.Behind++
		return setJSON(c.s, behindKey(key), behind{Since: now, Target: r.Version})
	}
	if now-b.Since <= c.p.cfg.ReconciliationGrace.Milliseconds() {
		c.res.Behind++
		return nil
	}
	return c.discrepancy(r, KindStale, cp)
}

// agreed resolves the record's open discrepancy, the cloud having caught
// up (CLOUD_CORRECTED).
func (c *comparison) agreed(key []byte) error {
	d, ok, err := openDiscrepancy(c.s, key)
	if err != nil || !ok {
		return err
	}
	d.Status, d.Resolution = DiscrepancyResolved, ResolutionCloudCorrected
	d.step(c.now, c.piece.By, DiscrepancyStep{Resolution: d.Resolution, Note: "report " + c.piece.ReportID + " agrees"})
	if err := saveDiscrepancy(c.s, &d); err != nil {
		return err
	}
	c.res.Resolved = append(c.res.Resolved, d.DiscrepancyID)
	c.res.Discrepancies = append(c.res.Discrepancies, d)
	return nil
}

// discrepancy opens one of kind for record r (cp is nil when the cloud
// lacks the record), or updates the record's unresolved one: never two at
// once. All but UNKNOWN_TO_WAREHOUSE also restate the warehouse's position.
func (c *comparison) discrepancy(r *Record, kind string, cp *CloudPosition) error {
	key := RecordKey(r.WarehouseID, r.ItemID, r.LocationID, r.LotNumber)
	d, open, err := openDiscrepancy(c.s, key)
	if err != nil {
		return err
	}
	if !open {
		d = Discrepancy{DiscrepancyID: discrepancyID(c.piece.ReportID, key), WarehouseID: r.WarehouseID, ItemID: r.ItemID,
			LocationID: r.LocationID, LotNumber: r.LotNumber, Status: DiscrepancyOpen, ReportID: c.piece.ReportID,
			OpenedAt: c.now.UTC(), History: []DiscrepancyStep{}}
	}
	changed := !open || d.Kind != kind || d.WarehouseVersion != r.Version || d.WarehouseOnHand != r.OnHand ||
		!sameCloud(d.CloudOnHand, d.CloudVersion, cp)
	d.Kind, d.WarehouseOnHand, d.WarehouseVersion = kind, r.OnHand, r.Version
	d.CloudOnHand, d.CloudVersion = nil, nil
	if cp != nil {
		d.CloudOnHand, d.CloudVersion = &cp.OnHand, &cp.Version
	}
	if changed {
		note := "found by report " + c.piece.ReportID
		d.step(c.now, c.piece.By, DiscrepancyStep{Kind: kind, Note: note})
		if err := saveDiscrepancy(c.s, &d); err != nil {
			return err
		}
		c.res.Discrepancies = append(c.res.Discrepancies, d)
	}
	c.res.Opened = append(c.res.Opened, d.DiscrepancyID)
	if kind != KindUnknownToWarehouse {
		n := len(c.res.Events) + 1
		c.res.Events = append(c.res.Events, recordEvent(r, Correction,
			fmt.Sprintf("evt-rc-%s-%d", c.piece.PieceID, n), c.piece.ReportID, c.now))
	}
	return nil
}

func sameCloud(onHand, version *int64, cp *CloudPosition) bool {
	if cp == nil {
		return onHand == nil && version == nil
	}
	return onHand != nil && version != nil && *onHand == cp.OnHand && *version == cp.Version
}

// missing finds the warehouse's records absent from a complete report
// (within its item range): MISSING_IN_CLOUD.
func (c *comparison) missing(reported map[string]bool) error {
	prefix := append(joinKey(tagRecord, c.piece.WarehouseID), 0)
	var absent []Record
	err := c.s.Scan(prefix, PrefixEnd(prefix), func(k, v []byte) error {
		if reported[string(k)] {
			return nil
		}
		r, err := decodeRecord(k, v)
		if err != nil {
			return err
		}
		if (c.piece.ItemFrom != "" && r.ItemID < c.piece.ItemFrom) || (c.piece.ItemTo != "" && r.ItemID > c.piece.ItemTo) {
			return nil
		}
		absent = append(absent, r)
		return nil
	})
	if err != nil {
		return err
	}
	for i := range absent {
		c.res.Compared++
		if err := c.discrepancy(&absent[i], KindMissingInCloud, nil); err != nil {
			return err
		}
	}
	return nil
}
