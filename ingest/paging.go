package ingest

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
)

// maxPageLimit bounds ?limit= of the list endpoints that page.
const maxPageLimit = 1000

// pageQuery reads the optional ?offset=&limit= of a list (the console's
// list pages ask for one page at a time). paged is false without limit:
// the whole list, as before. A bad value is answered 400.
func pageQuery(c *gin.Context) (offset, limit int, paged, ok bool) {
	ls, hasLimit := c.GetQuery("limit")
	os, hasOffset := c.GetQuery("offset")
	if !hasLimit {
		if hasOffset {
			writeError(c, http.StatusBadRequest, "INVALID_REQUEST", "offset needs limit")
			return 0, 0, false, false
		}
		return 0, 0, false, true
	}
	limit, err := strconv.Atoi(ls)
	if err != nil || limit < 1 || limit > maxPageLimit {
		writeError(c, http.StatusBadRequest, "INVALID_REQUEST", "limit must be 1 to "+strconv.Itoa(maxPageLimit))
		return 0, 0, false, false
	}
	if hasOffset {
		if offset, err = strconv.Atoi(os); err != nil || offset < 0 {
			writeError(c, http.StatusBadRequest, "INVALID_REQUEST", "offset must be 0 or more")
			return 0, 0, false, false
		}
	}
	return offset, limit, true, true
}

// page cuts list to [offset, offset+limit).
func page[T any](list []T, offset, limit int) []T {
	if offset >= len(list) {
		return list[:0]
	}
	return list[offset:min(len(list), offset+limit)]
}
