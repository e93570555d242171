package ingest

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/invsync/invsync/api"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// requireOpen answers 503 STARTING until Open: writes (and the lock reads,
// which need the lock table loaded) wait for master data, so a valid scan
// is never rejected for an item the catalog simply has not loaded yet.
func (s *Server) requireOpen(c *gin.Context) {
	if s.open.Load() {
		return
	}
	c.Header("Retry-After", "1")
	writeError(c, http.StatusServiceUnavailable, api.CodeStarting, "invsync is starting (loading the catalog and locks); nothing was accepted, retry shortly")
}

// countResponses counts every response by route, method and status, and
// times it: refusals from other middleware and handlers' early errors
// included.
func (s *Server) countResponses() gin.HandlerFunc {
	return func(c *gin.Context) {
		began := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		attrs := metric.WithAttributes(attribute.String("route", route), attribute.String("method", c.Request.Method),
			attribute.String("status", strconv.Itoa(c.Writer.Status())))
		s.requests.Add(c, 1, attrs)
		s.duration.Record(c, time.Since(began).Seconds(), metric.WithAttributes(attribute.String("route", route), attribute.String("method", c.Request.Method)))
	}
}
