package apitest

import (
	"encoding/json"
	"net/http"

	"github.com/invsync/invsync/api"
)

// WriteJSON answers v with status as the real server does (Content-Type
// application/json; charset=utf-8). It is for the fakes of the API.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// WriteError answers the API's error body {"error":{"code","message"}}.
func WriteError(w http.ResponseWriter, status int, code api.ErrorCode, msg string) {
	WriteJSON(w, status, api.NewError(code, msg))
}

// OnHandAfter is the fakes' simplified apply: the quantity on hand after
// a transaction of type typ and quantity q (RECEIPT and ADJUSTMENT add,
// PICK and MOVE take away at the source, CYCLE_COUNT sets it).
func OnHandAfter(typ string, onHand, q int64) int64 {
	switch typ {
	case "RECEIPT", "ADJUSTMENT":
		return onHand + q
	case "PICK", "MOVE":
		return onHand - q
	case "CYCLE_COUNT":
		return q
	}
	return onHand
}
