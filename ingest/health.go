package ingest

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/invsync/invsync/api"
)

func (s *Server) readyz(c *gin.Context) {
	if !s.cfg.Catalog.Loaded() || !s.open.Load() {
		c.Header("Retry-After", "1")
		writeError(c, http.StatusServiceUnavailable, api.CodeNotReady, "loading the catalog from Kafka")
		return
	}
	if ok, why := s.cfg.Ready.Ready(); !ok {
		c.Header("Retry-After", "1")
		writeError(c, http.StatusServiceUnavailable, api.CodeNotReady, why)
		return
	}
	c.JSON(http.StatusOK, api.Status{Status: "ready"})
}
