package ingest

import (
	"net/http"
	neturl "net/url"
	"sort"

	"github.com/gin-gonic/gin"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/processors"
)

// Held counts: GET /v1/counts, GET /v1/counts/{txid}, POST
// /v1/counts/{txid}/approve and /reject.

// viewOfHeld converts the processor's held count to its wire form.
func viewOfHeld(h *processors.HeldCount) api.HeldCount {
	t := &h.Transaction
	return api.HeldCount{TransactionID: t.TransactionID, WarehouseID: t.WarehouseID, ItemID: t.ItemID, LocationID: t.LocationID,
		LotNumber: t.LotNumber, Counted: h.Counted, Expected: h.Expected, Tolerance: h.Tolerance, Status: h.Status,
		ScannerID: t.ScannerID, UserID: t.UserID, CountedAt: t.CorrectedTimestamp.UTC(), HeldAt: h.HeldAt, DecidedAt: h.DecidedAt,
		DecidedBy: optStr(h.DecidedBy), Note: optStr(h.Note)}
}

func (s *Server) listHeld(c *gin.Context) {
	wh, ok := scopedWarehouse(c)
	if !ok {
		return
	}
	status, ok := queryStatus(c, processors.HeldPending, processors.HeldApproved, processors.HeldRejected, processors.HeldSuperseded)
	if !ok {
		return
	}
	hs, err := s.cfg.Recon.HeldCounts(c.Request.Context(), wh, status)
	if err != nil && !ownedElsewhere(err) {
		s.stateError(c, err)
		return
	}
	out := []api.HeldCount{}
	for i := range hs {
		out = append(out, viewOfHeld(&hs[i]))
	}
	more, ok := fromPeers[api.HeldCount](s, c, err, "counts")
	if !ok {
		return
	}
	out = append(out, more...)
	sort.Slice(out, func(i, j int) bool { return out[i].HeldAt.Before(out[j].HeldAt) })
	c.JSON(http.StatusOK, gin.H{"counts": out})
}

func (s *Server) getHeld(c *gin.Context) {
	h, found, err := s.cfg.Recon.FindHeld(c.Request.Context(), c.Param("txid"))
	relayed, allAnswered := s.askPeersIfMissing(c, found, err)
	switch {
	case found:
		if inScope(c, h.Transaction.WarehouseID) {
			c.JSON(http.StatusOK, viewOfHeld(&h))
		}
	case relayed:
	case s.unknownYet(c, err, allAnswered):
	default:
		writeError(c, http.StatusNotFound, api.CodeCountNotFound, "no count "+c.Param("txid")+" was held")
	}
}

// decideHeld approves or rejects a held count.
func (s *Server) decideHeld(approve bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		var note string
		if body, ok := readBody(c, 64<<10); !ok {
			return
		} else if len(body) > 0 {
			var j api.CountDecision
			if err := strictUnmarshal(body, &j); err != nil {
				writeError(c, http.StatusBadRequest, api.CodeInvalidRequest, "malformed decision: "+describeJSONError(err)+" (field: note)")
				return
			}
			note = deref(j.Note)
		}
		txid := c.Param("txid")
		h, found, err := s.cfg.Recon.FindHeld(c.Request.Context(), txid)
		if !found && err != nil && ownedElsewhere(err) && !forwarded(c) && s.cfg.Router != nil {
			peers, _ := s.cfg.Router.PeerURLs(c.Request.Context())
			if v, ok := getFirst[api.HeldCount](c.Request.Context(), s, peers, "/v1/counts/"+neturl.PathEscape(txid)); ok {
				h.Transaction = processors.Transaction{TransactionID: v.TransactionID, WarehouseID: v.WarehouseID, ItemID: v.ItemID}
				found = true
			}
		}
		switch {
		case !found && err != nil && !ownedElsewhere(err):
			s.stateError(c, err)
			return
		case !found:
			writeError(c, http.StatusNotFound, api.CodeCountNotFound, "no count "+txid+" was held")
			return
		case !inScope(c, h.Transaction.WarehouseID):
			return
		}
		id, ok := commandID(c)
		if !ok {
			return
		}
		cmd := processors.Command{CommandID: id, Kind: processors.CommandCountDecision, WarehouseID: h.Transaction.WarehouseID,
			ItemID: h.Transaction.ItemID, Count: &processors.CountDecision{TransactionID: txid, Approve: approve, Note: note}}
		s.runCommand(c, &cmd, func(r processors.CommandResult) {
			out := api.CountDecisionAnswer{Count: viewOfHeld(r.Held)}
			if r.Outcome != nil {
				out.Outcome = outcomeJSON(*r.Outcome)
			}
			c.JSON(http.StatusOK, out)
		})
	}
}
