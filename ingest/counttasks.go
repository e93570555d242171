package ingest

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/processors"
)

// Count tasks: POST and GET /v1/count-tasks.

// viewOfTask converts the processor's count task to its wire form.
func viewOfTask(t *processors.CountTask) api.CountTask {
	return api.CountTask{CountTaskID: t.CountTaskID, WarehouseID: t.WarehouseID, LocationID: t.LocationID, ItemID: optStr(t.ItemID),
		Reason: t.Reason, Status: t.Status, CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy, DiscrepancyID: optStr(t.DiscrepancyID),
		CompletedAt: t.CompletedAt, CompletedBy: optStr(t.CompletedBy)}
}

func (s *Server) postCountTask(c *gin.Context) {
	var j api.CountTaskRequest
	if !readStrict(c, 64<<10, &j, api.CodeInvalidCountTask, "count task", "fields: warehouseId, locationId, itemId, reason, discrepancyId") {
		return
	}
	if j.WarehouseID == nil || j.LocationID == nil || j.Reason == nil || *j.Reason == "" || len(*j.Reason) > 500 {
		writeError(c, http.StatusBadRequest, api.CodeInvalidCountTask, "warehouseId, locationId and reason (at most 500 bytes) are required")
		return
	}
	if !inScope(c, *j.WarehouseID) {
		return
	}
	if rej := s.cfg.Catalog.Catalog().CheckLocationItem(*j.WarehouseID, *j.LocationID, deref(j.ItemID)); rej != nil {
		writeError(c, http.StatusBadRequest, api.ErrorCode(rej.Code), rej.Message)
		return
	}
	t := processors.CountTask{CountTaskID: "ct-" + newCommandID()[4:], WarehouseID: *j.WarehouseID, LocationID: *j.LocationID,
		ItemID: deref(j.ItemID), Reason: *j.Reason, Status: processors.CountTaskOpen, CreatedAt: s.cfg.Now().UTC(),
		CreatedBy: principal(c).Name, DiscrepancyID: deref(j.DiscrepancyID)}
	if err := s.cfg.CountTasks.Create(c.Request.Context(), t); err != nil {
		s.unavailable(c, err)
		return
	}
	c.JSON(http.StatusCreated, viewOfTask(&t))
}

func (s *Server) listCountTasks(c *gin.Context) {
	wh, ok := scopedWarehouse(c)
	if !ok {
		return
	}
	status, ok := queryStatus(c, processors.CountTaskOpen, processors.CountTaskDone)
	if !ok {
		return
	}
	out := []api.CountTask{}
	for _, t := range s.cfg.CountTasks.List(wh, status) {
		out = append(out, viewOfTask(&t))
	}
	c.JSON(http.StatusOK, api.CountTaskList{CountTasks: out})
}
