package scanner

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// FuzzParseScan: any input line either fails with ErrInvalidScan or gives
// a scan that validates, encodes, and decodes back to itself.
func FuzzParseScan(f *testing.F) {
	for _, s := range []string{lineCount, lineMove, lineBad, lineUnknow, `{}`, `null`, `[]`, `{"quantity":1e400}`,
		`{"type":"ADJUSTMENT","warehouseId":"W","itemId":"I","locationId":"A","quantity":-9223372036854775808}`,
		`{"type":"PICK","warehouseId":"W","itemId":"I","locationId":"A","quantity":1,"allocationId":"x","expectedVersion":null}`} {
		f.Add([]byte(s))
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, line []byte) {
		s, err := ParseScan(line)
		if err != nil {
			if !errors.Is(err, ErrInvalidScan) {
				t.Fatalf("error %v does not match ErrInvalidScan", err)
			}
			return
		}
		body, err := encodeScan(s, "00000000-0000-4000-8000-000000000001", at)
		if err != nil {
			t.Fatalf("a parsed scan does not encode: %v", err)
		}
		back, err := decodeScan(body)
		if err != nil {
			t.Fatalf("decoding %s: %v", body, err)
		}
		again, err := encodeScan(back, "00000000-0000-4000-8000-000000000001", back.At)
		if err != nil || !bytes.Equal(body, again) {
			t.Fatalf("round trip changed the scan:\n%s\n%s (%v)", body, again, err)
		}
	})
}
