package ingest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/invsync/invsync/api"
)

// FuzzUploadResponseAgrees: an upload's answer written by hand is
// json.Marshal's, byte for byte, whatever the strings hold (escapes,
// HTML characters, invalid UTF-8, U+2028) and with or without codes,
// messages and outcomes.
func FuzzUploadResponseAgrees(f *testing.F) {
	f.Add("tx-1", "accepted", "", "", uint8(0))
	f.Add("tx-2", "rejected", "INVALID_TRANSACTION", "quantity must be a number, got \"5\"", uint8(3))
	f.Add("<script>&", "rejected", "UNKNOWN_ITEM", "item \u2028 \xff \x7f \t\n is not in the catalog", uint8(3))
	f.Add("tx-3", "accepted", "", "", uint8(4))
	f.Add("", "", "", "", uint8(7))
	f.Fuzz(func(t *testing.T, id, status, code, msg string, flags uint8) {
		r := api.Result{TransactionID: id, Status: api.UploadStatus(status)}
		if flags&1 != 0 {
			r.Code = ptr(api.ErrorCode(code))
		}
		if flags&2 != 0 {
			r.Message = ptr(msg)
		}
		if flags&4 != 0 {
			r.Outcome = &api.Outcome{Status: api.OutcomeApplied, Warnings: []string{msg}, ResultingOnHand: ptr(int64(len(id)))}
		}
		for _, resp := range []api.UploadResponse{
			{Results: []api.Result{r}},
			{Results: []api.Result{r, {TransactionID: msg, Status: api.StatusAccepted}, r}},
			{Results: []api.Result{}},
			{},
		} {
			want, err := json.Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			got, err := appendUploadResponse([]byte("x"), &resp)
			if err != nil || !bytes.Equal(got[1:], want) || got[0] != 'x' {
				t.Fatalf("wrote %s (%v), json.Marshal %s", got, err, want)
			}
		}
	})
}

// TestUploadResponseAsGinWritesIt: the status, the headers and the body
// are what c.JSON wrote, and a recycled buffer does not leak one answer
// into the next.
func TestUploadResponseAsGinWritesIt(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	long := api.UploadResponse{Results: []api.Result{{TransactionID: "a-long-transaction-id", Status: api.StatusRejected,
		Code: ptr(api.CodeInvalidRequest), Message: ptr("a message long enough to need room <b>")}}}
	short := api.UploadResponse{Results: []api.Result{{TransactionID: "b", Status: api.StatusAccepted}}}
	for _, resp := range []api.UploadResponse{long, short, long, short} {
		want := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(want)
		c.JSON(http.StatusOK, resp)
		got := httptest.NewRecorder()
		c, _ = gin.CreateTestContext(got)
		writeUploadResponse(c, &resp)
		if got.Code != want.Code || !reflect.DeepEqual(got.Header(), want.Header()) || got.Body.String() != want.Body.String() {
			t.Fatalf("wrote %d %v %s, c.JSON %d %v %s", got.Code, got.Header(), got.Body, want.Code, want.Header(), want.Body)
		}
	}
}
