package scanner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/processors"
)

// Scan is one physical transaction as the operator (or the program) reports
// it: the upload's transaction shape without transactionId and timestamp,
// which the Device sets when it queues the scan. Field meanings and rules
// are the server's (spec "Scanner upload"): quantity > 0 for RECEIPT, PICK
// and MOVE, a signed delta ≠ 0 for ADJUSTMENT, the counted quantity ≥ 0 for
// CYCLE_COUNT; toLocationId only (and always) on MOVE; allocationId only on
// PICK; countTaskId only on CYCLE_COUNT. Scan is the library's input, not a
// wire shape: encodeScan turns it into the api.Transaction that is stored
// and sent.
type Scan struct {
	Type            string `json:"type"`
	WarehouseID     string `json:"warehouseId"`
	ItemID          string `json:"itemId"`
	LocationID      string `json:"locationId"`
	LotNumber       string `json:"lotNumber,omitempty"`
	Quantity        int64  `json:"quantity"`
	ToLocationID    string `json:"toLocationId,omitempty"`
	ExpectedVersion *int64 `json:"expectedVersion,omitempty"`
	AllocationID    string `json:"allocationId,omitempty"`
	Override        bool   `json:"override,omitempty"`
	UserID          string `json:"userId,omitempty"`
	ReasonCode      string `json:"reasonCode,omitempty"`
	CountTaskID     string `json:"countTaskId,omitempty"`

	// At is when the scan happened on the device clock. Zero (the usual
	// case) means now, read from Config.Now when the scan is queued; a
	// program that stamps scans itself (a simulator, a reader that
	// stamps lines as they arrive) sets it.
	At time.Time `json:"-"`
}

// Queued is the receipt for a scan stored durably in the queue.
type Queued struct {
	TransactionID string
	// Timestamp is the device time sent with the scan (millisecond
	// precision, UTC).
	Timestamp time.Time
}

// encodeScan validates s and returns its wire encoding (api.Transaction)
// with id and at. The encoding is computed once, when the scan is queued,
// and stored: every resend carries the same bytes.
func encodeScan(s Scan, id string, at time.Time) ([]byte, error) {
	if err := s.validate(id); err != nil {
		return nil, err
	}
	w := api.Transaction{
		TransactionID: id, Type: s.Type, Timestamp: api.FormatTime(at),
		WarehouseID: s.WarehouseID, ItemID: s.ItemID, LocationID: s.LocationID, LotNumber: s.LotNumber,
		Quantity: s.Quantity, ToLocationID: s.ToLocationID, ExpectedVersion: s.ExpectedVersion,
		AllocationID: s.AllocationID, Override: s.Override, UserID: s.UserID, ReasonCode: s.ReasonCode,
		CountTaskID: s.CountTaskID,
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encoding scan: %w", err)
	}
	return b, nil
}

// decodeScan reads a stored wire encoding back.
func decodeScan(body []byte) (Scan, error) {
	var w api.Transaction
	if err := json.Unmarshal(body, &w); err != nil {
		return Scan{}, fmt.Errorf("decoding stored scan: %w", err)
	}
	at, err := time.Parse(time.RFC3339Nano, w.Timestamp)
	if err != nil {
		return Scan{}, fmt.Errorf("decoding stored scan time: %w", err)
	}
	return Scan{
		Type: w.Type, WarehouseID: w.WarehouseID, ItemID: w.ItemID, LocationID: w.LocationID,
		LotNumber: w.LotNumber, Quantity: w.Quantity, ToLocationID: w.ToLocationID,
		ExpectedVersion: w.ExpectedVersion, AllocationID: w.AllocationID, Override: w.Override,
		UserID: w.UserID, ReasonCode: w.ReasonCode, CountTaskID: w.CountTaskID, At: at.UTC(),
	}, nil
}

// Validate checks what can be checked without master data, with the
// server's own rules (processors.CheckShape): a scan that fails here would
// be rejected INVALID_TRANSACTION. It returns a *ValidationError matching
// ErrInvalidScan.
func (s Scan) Validate() error { return s.validate("00000000-0000-4000-8000-000000000000") }

func (s Scan) validate(id string) error {
	tx := processors.Transaction{
		TransactionID: id, Type: processors.TxType(s.Type), WarehouseID: s.WarehouseID, ItemID: s.ItemID,
		LocationID: s.LocationID, LotNumber: s.LotNumber, Quantity: s.Quantity, ToLocationID: s.ToLocationID,
		ExpectedVersion: s.ExpectedVersion, AllocationID: s.AllocationID, Override: s.Override,
		UserID: s.UserID, ReasonCode: s.ReasonCode,
	}
	var p []string
	if r := processors.CheckShape(&tx, processors.Limits{}); r != nil {
		p = append(p, r.Message)
	}
	if s.CountTaskID != "" {
		if msg := api.CheckCountTaskID(s.Type, s.CountTaskID); msg != "" {
			p = append(p, msg)
		}
	}
	if !s.At.IsZero() && (s.At.Year() < 2000 || s.At.Year() > 2200) {
		p = append(p, fmt.Sprintf("scan time %s is outside the years 2000-2200: check the device clock", s.At.Format(time.RFC3339)))
	}
	if len(p) > 0 {
		return &ValidationError{What: "scan", Problems: p}
	}
	return nil
}

// scanLine is a scan as read from a line of input: the upload's
// transaction as the server decodes it (pointers tell a missing field from
// a zero one: a CYCLE_COUNT without quantity must not count 0), with the
// two fields the Device sets read as any JSON at all, to refuse them
// whatever they hold.
type scanLine struct {
	api.UploadTransactionFields
	TransactionID json.RawMessage `json:"transactionId"`
	Timestamp     json.RawMessage `json:"timestamp"`
}

// ParseScan reads one scan from JSON in the upload's transaction shape
// without transactionId and timestamp. Unknown fields, a missing required
// field, a non-integer number and the fields the Device sets are errors;
// optional fields may be null. The scan is also validated (Validate). It
// returns a *ValidationError matching ErrInvalidScan listing every problem.
func ParseScan(line []byte) (Scan, error) {
	var l scanLine
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return Scan{}, &ValidationError{What: "scan", Problems: []string{describeJSONError(err)}}
	}
	if dec.More() {
		return Scan{}, &ValidationError{What: "scan", Problems: []string{"more than one JSON value on the line"}}
	}
	var p []string
	if l.TransactionID != nil {
		p = append(p, "transactionId is set by the scanner when it reads the line: leave it out")
	}
	if l.Timestamp != nil {
		p = append(p, "timestamp is set by the scanner when it reads the line: leave it out")
	}
	str := func(name string, v *string, required bool) string {
		if v == nil {
			if required {
				p = append(p, name+" is required")
			}
			return ""
		}
		return *v
	}
	num := func(name string, raw *json.RawMessage) *int64 {
		if raw == nil || string(*raw) == "null" {
			return nil
		}
		var n int64
		if err := json.Unmarshal(*raw, &n); err != nil {
			p = append(p, fmt.Sprintf("%s must be a whole number, got %s", name, *raw))
			return nil
		}
		return &n
	}
	s := Scan{
		Type:         str("type", l.Type, true),
		WarehouseID:  str("warehouseId", l.WarehouseID, true),
		ItemID:       str("itemId", l.ItemID, true),
		LocationID:   str("locationId", l.LocationID, true),
		LotNumber:    str("lotNumber", l.LotNumber, false),
		ToLocationID: str("toLocationId", l.ToLocationID, false),
		AllocationID: str("allocationId", l.AllocationID, false),
		UserID:       str("userId", l.UserID, false),
		ReasonCode:   str("reasonCode", l.ReasonCode, false),
		CountTaskID:  str("countTaskId", l.CountTaskID, false),
		Override:     l.Override != nil && *l.Override,
	}
	if l.Quantity == nil || string(*l.Quantity) == "null" {
		p = append(p, "quantity is required")
	} else if q := num("quantity", l.Quantity); q != nil {
		s.Quantity = *q
	}
	s.ExpectedVersion = num("expectedVersion", l.ExpectedVersion)
	if len(p) == 0 {
		var ve *ValidationError
		if err := s.Validate(); errors.As(err, &ve) {
			p = ve.Problems
		}
	}
	if len(p) > 0 {
		return Scan{}, &ValidationError{What: "scan", Problems: p}
	}
	return s, nil
}

// describeJSONError turns decoder errors into messages that name the field.
func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s must be a %s, got a JSON %s", te.Field, te.Type.String(), te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("not valid JSON (at byte %d): %v", se.Offset, se)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "not valid JSON: the object is cut short"
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if msg == "EOF" {
		return "empty line"
	}
	return msg
}
