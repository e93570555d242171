package ingest

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/invsync/invsync/api"
)

func (s *Server) getPositions(c *gin.Context) {
	wh, item := c.Query("warehouseId"), c.Query("itemId")
	if wh == "" || item == "" {
		writeError(c, http.StatusBadRequest, api.CodeInvalidRequest, "warehouseId and itemId query parameters are required")
		return
	}
	if !inScope(c, wh) {
		return
	}
	var loc, lot *string
	if v, ok := c.GetQuery("locationId"); ok {
		loc = &v
	}
	if v, ok := c.GetQuery("lotNumber"); ok {
		lot = &v
	}
	recs, err := s.cfg.State.Positions(c.Request.Context(), wh, item, loc, lot)
	if err != nil {
		if s.forwardToOwner(c, err, nil) {
			return
		}
		s.stateError(c, err)
		return
	}
	out := api.Positions{Positions: []api.Position{}}
	for _, r := range recs {
		out.Positions = append(out.Positions, api.Position{
			WarehouseID: r.WarehouseID, ItemID: r.ItemID, LocationID: r.LocationID, LotNumber: r.LotNumber,
			OnHand: r.OnHand, Allocated: r.Allocated, Available: r.Available(), Version: r.Version,
			UpdatedAt: time.UnixMilli(r.UpdatedAt).UTC(),
		})
		out.Totals.OnHand += r.OnHand
		out.Totals.Allocated += r.Allocated
		out.Totals.Available += r.Available()
	}
	c.JSON(http.StatusOK, out)
}
