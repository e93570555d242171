package ingest

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/invsync/invsync/api"
)

// writeError writes the API's error body.
func writeError(c *gin.Context, status int, code api.ErrorCode, msg string) {
	c.AbortWithStatusJSON(status, api.NewError(code, msg))
}

func (s *Server) unavailable(c *gin.Context, err error) {
	s.log.Warn("kafka unavailable", "err", err)
	c.Header("Retry-After", "5")
	writeError(c, http.StatusServiceUnavailable, api.CodeKafkaUnavailable,
		"could not write to Kafka: nothing in this request was accepted; keep it queued and retry")
}

// stateError answers a read the instance cannot serve right now.
func (s *Server) stateError(c *gin.Context, err error) {
	if pu, ok := partitionUnavailable(err); ok {
		c.Header("Retry-After", "1")
		code := api.CodePartitionRestoring
		if pu.OwnedElsewhere() {
			code = api.CodePartitionNotOwned
		}
		writeError(c, http.StatusServiceUnavailable, code, err.Error()+"; retry shortly")
		return
	}
	s.internalError(c, "reading state", err)
}

// internalError logs err with a reference and answers 500 with the
// reference only: internals (paths, broker addresses) stay in the log.
func (s *Server) internalError(c *gin.Context, what string, err error) {
	ref := newRef()
	s.log.Error(what, "err", err, "ref", ref, "path", c.Request.URL.Path)
	writeError(c, http.StatusInternalServerError, api.CodeInternal, "internal error while "+what+" (reference "+ref+" in the server log); the request may be retried")
}

// newRef is a short random reference tying an error answer to its log line.
func newRef() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
