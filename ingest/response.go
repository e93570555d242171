package ingest

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/invsync/invsync/api"
)

// An upload's answer is a hundred small results on the bench's path, and
// encoding/json's reflection over them was a tenth of the handler's CPU.
// appendUploadResponse writes the same bytes by hand: a result without an
// outcome field by field, its strings verbatim when they need no escape;
// anything else (an escape, an outcome) goes through encoding/json, so
// every byte of the answer stays that encoder's. FuzzUploadResponseAgrees
// holds it to json.Marshal.

// jsonContentType is the Content-Type gin's c.JSON writes.
const jsonContentType = "application/json; charset=utf-8"

// responseBufs recycles the answers' buffers: the writer has copied the
// bytes by the time Write returns.
var responseBufs = sync.Pool{New: func() any { return new([]byte) }}

// writeUploadResponse answers 200 with r as c.JSON would.
func writeUploadResponse(c *gin.Context, r *api.UploadResponse) {
	bp := responseBufs.Get().(*[]byte)
	b, err := appendUploadResponse((*bp)[:0], r)
	if err != nil {
		// Cannot happen for these types; answer as c.JSON would.
		c.JSON(http.StatusOK, r)
	} else {
		// As render.JSON: the status, the type unless already set, the
		// bytes (no Content-Length, which c.Data would add).
		c.Status(http.StatusOK)
		if h := c.Writer.Header(); len(h["Content-Type"]) == 0 {
			h["Content-Type"] = []string{jsonContentType}
		}
		if _, err := c.Writer.Write(b); err != nil {
			_ = c.Error(err)
			c.Abort()
		}
	}
	if cap(b) <= 1<<20 { // an answer of 1000 results with long messages at most
		*bp = b
		responseBufs.Put(bp)
	}
}

// appendUploadResponse appends json.Marshal(r) to b.
func appendUploadResponse(b []byte, r *api.UploadResponse) ([]byte, error) {
	if r.Results == nil {
		return append(b, `{"results":null}`...), nil
	}
	b = append(b, `{"results":[`...)
	for i := range r.Results {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendResult(b, &r.Results[i]); err != nil {
			return b, err
		}
	}
	return append(b, "]}"...), nil
}

func appendResult(b []byte, r *api.Result) ([]byte, error) {
	if r.Outcome != nil {
		return appendMarshal(b, r)
	}
	var err error
	b = append(b, `{"transactionId":`...)
	if b, err = appendString(b, r.TransactionID); err != nil {
		return b, err
	}
	b = append(b, `,"status":`...)
	if b, err = appendString(b, string(r.Status)); err != nil {
		return b, err
	}
	b = append(b, `,"code":`...)
	if r.Code == nil {
		b = append(b, "null"...)
	} else if b, err = appendString(b, string(*r.Code)); err != nil {
		return b, err
	}
	b = append(b, `,"message":`...)
	if r.Message == nil {
		b = append(b, "null"...)
	} else if b, err = appendString(b, *r.Message); err != nil {
		return b, err
	}
	return append(b, '}'), nil
}

// appendString appends s as a JSON string the way json.Marshal writes it.
func appendString(b []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			// Escapes, HTML-safe escapes, invalid UTF-8 and U+2028/2029
			// are encoding/json's to write.
			return appendMarshal(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), nil
}

func appendMarshal(b []byte, v any) ([]byte, error) {
	j, err := json.Marshal(v)
	return append(b, j...), err
}
