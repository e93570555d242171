package ingest

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/processors"
)

// Cloud reconciliation reports: POST /v1/reconciliation/reports and
// GET /v1/reconciliation/reports/{id}.

// decodeReport validates a report body into a CloudReport.
func decodeReport(body []byte) (processors.CloudReport, *RequestError) {
	bad := func(format string, args ...any) (processors.CloudReport, *RequestError) {
		return processors.CloudReport{}, &RequestError{Status: http.StatusBadRequest, Code: api.CodeInvalidReport, Message: fmt.Sprintf(format, args...)}
	}
	var j api.ReportRequest
	if err := strictUnmarshal(body, &j); err != nil {
		return bad("malformed report: %s", describeJSONError(err))
	}
	if j.ReportID == nil || j.WarehouseID == nil || j.Complete == nil || j.Positions == nil {
		return bad("reportId, warehouseId, complete and positions are required")
	}
	r := processors.CloudReport{ReportID: *j.ReportID, WarehouseID: *j.WarehouseID, Complete: *j.Complete}
	if j.ItemRange != nil {
		r.ItemFrom, r.ItemTo = j.ItemRange.From, j.ItemRange.To
	}
	for i, p := range j.Positions {
		if p.ItemID == nil || p.LocationID == nil || p.OnHand == nil || p.Version == nil {
			return bad("positions[%d]: itemId, locationId, onHand and version are required", i)
		}
		onHand, rej := parseInteger(fmt.Sprintf("positions[%d].onHand", i), p.OnHand)
		if rej != nil {
			return bad("%s", rej.Message)
		}
		version, rej := parseInteger(fmt.Sprintf("positions[%d].version", i), p.Version)
		if rej != nil {
			return bad("%s", rej.Message)
		}
		r.Positions = append(r.Positions, processors.CloudPosition{ItemID: *p.ItemID, LocationID: *p.LocationID,
			LotNumber: deref(p.LotNumber), OnHand: onHand, Version: version})
	}
	return r, nil
}

// sumReport sums the results of a report's pieces.
func sumReport(id string, pieces int, results map[string]processors.CommandResult) api.ReportAnswer {
	a := api.ReportAnswer{ReportID: id, Status: api.ReportCompared, Discrepancies: []string{}, Resolved: []string{}, Pieces: pieces}
	for _, r := range results {
		if r.Report == nil {
			continue
		}
		a.Compared += r.Report.Compared
		a.Agreed += r.Report.Agreed
		a.Behind += r.Report.Behind
		a.Discrepancies = append(a.Discrepancies, r.Report.Opened...)
		a.Resolved = append(a.Resolved, r.Report.Resolved...)
	}
	sort.Strings(a.Discrepancies)
	sort.Strings(a.Resolved)
	a.Discrepancies, a.Resolved = slices.Compact(a.Discrepancies), slices.Compact(a.Resolved)
	if a.PendingPieces = pieces - len(results); a.PendingPieces > 0 {
		a.Status = api.ReportPending
	}
	return a
}

func (s *Server) postReport(c *gin.Context) {
	wait, ok := waitQuery(c, "compared")
	if !ok {
		return
	}
	rep, ok := readDecoded(c, 8<<20, decodeReport)
	if !ok {
		return
	}
	if !inScope(c, rep.WarehouseID) {
		return
	}
	if rej := s.cfg.Catalog.Catalog().CheckReport(&rep); rej != nil {
		status := http.StatusBadRequest
		if api.ErrorCode(rej.Code) == api.CodeReportTooLarge {
			status = http.StatusRequestEntityTooLarge
		}
		writeError(c, status, api.ErrorCode(rej.Code), rej.Message)
		return
	}
	pieces, err := s.cfg.Commands.WriteReport(c.Request.Context(), &rep, principal(c).Name, s.cfg.Now())
	if err != nil {
		s.unavailable(c, err)
		return
	}
	results := map[string]processors.CommandResult{}
	if wait {
		results = s.awaitCommands(c.Request.Context(), pieces)
	}
	a := sumReport(rep.ReportID, len(pieces), results)
	if wait && a.PendingPieces == 0 {
		c.JSON(http.StatusOK, a)
		return
	}
	a.Status = api.ReportPending
	c.JSON(http.StatusAccepted, a)
}

// getReport answers a report's comparison so far: every partition's piece
// found here or at the other instances.
func (s *Server) getReport(c *gin.Context) {
	id := c.Param("id")
	n := s.cfg.Partitions
	pieces := make(map[string]int32, n)
	for p := range n {
		pieces[id+"#"+strconv.Itoa(int(p))] = p
	}
	results := s.collectCommands(c.Request.Context(), pieces, false)
	if len(results) == 0 {
		writeError(c, http.StatusNotFound, api.CodeReportNotFound, "no piece of report "+id+" has been compared (it may still be pending)")
		return
	}
	a := sumReport(id, len(results), results)
	c.JSON(http.StatusOK, a)
}
