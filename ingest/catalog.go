package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/processors"
)

// getCatalog answers the master data the caller may see: every item, and
// the warehouses of its scope (or only ?warehouseId=). The answer carries
// an ETag; a request whose If-None-Match holds it gets 304, so a device
// refreshing its cached copy every sync costs almost nothing.
func (s *Server) getCatalog(c *gin.Context) {
	wh, one := c.GetQuery("warehouseId")
	if one && !inScope(c, wh) {
		return
	}
	doc := s.cfg.Catalog.Catalog().Doc()
	kept := doc.Warehouses[:0]
	for _, w := range doc.Warehouses {
		if (one && w.WarehouseID == wh) || (!one && mayAccess(c, w.WarehouseID)) {
			kept = append(kept, w)
		}
	}
	doc.Warehouses = kept
	if one && len(kept) == 0 {
		writeError(c, http.StatusNotFound, api.CodeUnknownWarehouse, "warehouse "+wh+" is not in the catalog")
		return
	}
	body, err := json.Marshal(doc)
	if err != nil {
		s.internalError(c, "encoding the catalog", err)
		return
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	c.Header("ETag", etag)
	c.Header("Cache-Control", "no-cache")
	for _, tag := range strings.Split(c.GetHeader("If-None-Match"), ",") {
		if t := strings.TrimSpace(tag); t == etag || t == "W/"+etag || t == "*" {
			c.Status(http.StatusNotModified)
			return
		}
	}
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
}

func (s *Server) putCatalog(c *gin.Context) {
	body, ok := readBody(c, 64<<20)
	if !ok {
		return
	}
	doc, err := processors.ParseCatalog(body)
	if err != nil {
		writeError(c, http.StatusBadRequest, api.CodeInvalidCatalog, err.Error())
		return
	}
	if err := s.cfg.Catalog.Publish(c.Request.Context(), doc); err != nil {
		s.unavailable(c, err)
		return
	}
	w, i := s.cfg.Catalog.Catalog().Size()
	c.JSON(http.StatusOK, api.CatalogAnswer{Upserted: api.CatalogSize{Warehouses: len(doc.Warehouses), Items: len(doc.Items)},
		Catalog: api.CatalogSize{Warehouses: w, Items: i}})
}
