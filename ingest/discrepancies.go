package ingest

import (
	"net/http"
	neturl "net/url"
	"sort"

	"github.com/gin-gonic/gin"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/processors"
)

// Discrepancies: GET /v1/discrepancies, GET and PATCH
// /v1/discrepancies/{id}.

func optStr(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

// viewOfDiscrepancy converts the processor's discrepancy to its wire form.
func viewOfDiscrepancy(d *processors.Discrepancy) api.Discrepancy {
	v := api.Discrepancy{DiscrepancyID: d.DiscrepancyID, WarehouseID: d.WarehouseID, ItemID: d.ItemID, LocationID: d.LocationID,
		LotNumber: d.LotNumber, Kind: d.Kind, WarehouseOnHand: d.WarehouseOnHand, WarehouseVersion: d.WarehouseVersion,
		CloudOnHand: d.CloudOnHand, CloudVersion: d.CloudVersion, Status: d.Status, Assignee: optStr(d.Assignee),
		Resolution: optStr(d.Resolution), ReportID: d.ReportID, CountTaskID: optStr(d.CountTaskID), OpenedAt: d.OpenedAt,
		UpdatedAt: d.UpdatedAt, History: []api.DiscrepancyStep{}}
	for _, h := range d.History {
		v.History = append(v.History, api.DiscrepancyStep{At: h.At, By: h.By, Status: h.Status, Kind: h.Kind,
			Assignee: optStr(h.Assignee), Resolution: optStr(h.Resolution), Note: h.Note})
	}
	return v
}

var discrepancyStatuses = []string{processors.DiscrepancyOpen, processors.DiscrepancyInvestigating, processors.DiscrepancyResolved}

func (s *Server) listDiscrepancies(c *gin.Context) {
	wh, ok := scopedWarehouse(c)
	if !ok {
		return
	}
	offset, limit, paged, ok := pageQuery(c)
	if !ok {
		return
	}
	st, ok := queryStatus(c, discrepancyStatuses...)
	if !ok {
		return
	}
	var statuses []string
	if st != "" {
		statuses = []string{st}
	}
	ds, err := s.cfg.Recon.Discrepancies(c.Request.Context(), wh, statuses)
	if err != nil && !ownedElsewhere(err) {
		s.stateError(c, err)
		return
	}
	out := []api.Discrepancy{}
	seen := map[string]bool{}
	for i := range ds {
		seen[ds[i].DiscrepancyID] = true
		out = append(out, viewOfDiscrepancy(&ds[i]))
	}
	more, ok := fromPeers[api.Discrepancy](s, c, err, "discrepancies")
	if !ok {
		return
	}
	for _, d := range more {
		if !seen[d.DiscrepancyID] {
			seen[d.DiscrepancyID] = true
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OpenedAt.Before(out[j].OpenedAt) })
	// A peer gathering the list asks with the caller's query: it pages
	// the whole list itself.
	if paged && !forwarded(c) {
		c.JSON(http.StatusOK, gin.H{"discrepancies": page(out, offset, limit), "total": len(out), "offset": offset})
		return
	}
	c.JSON(http.StatusOK, gin.H{"discrepancies": out})
}

// findDiscrepancy finds a discrepancy here or at a peer.
func (s *Server) findDiscrepancy(c *gin.Context, id string) (processors.Discrepancy, bool) {
	d, found, err := s.cfg.Recon.FindDiscrepancy(c.Request.Context(), id)
	if found {
		return d, true
	}
	if err != nil && ownedElsewhere(err) && s.cfg.Router != nil && !forwarded(c) {
		peers, _ := s.cfg.Router.PeerURLs(c.Request.Context())
		if v, ok := getFirst[api.Discrepancy](c.Request.Context(), s, peers, "/v1/discrepancies/"+neturl.PathEscape(id)); ok {
			return processors.Discrepancy{DiscrepancyID: v.DiscrepancyID, WarehouseID: v.WarehouseID, ItemID: v.ItemID}, true
		}
		s.stateError(c, err)
		return processors.Discrepancy{}, false
	}
	if err != nil && !ownedElsewhere(err) {
		s.stateError(c, err)
		return processors.Discrepancy{}, false
	}
	writeError(c, http.StatusNotFound, api.CodeDiscrepancyNotFound, "discrepancy "+id+" does not exist")
	return processors.Discrepancy{}, false
}

func (s *Server) getDiscrepancy(c *gin.Context) {
	d, found, err := s.cfg.Recon.FindDiscrepancy(c.Request.Context(), c.Param("id"))
	relayed, allAnswered := s.askPeersIfMissing(c, found, err)
	switch {
	case found:
		if inScope(c, d.WarehouseID) {
			c.JSON(http.StatusOK, viewOfDiscrepancy(&d))
		}
	case relayed:
	case s.unknownYet(c, err, allAnswered):
	default:
		writeError(c, http.StatusNotFound, api.CodeDiscrepancyNotFound, "discrepancy "+c.Param("id")+" does not exist")
	}
}

func (s *Server) patchDiscrepancy(c *gin.Context) {
	var j api.DiscrepancyPatch
	if !readStrict(c, 64<<10, &j, api.CodeInvalidRequest, "discrepancy change", "fields: status, assignee, resolution, note") {
		return
	}
	if j.Status == nil && j.Assignee == nil && j.Note == nil {
		writeError(c, http.StatusBadRequest, api.CodeInvalidRequest, "nothing to change: give status, assignee or note")
		return
	}
	if j.Status != nil && *j.Status != processors.DiscrepancyInvestigating && *j.Status != processors.DiscrepancyResolved {
		writeError(c, http.StatusBadRequest, api.CodeInvalidRequest, "status must be INVESTIGATING or RESOLVED, got "+*j.Status)
		return
	}
	if r := j.Resolution; r != nil && *r != processors.ResolutionRecountRequested && *r != processors.ResolutionWarehouseConfirm && *r != processors.ResolutionWrittenOff {
		writeError(c, http.StatusBadRequest, api.CodeInvalidRequest, "resolution must be RECOUNT_REQUESTED, WAREHOUSE_CONFIRMED or WRITTEN_OFF, got "+*r)
		return
	}
	d, found := s.findDiscrepancy(c, c.Param("id"))
	if !found || !inScope(c, d.WarehouseID) {
		return
	}
	id, ok := commandID(c)
	if !ok {
		return
	}
	cmd := processors.Command{CommandID: id, Kind: processors.CommandDiscrepancyUpdate, WarehouseID: d.WarehouseID, ItemID: d.ItemID,
		Discrepancy: &processors.DiscrepancyUpdate{DiscrepancyID: d.DiscrepancyID, Status: j.Status, Assignee: j.Assignee,
			Resolution: j.Resolution, Note: deref(j.Note)}}
	s.runCommand(c, &cmd, func(r processors.CommandResult) {
		if r.Discrepancy != nil {
			c.JSON(http.StatusOK, viewOfDiscrepancy(r.Discrepancy))
		}
	})
}
