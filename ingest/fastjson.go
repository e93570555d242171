package ingest

import (
	"encoding/json"
	"math/bits"
	"unicode/utf8"

	"github.com/invsync/invsync/api"
)

// The upload's JSON has a fixed shape, and encoding/json's reflection was
// the largest single CPU cost of the whole path (BENCHMARKS.md). The
// scanner below reads only the plain form of that shape: each field at
// most once, spelt exactly, strings without escapes, quantity and
// expectedVersion as JSON numbers, override as true or false, no nulls.
// Anything else, including every malformed body, makes it give up, and
// the caller decodes with encoding/json as before, so every answer and
// error message stays that decoder's. An upload is read in one pass: the
// envelope's scan reads every transaction's values too (DecodeUpload
// keeps them), so a transaction is neither scanned twice nor copied on its
// own. FuzzFastDecodeAgrees checks that whatever the scanner accepts
// encoding/json decodes to the same values; FuzzUploadOnePassAgrees holds
// a whole upload, decoded and checked, to encoding/json's.

// fastScanner walks one JSON text. Its methods report false, and stop,
// at the first byte outside the plain form.
type fastScanner struct {
	b []byte
	i int
	// text is b as one string, which decoded strings are cut from (one
	// copy per upload rather than one per field).
	text string
}

func (s *fastScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// byte consumes c after optional whitespace.
func (s *fastScanner) byte(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// peek reports whether the next byte after whitespace is c, without
// consuming it.
func (s *fastScanner) peek(c byte) bool {
	s.ws()
	return s.i < len(s.b) && s.b[s.i] == c
}

// str reads a string without escapes or control characters, valid UTF-8,
// and returns where its contents start and end.
func (s *fastScanner) str() (start, end int, ok bool) {
	if !s.byte('"') {
		return 0, 0, false
	}
	start, ascii := s.i, true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			end = s.i
			s.i++
			if !ascii && !utf8.Valid(s.b[start:end]) {
				return 0, 0, false // encoding/json would replace the invalid bytes
			}
			return start, end, true
		case c == '\\' || c < 0x20:
			return 0, 0, false
		case c >= 0x80:
			ascii = false
		}
		s.i++
	}
	return 0, 0, false
}

// key reads an object key; keys are compared, never kept.

// number reads a JSON number and returns its text.
func (s *fastScanner) number() ([]byte, bool) {
	s.ws()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.digits() == 0:
		return nil, false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return nil, false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return nil, false
		}
	}
	return s.b[start:s.i], true
}

func (s *fastScanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

func (s *fastScanner) boolean() (bool, bool) {
	s.ws()
	rest := s.b[s.i:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		s.i += 4
		return true, true
	case len(rest) >= 5 && string(rest[:5]) == "false":
		s.i += 5
		return false, true
	}
	return false, false
}

// object reads {"key": value, ...}, calling field for each key; field
// reads the value and reports false to give up.
func (s *fastScanner) object(field func(key []byte) bool) bool {
	if !s.byte('{') {
		return false
	}
	if s.byte('}') {
		return true
	}
	for {
		start, end, ok := s.str()
		if !ok || !s.byte(':') || !field(s.b[start:end]) {
			return false
		}
		if s.byte('}') {
			return true
		}
		if !s.byte(',') {
			return false
		}
	}
}

// end reports whether only whitespace is left.
func (s *fastScanner) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// plainTx is one transaction's values as the plain-form scanner read
// them; the pointers of its fields (api.UploadTransactionFields) point
// into it, so a transaction costs one allocation, or none when it is one
// of an upload's (DecodeUpload keeps them all in one slice).
type plainTx struct {
	strs     [12]string         // the string fields, in the order of txObject's bits
	nums     [2]json.RawMessage // quantity, expectedVersion
	override bool
	seen     uint16 // bit k: field k was present
}

// fields is v as encoding/json would have decoded it: a field absent from
// the object is nil.
func (v *plainTx) fields() api.UploadTransactionFields {
	var j api.UploadTransactionFields
	for k, dst := range [12]**string{&j.TransactionID, &j.Type, &j.Timestamp, &j.WarehouseID, &j.ItemID, &j.LocationID,
		&j.LotNumber, &j.ToLocationID, &j.AllocationID, &j.UserID, &j.ReasonCode, &j.CountTaskID} {
		if v.seen&(1<<k) != 0 {
			*dst = &v.strs[k]
		}
	}
	if v.seen&(1<<12) != 0 {
		j.Quantity = &v.nums[0]
	}
	if v.seen&(1<<13) != 0 {
		j.ExpectedVersion = &v.nums[1]
	}
	if v.seen&(1<<14) != 0 {
		j.Override = &v.override
	}
	return j
}

// fastTransaction decodes one transaction in the plain form. ok is false
// when raw is anything else; the caller then uses encoding/json.
func fastTransaction(raw []byte) (j api.UploadTransactionFields, ok bool) {
	s := &fastScanner{b: raw, text: string(raw)}
	v := new(plainTx)
	if !s.txObject(v) || !s.end() {
		return api.UploadTransactionFields{}, false
	}
	return v.fields(), true
}

// txObject reads one transaction object into v.
func (s *fastScanner) txObject(v *plainTx) bool {
	v.seen = 0
	return s.object(func(key []byte) bool {
		var bit uint16
		switch string(key) {
		case "transactionId":
			bit = 1 << 0
		case "type":
			bit = 1 << 1
		case "timestamp":
			bit = 1 << 2
		case "warehouseId":
			bit = 1 << 3
		case "itemId":
			bit = 1 << 4
		case "locationId":
			bit = 1 << 5
		case "lotNumber":
			bit = 1 << 6
		case "toLocationId":
			bit = 1 << 7
		case "allocationId":
			bit = 1 << 8
		case "userId":
			bit = 1 << 9
		case "reasonCode":
			bit = 1 << 10
		case "countTaskId":
			bit = 1 << 11
		case "quantity":
			bit = 1 << 12
		case "expectedVersion":
			bit = 1 << 13
		case "override":
			bit = 1 << 14
		default:
			return false // unknown, or a spelling encoding/json would fold
		}
		if v.seen&bit != 0 {
			return false // encoding/json keeps the last; leave it to it
		}
		v.seen |= bit
		k := bits.TrailingZeros16(bit)
		switch {
		case k < 12:
			start, end, ok := s.str()
			v.strs[k] = s.text[start:end]
			return ok
		case k < 14:
			n, ok := s.number()
			v.nums[k-12] = n
			return ok
		}
		b, ok := s.boolean()
		v.override = b
		return ok
	})
}

// fastUpload decodes an upload's envelope without a device object in the
// plain form, every transaction included (each must be a plain object
// too, so that the envelope is known to be valid JSON). ok is false
// otherwise.
func fastUpload(body []byte) (scannerID, sentAt *string, txs []json.RawMessage, ok bool) {
	scannerID, sentAt, txs, device, _, ok := fastEnvelope(body)
	if !ok || device != nil {
		return nil, nil, nil, false
	}
	return scannerID, sentAt, txs, true
}

// fastEnvelope is fastUpload with the optional "device" object (a flat
// object of strings, numbers and nulls), returned as its raw bytes, and
// every transaction decoded in the same pass (plain[i] is txs[i]). The
// body is copied to a string once and every decoded string is cut from
// that copy.
func fastEnvelope(body []byte) (scannerID, sentAt *string, txs []json.RawMessage, device json.RawMessage, plain []plainTx, ok bool) {
	s := &fastScanner{b: body, text: string(body)}
	var seen uint8
	var ids [2]string // scannerId, sentAt: one allocation for both
	ok = s.object(func(key []byte) bool {
		var bit uint8
		switch string(key) {
		case "scannerId":
			bit = 1
		case "sentAt":
			bit = 2
		case "transactions":
			bit = 4
		case "device":
			bit = 8
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		if bit == 4 {
			return s.txArray(&txs, &plain)
		}
		if bit == 8 {
			s.ws()
			start := s.i
			if !s.flatObject() {
				return false
			}
			device = json.RawMessage(body[start:s.i])
			return true
		}
		start, end, ok := s.str()
		ids[bit-1] = s.text[start:end]
		return ok
	})
	if !ok || !s.end() {
		return nil, nil, nil, nil, nil, false
	}
	if seen&1 != 0 {
		scannerID = &ids[0]
	}
	if seen&2 != 0 {
		sentAt = &ids[1]
	}
	return scannerID, sentAt, txs, device, plain, true
}

// flatObject checks an object whose values are plain strings, numbers or
// null (a device report), each key once.
func (s *fastScanner) flatObject() bool {
	keys := map[string]bool{}
	return s.object(func(key []byte) bool {
		if keys[string(key)] {
			return false
		}
		keys[string(key)] = true
		s.ws()
		switch {
		case s.peek('"'):
			_, _, ok := s.str()
			return ok
		case s.i+4 <= len(s.b) && string(s.b[s.i:s.i+4]) == "null":
			s.i += 4
			return true
		}
		_, ok := s.number()
		return ok
	})
}

// txArray reads the transactions array, keeping each element's bytes as
// encoding/json's RawMessage would (the value, without surrounding space)
// and its values.
func (s *fastScanner) txArray(txs *[]json.RawMessage, plain *[]plainTx) bool {
	if !s.byte('[') {
		return false
	}
	*txs = []json.RawMessage{}
	if s.byte(']') {
		return true
	}
	// A guess at the count (a plain transaction the bench or a device
	// writes is 200 to 300 bytes) that saves growing the slices.
	guess := min((len(s.b)-s.i)/200+1, MaxTransactions+1)
	*txs = make([]json.RawMessage, 0, guess)
	*plain = make([]plainTx, 0, guess)
	for {
		s.ws()
		start := s.i
		*plain = append(*plain, plainTx{})
		if !s.txObject(&(*plain)[len(*plain)-1]) {
			return false
		}
		*txs = append(*txs, json.RawMessage(s.b[start:s.i]))
		if s.byte(']') {
			return true
		}
		if !s.byte(',') {
			return false
		}
	}
}
