package api

import "strings"

// CountTaskIDType is the only transaction type that may carry a
// countTaskId: the CYCLE_COUNT that completes the task.
const CountTaskIDType = "CYCLE_COUNT"

// MaxIDBytes bounds the printable ids a client chooses (scannerId,
// countTaskId).
const MaxIDBytes = 128

// CheckCountTaskID is the countTaskId rule of an upload's transaction of
// type txType: only on a CYCLE_COUNT, and a printable id of at most
// MaxIDBytes bytes. It returns the server's message for a transaction
// that breaks it, or "".
func CheckCountTaskID(txType, id string) string {
	switch {
	case txType != CountTaskIDType:
		return "countTaskId is only for a CYCLE_COUNT (the count that completes the task), not a " + txType
	case !PrintableID(id):
		return "countTaskId must be a printable id of at most 128 bytes"
	}
	return ""
}

// PrintableID reports whether id is a non-empty id of at most MaxIDBytes
// bytes without control characters.
func PrintableID(id string) bool {
	return id != "" && len(id) <= MaxIDBytes && !strings.ContainsFunc(id, isControl)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
