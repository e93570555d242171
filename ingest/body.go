package ingest

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/invsync/invsync/api"
)

// readBody reads at most limit bytes; more is a 413.
func readBody(c *gin.Context, limit int64) ([]byte, bool) {
	r := http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	var body []byte
	var err error
	if n := c.Request.ContentLength; n > 0 && n <= limit {
		// Sized once from the declared length (io.ReadAll would grow and
		// copy its buffer a dozen times for an upload of 100); the
		// reader still stops at the limit, and net/http at the length.
		buf := bytes.NewBuffer(make([]byte, 0, n+bytes.MinRead))
		_, err = buf.ReadFrom(r)
		body = buf.Bytes()
	} else {
		body, err = io.ReadAll(r)
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(c, http.StatusRequestEntityTooLarge, api.CodeBodyTooLarge,
				"request body exceeds "+strconv.FormatInt(limit, 10)+" bytes: split it into smaller requests")
			return nil, false
		}
		writeError(c, http.StatusBadRequest, api.CodeInvalidRequest, "reading request body: "+err.Error())
		return nil, false
	}
	return body, true
}

// readDecoded reads a body of at most limit bytes and decodes it, answering
// the request when either fails (a decode's RequestError with its own
// status, code and message). It reports whether v is the body's.
func readDecoded[T any](c *gin.Context, limit int64, decode func(body []byte) (T, *RequestError)) (v T, ok bool) {
	body, ok := readBody(c, limit)
	if !ok {
		return v, false
	}
	v, rerr := decode(body)
	if rerr != nil {
		writeError(c, rerr.Status, rerr.Code, rerr.Message)
		return v, false
	}
	return v, true
}

// waitQuery reads the wait parameter of a write that can wait for one
// stage (applied, decided, compared): absent, or that stage's name; any
// other value is a 400. It reports whether the caller asked to wait.
func waitQuery(c *gin.Context, stage string) (wait, ok bool) {
	v := c.Query("wait")
	if v != "" && v != stage {
		writeError(c, http.StatusBadRequest, api.CodeInvalidRequest, "wait must be \""+stage+"\" or absent, got "+v)
		return false, false
	}
	return v == stage, true
}

// readStrict reads a JSON body of at most limit bytes into v, refusing
// unknown fields. A malformed body is answered 400 with code, saying it
// is a malformed what and listing the fields expected.
func readStrict(c *gin.Context, limit int64, v any, code api.ErrorCode, what, fields string) bool {
	body, ok := readBody(c, limit)
	if !ok {
		return false
	}
	if err := strictUnmarshal(body, v); err != nil {
		writeError(c, http.StatusBadRequest, code, "malformed "+what+": "+describeJSONError(err)+" ("+fields+")")
		return false
	}
	return true
}
