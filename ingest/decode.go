package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/processors"
)

// Limits of one upload.
const (
	// MaxBodyBytes bounds a POST /v1/transactions body (413 beyond).
	MaxBodyBytes = api.MaxBodyBytes
	// MaxTransactions bounds the transactions of one upload (413 beyond).
	MaxTransactions = api.MaxTransactions
)

// Upload is the decoded envelope of POST /v1/transactions.
type Upload struct {
	ScannerID    string
	SentAt       time.Time
	Transactions []json.RawMessage
	// DeviceRaw is the optional "device" object (a device report, as a
	// heartbeat's body); Device is it decoded (decodeUploadDevice).
	DeviceRaw json.RawMessage
	Device    *processors.DeviceReport

	// plain holds each transaction's values when the plain-form scanner
	// read the whole body (plain[i] is Transactions[i]); nil otherwise.
	plain []plainTx
}

// RequestError is a whole-request failure: the status and the error body.
type RequestError struct {
	Status  int
	Code    api.ErrorCode
	Message string
}

func (e *RequestError) Error() string { return string(e.Code) + ": " + e.Message }

func badRequest(format string, args ...any) *RequestError {
	return &RequestError{Status: 400, Code: api.CodeInvalidRequest, Message: fmt.Sprintf(format, args...)}
}

// DecodeUpload parses and checks the envelope. Each transaction is left raw
// and decoded on its own (DecodeTransaction), so one bad transaction is
// rejected without failing the batch.
func DecodeUpload(body []byte) (Upload, *RequestError) {
	var env api.UploadRequestFields
	var plain []plainTx
	var ok bool
	if env.ScannerID, env.SentAt, env.Transactions, env.Device, plain, ok = fastEnvelope(body); !ok {
		if err := strictUnmarshal(body, &env); err != nil {
			return Upload{}, badRequest("malformed request body: %s", describeJSONError(err))
		}
	}
	return checkUpload(&env, plain)
}

// checkUpload is DecodeUpload after the JSON: the envelope's fields and
// the transactions' count.
func checkUpload(env *api.UploadRequestFields, plain []plainTx) (Upload, *RequestError) {
	if env.ScannerID == nil || strings.TrimSpace(*env.ScannerID) == "" {
		return Upload{}, badRequest("scannerId is required")
	}
	if !api.PrintableID(*env.ScannerID) {
		return Upload{}, badRequest("scannerId must be a printable id of at most 128 bytes")
	}
	if env.SentAt == nil {
		return Upload{}, badRequest("sentAt is required (the device clock when the request was sent, RFC 3339)")
	}
	sentAt, err := parseTime(*env.SentAt)
	if err != nil {
		return Upload{}, badRequest("sentAt: %v", err)
	}
	if env.Transactions == nil {
		return Upload{}, badRequest("transactions is required (an array of 1 to %d transactions)", MaxTransactions)
	}
	if len(env.Transactions) == 0 {
		return Upload{}, badRequest("transactions is empty: send 1 to %d transactions", MaxTransactions)
	}
	if len(env.Transactions) > MaxTransactions {
		return Upload{}, &RequestError{Status: 413, Code: api.CodeTooManyTransactions,
			Message: fmt.Sprintf("%d transactions in one request; the limit is %d: split the backlog into several requests", len(env.Transactions), MaxTransactions)}
	}
	// The scanner id is kept beyond the request (the fleet's record of
	// the scanner): a copy, not a slice of the body.
	return Upload{ScannerID: strings.Clone(*env.ScannerID), SentAt: sentAt, Transactions: env.Transactions, DeviceRaw: env.Device, plain: plain}, nil
}

// TxRejection is a per-transaction rejection decided at ingest.
type TxRejection = processors.Rejection

// TimeBounds are the limits on a transaction's scan time relative to its
// request's sentAt (both device clock).
type TimeBounds struct {
	// MaxFuture: how far after sentAt a scan may claim to be (default 1
	// minute): a scan cannot happen after the upload that carries it.
	MaxFuture time.Duration
	// MaxAge: how far before sentAt a scan may be (default 30 days); older
	// is not an offline backlog but a broken clock.
	MaxAge time.Duration
}

func (b TimeBounds) withDefaults() TimeBounds {
	if b.MaxFuture <= 0 {
		b.MaxFuture = time.Minute
	}
	if b.MaxAge <= 0 {
		b.MaxAge = 30 * 24 * time.Hour
	}
	return b
}

// DecodeTransaction decodes one raw transaction of an upload (its wire
// form, api.UploadTransactionFields) into the domain form, with its corrected time and body hash. It returns the
// transactionId it could read even when it rejects, so the result can name
// the transaction.
func DecodeTransaction(raw json.RawMessage, up *Upload, receivedAt time.Time, bounds TimeBounds) (processors.Transaction, string, *TxRejection) {
	j, ok := fastTransaction(raw)
	if !ok {
		if err := strictUnmarshal(raw, &j); err != nil {
			return processors.Transaction{}, looseID(raw), &TxRejection{Code: processors.CodeInvalidTransaction,
				Message: "malformed transaction: " + describeJSONError(err)}
		}
	}
	return checkTransaction(&j, up, receivedAt, bounds)
}

// transaction is DecodeTransaction of the upload's i-th transaction,
// from the values DecodeUpload's scan already read when it read them.
func (up *Upload) transaction(i int, receivedAt time.Time, bounds TimeBounds) (processors.Transaction, string, *TxRejection) {
	if up.plain == nil {
		return DecodeTransaction(up.Transactions[i], up, receivedAt, bounds)
	}
	j := up.plain[i].fields()
	return checkTransaction(&j, up, receivedAt, bounds)
}

// checkTransaction is DecodeTransaction after the JSON: the required
// fields, the times and the numbers.
func checkTransaction(j *api.UploadTransactionFields, up *Upload, receivedAt time.Time, bounds TimeBounds) (processors.Transaction, string, *TxRejection) {
	bounds = bounds.withDefaults()
	id := deref(j.TransactionID)
	inv := func(format string, args ...any) (processors.Transaction, string, *TxRejection) {
		return processors.Transaction{}, id, &TxRejection{Code: processors.CodeInvalidTransaction, Message: fmt.Sprintf(format, args...)}
	}
	for _, f := range []struct {
		name string
		v    any
	}{{"transactionId", j.TransactionID}, {"type", j.Type}, {"timestamp", j.Timestamp}, {"warehouseId", j.WarehouseID},
		{"itemId", j.ItemID}, {"locationId", j.LocationID}, {"quantity", j.Quantity}} {
		if isNil(f.v) {
			return inv("%s is required", f.name)
		}
	}
	ts, err := parseTime(*j.Timestamp)
	if err != nil {
		return inv("timestamp: %v", err)
	}
	if ts.After(up.SentAt.Add(bounds.MaxFuture)) {
		return inv("timestamp %s is %s after the request's sentAt %s: a scan cannot be later than its upload; check the device clock",
			*j.Timestamp, ts.Sub(up.SentAt).Round(time.Second), up.SentAt.Format(time.RFC3339Nano))
	}
	if ts.Before(up.SentAt.Add(-bounds.MaxAge)) {
		return inv("timestamp %s is more than %s before the request's sentAt; older scans are not accepted, check the device clock",
			*j.Timestamp, bounds.MaxAge)
	}
	qty, rej := parseInteger("quantity", *j.Quantity)
	if rej != nil {
		return processors.Transaction{}, id, rej
	}
	tx := processors.Transaction{
		TransactionID: id,
		Type:          processors.TxType(*j.Type),
		WarehouseID:   *j.WarehouseID,
		ItemID:        *j.ItemID,
		LocationID:    *j.LocationID,
		LotNumber:     deref(j.LotNumber),
		Quantity:      qty,
		ToLocationID:  deref(j.ToLocationID),
		AllocationID:  deref(j.AllocationID),
		Override:      j.Override != nil && *j.Override,
		UserID:        deref(j.UserID),
		ReasonCode:    deref(j.ReasonCode),
		ScannerID:     up.ScannerID,

		DeviceTimestamp: ts,
		// The device's offset is receive time − sentAt; a scan's
		// corrected time is its timestamp shifted by it.
		CorrectedTimestamp: ts.Add(receivedAt.Sub(up.SentAt)).Truncate(time.Millisecond),
		SentAt:             up.SentAt,
		ReceivedAt:         receivedAt.Truncate(time.Millisecond),
	}
	if j.ExpectedVersion != nil {
		v, rej := parseInteger("expectedVersion", *j.ExpectedVersion)
		if rej != nil {
			rej.Code = processors.CodeInvalidTransaction
			return processors.Transaction{}, id, rej
		}
		tx.ExpectedVersion = &v
	}
	if j.CountTaskID != nil {
		if msg := api.CheckCountTaskID(string(tx.Type), *j.CountTaskID); msg != "" {
			return inv("%s", msg)
		}
		tx.CountTaskID = *j.CountTaskID
	}
	tx.BodyHash = tx.Hash()
	return tx, id, nil
}

// parseInteger reads a JSON number that must be a whole number. A whole
// number written with a fraction or exponent (95.0, 1e2) is accepted; a
// whole number beyond int64 is an absurd quantity; anything else (a string,
// a fraction) is malformed.
func parseInteger(field string, raw json.RawMessage) (int64, *TxRejection) {
	text := strings.TrimSpace(string(raw))
	if text == "" || !(text[0] == '-' || text[0] >= '0' && text[0] <= '9') {
		return 0, &TxRejection{Code: processors.CodeInvalidTransaction, Message: fmt.Sprintf("%s must be a number, got %s", field, text)}
	}
	n := json.Number(text)
	if v, err := n.Int64(); err == nil {
		return v, nil
	}
	f, ok := new(big.Float).SetString(text)
	if !ok || !f.IsInt() {
		return 0, &TxRejection{Code: processors.CodeInvalidTransaction, Message: fmt.Sprintf("%s must be a whole number (an integer), got %s", field, text)}
	}
	if v, acc := f.Int64(); acc == big.Exact {
		return v, nil
	}
	return 0, &TxRejection{Code: processors.CodeUnreasonableQuantity, Message: fmt.Sprintf("%s %s is out of range", field, text)}
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time such as 2026-11-26T10:30:00.123Z", s)
	}
	if t.Year() < 2000 || t.Year() > 2200 {
		return time.Time{}, fmt.Errorf("%q is outside the years 2000-2200", s)
	}
	return t.UTC(), nil
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if len(bytes.TrimSpace(data[dec.InputOffset():])) != 0 {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// describeJSONError turns decoder errors into messages that name the field.
func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("field %q must be %s, got a JSON %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return fmt.Sprintf("expected %s, got a JSON %s", jsonKind(te.Type.Kind().String()), te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, err)
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "json: unknown field ") {
		return "unknown field " + strings.TrimPrefix(msg, "json: unknown field ")
	}
	if errors.Is(err, errEOF) || msg == "EOF" {
		return "empty body"
	}
	return strings.TrimPrefix(msg, "json: ")
}

var errEOF = errors.New("EOF")

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	case "ptr":
		return "a value of another type"
	}
	return "a " + goKind
}

// looseID extracts transactionId from a transaction that failed strict
// decoding, so its rejection can still name it.
func looseID(raw json.RawMessage) string {
	var j struct {
		ID any `json:"transactionId"`
	}
	if json.Unmarshal(raw, &j) != nil {
		return ""
	}
	s, _ := j.ID.(string)
	return s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func isNil(v any) bool {
	switch p := v.(type) {
	case *string:
		return p == nil
	case *json.RawMessage:
		return p == nil
	}
	return v == nil
}
