package ingest

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/auth"
)

func (s *Server) routes() {
	e := s.engine
	e.HandleMethodNotAllowed = true
	e.Use(s.recovery(), s.traceRequests(), s.countResponses(), securityHeaders)
	e.NoRoute(func(c *gin.Context) {
		writeError(c, http.StatusNotFound, api.CodeNotFound, "no such endpoint: "+c.Request.Method+" "+c.Request.URL.Path)
	})
	e.NoMethod(func(c *gin.Context) {
		writeError(c, http.StatusMethodNotAllowed, api.CodeMethodNotAllowed, c.Request.Method+" is not supported on "+c.Request.URL.Path)
	})
	e.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, api.Status{Status: "ok"}) })
	e.GET("/readyz", s.readyz)
	if s.cfg.Metrics != nil {
		e.GET("/metrics", gin.WrapH(s.cfg.Metrics))
	}
	// Every /v1 request is authenticated, then rate limited per token,
	// then checked against the role table; warehouse scope is checked
	// by each handler, which knows the warehouse.
	v1 := e.Group("/v1", s.authenticate, s.rateLimit)
	v1.GET("/me", s.getMe)
	if s.cfg.Cluster != nil {
		v1.GET("/cluster", allow(auth.ManageTokens), func(c *gin.Context) { c.JSON(http.StatusOK, s.cfg.Cluster) })
	}
	v1.GET("/catalog", allow(auth.ReadCatalog), s.getCatalog)
	v1.PUT("/catalog", allow(auth.WriteCatalog), s.requireOpen, s.putCatalog)
	v1.POST("/transactions", allow(auth.Upload), s.requireOpen, s.postTransactions)
	v1.GET("/transactions/:id", allow(auth.ReadTransactions), s.getTransaction)
	v1.GET("/positions", allow(auth.ReadPositions), s.getPositions)
	if s.cfg.Tokens != nil {
		v1.POST("/tokens", allow(auth.ManageTokens), s.requireOpen, s.postToken)
		v1.GET("/tokens", allow(auth.ManageTokens), s.listTokens)
		v1.DELETE("/tokens/:id", allow(auth.ManageTokens), s.requireOpen, s.deleteToken)
	}
	s.allocationRoutes(v1)
	s.lockRoutes(v1)
	s.reconciliationRoutes(v1)
	s.fleetRoutes(v1)
	s.overviewRoutes(v1)
	s.streamRoutes(v1)
	if s.cfg.Schemas != nil {
		e.GET("/schemas/ids/:id", s.schemaByID)
		e.GET("/subjects", s.subjects)
		e.GET("/subjects/:subject/versions/:version", s.subjectVersion)
	}
}

func (s *Server) recovery() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				ref := newRef()
				s.log.Error("handler panicked", "path", c.Request.URL.Path, "panic", r, "ref", ref)
				writeError(c, http.StatusInternalServerError, api.CodeInternal, "internal error (reference "+ref+" in the server log); the request may be retried")
			}
		}()
		c.Next()
	}
}

// securityHeaders are set on every response: API answers are not to be
// sniffed, framed or cached, and nothing is shared across origins (no
// CORS headers: browsers refuse cross-origin calls).
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
}
