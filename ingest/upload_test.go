package ingest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/auth"
	"github.com/invsync/invsync/ingest"
	"github.com/invsync/invsync/processors"
)

// TestUploadRequestErrors: every whole-request failure gets its status,
// a code, a message naming the problem, and writes nothing.
func TestUploadRequestErrors(t *testing.T) {
	valid := string(encode(t, envelope(tx("t-1"))))
	var tooMany []any
	for i := range ingest.MaxTransactions + 1 {
		tooMany = append(tooMany, tx(fmt.Sprintf("t-%04d", i)))
	}
	// A valid upload padded with whitespace one byte past the limit: the
	// size alone makes it a 413.
	oversize := valid + strings.Repeat(" ", ingest.MaxBodyBytes+1-len(valid))

	cases := []struct {
		name   string
		query  string
		body   any
		status int
		code   string
		msg    []string
	}{
		{"empty body", "", "", 400, "INVALID_REQUEST", []string{"empty body"}},
		{"not JSON", "", "hello", 400, "INVALID_REQUEST", []string{"invalid JSON"}},
		{"truncated JSON", "", `{"scannerId": "SCANNER-08", "sentAt": `, 400, "INVALID_REQUEST", []string{"malformed"}},
		{"syntax error", "", `{"scannerId": "SCANNER-08",, }`, 400, "INVALID_REQUEST", []string{"invalid JSON"}},
		{"two JSON values", "", valid + valid, 400, "INVALID_REQUEST", []string{"trailing data"}},
		{"body is an array", "", `[]`, 400, "INVALID_REQUEST", []string{"object", "array"}},
		{"body is a string", "", `"upload"`, 400, "INVALID_REQUEST", []string{"object", "string"}},
		{"body is null", "", `null`, 400, "INVALID_REQUEST", []string{"scannerId is required"}},

		{"transactions is an object", "", override(envelope(), "transactions", tx("t-1")), 400, "INVALID_REQUEST", []string{`"transactions"`, "array", "object"}},
		{"transactions is a string", "", override(envelope(), "transactions", "t-1"), 400, "INVALID_REQUEST", []string{`"transactions"`, "array"}},
		{"sentAt is a number", "", override(envelope(tx("t-1")), "sentAt", 1764153000123), 400, "INVALID_REQUEST", []string{`"sentAt"`, "string", "number"}},
		{"scannerId is a number", "", override(envelope(tx("t-1")), "scannerId", 8), 400, "INVALID_REQUEST", []string{`"scannerId"`, "string"}},
		{"unknown top-level field", "", override(envelope(tx("t-1")), "battery", 80), 400, "INVALID_REQUEST", []string{"unknown field", "battery"}},

		{"missing scannerId", "", override(envelope(tx("t-1")), "scannerId", absent), 400, "INVALID_REQUEST", []string{"scannerId is required"}},
		{"null scannerId", "", override(envelope(tx("t-1")), "scannerId", nil), 400, "INVALID_REQUEST", []string{"scannerId is required"}},
		{"blank scannerId", "", override(envelope(tx("t-1")), "scannerId", "   "), 400, "INVALID_REQUEST", []string{"scannerId is required"}},
		{"scannerId too long", "", override(envelope(tx("t-1")), "scannerId", strings.Repeat("S", 129)), 400, "INVALID_REQUEST", []string{"scannerId", "128"}},
		{"scannerId with a control character", "", override(envelope(tx("t-1")), "scannerId", "SCANNER\n08"), 400, "INVALID_REQUEST", []string{"scannerId", "printable"}},

		{"missing sentAt", "", override(envelope(tx("t-1")), "sentAt", absent), 400, "INVALID_REQUEST", []string{"sentAt is required"}},
		{"null sentAt", "", override(envelope(tx("t-1")), "sentAt", nil), 400, "INVALID_REQUEST", []string{"sentAt is required"}},
		{"sentAt not a time", "", override(envelope(tx("t-1")), "sentAt", "yesterday"), 400, "INVALID_REQUEST", []string{"sentAt", "RFC 3339"}},
		{"sentAt with a space", "", override(envelope(tx("t-1")), "sentAt", "2026-11-26 10:30:00Z"), 400, "INVALID_REQUEST", []string{"sentAt", "RFC 3339"}},
		{"sentAt without an offset", "", override(envelope(tx("t-1")), "sentAt", "2026-11-26T10:30:00"), 400, "INVALID_REQUEST", []string{"sentAt", "RFC 3339"}},
		{"sentAt as a date", "", override(envelope(tx("t-1")), "sentAt", "2026-11-26"), 400, "INVALID_REQUEST", []string{"sentAt", "RFC 3339"}},
		{"sentAt as epoch text", "", override(envelope(tx("t-1")), "sentAt", "1764153000"), 400, "INVALID_REQUEST", []string{"sentAt", "RFC 3339"}},
		{"sentAt in 1970", "", override(envelope(tx("t-1")), "sentAt", "1970-01-01T00:00:00Z"), 400, "INVALID_REQUEST", []string{"sentAt", "2000-2200"}},

		{"missing transactions", "", override(envelope(), "transactions", absent), 400, "INVALID_REQUEST", []string{"transactions is required"}},
		{"null transactions", "", override(envelope(), "transactions", nil), 400, "INVALID_REQUEST", []string{"transactions is required"}},
		{"empty transactions", "", envelope(), 400, "INVALID_REQUEST", []string{"transactions is empty"}},

		{"more than 1000 transactions", "", envelope(tooMany...), 413, "TOO_MANY_TRANSACTIONS", []string{"1001", "1000"}},
		{"body over 1 MiB", "", oversize, 413, "BODY_TOO_LARGE", []string{"1048576"}},

		{"wait=bogus", "?wait=bogus", envelope(tx("t-1")), 400, "INVALID_REQUEST", []string{"wait", "bogus"}},
		{"wait=APPLIED", "?wait=APPLIED", envelope(tx("t-1")), 400, "INVALID_REQUEST", []string{"wait"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			r := h.post(c.query, c.body)
			assertError(t, r, c.status, c.code, c.msg...)
			h.assertUntouched(t, "t-1")
		})
	}
}

// TestUploadTrailingGarbageRejected: a body that is one JSON object followed
// by a stray closing bracket is not valid JSON and must be a 400, like any
// other trailing data.
func TestUploadTrailingGarbageRejected(t *testing.T) {
	valid := string(encode(t, envelope(tx("t-1"))))
	for _, tail := range []string{"]", "}", " ]", "\n}"} {
		t.Run(fmt.Sprintf("%q", tail), func(t *testing.T) {
			h := newHarness(t)
			assertError(t, h.post("", valid+tail), 400, "INVALID_REQUEST", "trailing data")
			h.assertUntouched(t, "t-1")
		})
	}
}

// TestUploadSizeLimitsInclusive: exactly 1000 transactions and exactly
// 1 MiB are allowed, every result in request order.
func TestUploadSizeLimitsInclusive(t *testing.T) {
	t.Run("1000 transactions", func(t *testing.T) {
		h := newHarness(t)
		var txs []any
		var want []string
		for i := range ingest.MaxTransactions {
			id := fmt.Sprintf("t-%04d", i)
			txs = append(txs, tx(id))
			want = append(want, id, string(api.StatusAccepted))
		}
		assertStatuses(t, h.upload("", envelope(txs...)), want...)
		if n := len(h.pub.ids()); n != ingest.MaxTransactions {
			t.Errorf("published %d, want %d", n, ingest.MaxTransactions)
		}
	})
	t.Run("1 MiB body", func(t *testing.T) {
		h := newHarness(t)
		valid := string(encode(t, envelope(tx("t-1"))))
		body := valid + strings.Repeat(" ", ingest.MaxBodyBytes-len(valid))
		assertStatuses(t, h.upload("", body), "t-1", string(api.StatusAccepted))
	})
}

// A transaction with its neighbours, to show a rejection never blocks the
// rest of the batch and results keep request order.
const okBefore, okAfter = "ok-before", "ok-after"

type rejectCase struct {
	name string
	tx   any    // the transaction as sent
	id   string // the transactionId the result should carry
	code string
	msg  []string
}

// checkRejected sends c.tx alone (nothing may be written) and then between
// two valid transactions (only those are written, results in order).
func checkRejected(t *testing.T, c rejectCase) {
	t.Helper()
	h := newHarness(t)
	res := h.upload("", envelope(c.tx))
	if len(res) != 1 {
		t.Fatalf("%d results, want 1", len(res))
	}
	assertRejected(t, res[0], c.id, c.code, c.msg...)
	h.assertUntouched(t, c.id)
	if n := h.pub.produceCalls(); n != 0 {
		t.Errorf("Produce called %d times for a request with nothing to write", n)
	}

	res = h.upload("", envelope(tx(okBefore), c.tx, tx(okAfter)))
	if len(res) != 3 {
		t.Fatalf("%d results, want 3", len(res))
	}
	assertStatuses(t, []api.Result{res[0], res[2]}, okBefore, string(api.StatusAccepted), okAfter, string(api.StatusAccepted))
	assertRejected(t, res[1], c.id, c.code, c.msg...)
	h.assertPublished(t, okBefore, okAfter)
}

// TestUploadTransactionRejections: every ingest rejection code, each with a
// message naming the problem.
func TestUploadTransactionRejections(t *testing.T) {
	const id = "bad-1"
	bad := func(kv ...any) map[string]any { return tx(id, kv...) }
	const inv, qty = processors.CodeInvalidTransaction, processors.CodeUnreasonableQuantity
	cases := []rejectCase{
		// Malformed or wrongly typed transactions.
		{"unknown transaction field", bad("colour", "red"), id, inv, []string{"unknown field", "colour"}},
		{"misspelt field", bad("quantity", absent, "qty", 5), id, inv, []string{"unknown field", "qty"}},
		{"quantity as a boolean", bad("quantity", true), id, inv, []string{"quantity"}},
		{"timestamp as a number", bad("timestamp", 1764151202000), id, inv, []string{`"timestamp"`, "string", "number"}},
		{"transactionId as a number", tx("", "transactionId", 42), "", inv, []string{`"transactionId"`, "string", "number"}},
		{"warehouseId as an array", bad("warehouseId", []string{wh1}), id, inv, []string{`"warehouseId"`, "string", "array"}},
		{"override as a string", bad("override", "yes"), id, inv, []string{`"override"`, "boolean"}},
		{"expectedVersion fractional", bad("expectedVersion", 1.5), id, inv, []string{"expectedVersion", "integer"}},
		{"expectedVersion negative", bad("expectedVersion", -1), id, inv, []string{"expectedVersion", ">= 0"}},
		{"transaction is a number", raw(`42`), "", inv, []string{"object", "number"}},
		{"transaction is a string", raw(`"RECEIPT 5"`), "", inv, []string{"object", "string"}},
		{"transaction is null", raw(`null`), "", inv, []string{"transactionId is required"}},
		{"transaction is empty", raw(`{}`), "", inv, []string{"transactionId is required"}},

		// Missing required fields.
		{"missing transactionId", tx("", "transactionId", absent), "", inv, []string{"transactionId is required"}},
		{"empty transactionId", tx(""), "", inv, []string{"transactionId is required"}},
		{"missing type", bad("type", absent), id, inv, []string{"type is required"}},
		{"missing timestamp", bad("timestamp", absent), id, inv, []string{"timestamp is required"}},
		{"null timestamp", bad("timestamp", nil), id, inv, []string{"timestamp is required"}},
		{"missing warehouseId", bad("warehouseId", absent), id, inv, []string{"warehouseId is required"}},
		{"empty warehouseId", bad("warehouseId", ""), id, inv, []string{"warehouseId is required"}},
		{"missing itemId", bad("itemId", absent), id, inv, []string{"itemId is required"}},
		{"missing locationId", bad("locationId", absent), id, inv, []string{"locationId is required"}},
		{"missing quantity", bad("quantity", absent), id, inv, []string{"quantity is required"}},
		{"null quantity", bad("quantity", nil), id, inv, []string{"quantity is required"}},

		// Type codes and the quantity's sign for the type.
		{"unknown type code", bad("type", "TELEPORT"), id, inv, []string{"TELEPORT", "RECEIPT"}},
		{"lower-case type code", bad("type", "receipt"), id, inv, []string{"receipt"}},
		{"RECEIPT of 0", bad("quantity", 0), id, inv, []string{"RECEIPT", "> 0"}},
		{"PICK of -3", bad("type", "PICK", "quantity", -3), id, inv, []string{"PICK", "> 0"}},
		{"MOVE of 0", bad("type", "MOVE", "quantity", 0, "toLocationId", locB), id, inv, []string{"MOVE", "> 0"}},
		{"ADJUSTMENT of 0", bad("type", "ADJUSTMENT", "quantity", 0), id, inv, []string{"ADJUSTMENT", "0"}},
		{"CYCLE_COUNT of -1", bad("type", "CYCLE_COUNT", "quantity", -1), id, inv, []string{"CYCLE_COUNT", ">= 0"}},
		{"MOVE without toLocationId", bad("type", "MOVE"), id, inv, []string{"toLocationId is required"}},
		{"MOVE to the same location", bad("type", "MOVE", "toLocationId", locA), id, inv, []string{"toLocationId", locA}},
		{"toLocationId on a RECEIPT", bad("toLocationId", locB), id, inv, []string{"toLocationId", "RECEIPT"}},
		{"allocationId on a RECEIPT", bad("allocationId", "ALLOC-1"), id, inv, []string{"allocationId", "RECEIPT"}},
		{"transactionId too long", tx(strings.Repeat("x", 129)), strings.Repeat("x", 129), inv, []string{"transactionId", "128"}},
		{"control character in itemId", bad("itemId", "ITEM\x0112345"), id, inv, []string{"itemId", "control character"}},
		{"lot-tracked item without lotNumber", bad("itemId", lotItem), id, inv, []string{lotItem, "lotNumber is required"}},
		{"lotNumber on an item not lot-tracked", bad("lotNumber", "LOT-1"), id, inv, []string{plainItem, "not lot-tracked", "LOT-1"}},

		// The catalog.
		{"unknown item", bad("itemId", "ITEM-99999"), id, processors.CodeUnknownItem, []string{"ITEM-99999"}},
		{"unknown warehouse", bad("warehouseId", "WH-999"), id, processors.CodeUnknownWarehouse, []string{"WH-999"}},
		{"unknown location", bad("locationId", "Z-99-99"), id, processors.CodeUnknownLocation, []string{"Z-99-99", wh1}},
		{"location of another warehouse", bad("warehouseId", wh2), id, processors.CodeUnknownLocation, []string{locA, wh2}},
		{"MOVE to an unknown location", bad("type", "MOVE", "toLocationId", "Z-99-99"), id, processors.CodeUnknownLocation, []string{"toLocationId", "Z-99-99"}},

		// Quantities.
		{"over the item's limit", bad("itemId", smallItem, "quantity", 51), id, qty, []string{"51", "50", smallItem}},
		{"over the default limit", bad("quantity", 100001), id, qty, []string{"100001", "100000"}},
		{"negative ADJUSTMENT over the limit", bad("type", "ADJUSTMENT", "quantity", -100001), id, qty, []string{"-100001"}},
		{"1e30", bad("quantity", raw("1e30")), id, qty, []string{"1e30"}},
		{"-1e30 ADJUSTMENT", bad("type", "ADJUSTMENT", "quantity", raw("-1e30")), id, qty, []string{"-1e30"}},
		{"99999999999999999999", bad("quantity", raw("99999999999999999999")), id, qty, []string{"99999999999999999999"}},
		{"max int64", bad("quantity", raw("9223372036854775807")), id, qty, []string{"9223372036854775807"}},
		{"min int64 ADJUSTMENT", bad("type", "ADJUSTMENT", "quantity", raw("-9223372036854775808")), id, qty, []string{"-9223372036854775808"}},
		{"fractional quantity", bad("quantity", 2.5), id, inv, []string{"quantity", "whole number", "2.5"}},
		{"tiny fractional quantity", bad("quantity", raw("1e-3")), id, inv, []string{"quantity", "whole number"}},
		{"fractional CYCLE_COUNT", bad("type", "CYCLE_COUNT", "quantity", raw("94.99")), id, inv, []string{"whole number", "94.99"}},

		// Times: the scan is checked against its request's sentAt.
		{"timestamp 2 days after sentAt", bad("timestamp", "2026-11-28T10:30:00Z"), id, inv, []string{"timestamp", "after the request's sentAt"}},
		{"timestamp 2 minutes after sentAt", bad("timestamp", "2026-11-26T10:32:01Z"), id, inv, []string{"timestamp", "after the request's sentAt"}},
		{"timestamp 31 days before sentAt", bad("timestamp", "2026-10-26T10:30:00Z"), id, inv, []string{"timestamp", "before the request's sentAt"}},
		{"timestamp years before sentAt", bad("timestamp", "2001-01-01T00:00:00Z"), id, inv, []string{"timestamp", "before the request's sentAt"}},
		{"timestamp with a space", bad("timestamp", "2026-11-26 10:00:02Z"), id, inv, []string{"timestamp", "RFC 3339"}},
		{"timestamp without an offset", bad("timestamp", "2026-11-26T10:00:02"), id, inv, []string{"timestamp", "RFC 3339"}},
		{"timestamp as a date", bad("timestamp", "2026-11-26"), id, inv, []string{"timestamp", "RFC 3339"}},
		{"timestamp in US format", bad("timestamp", "11/26/2026 10:00:02"), id, inv, []string{"timestamp", "RFC 3339"}},
		{"timestamp as epoch text", bad("timestamp", "1764151202"), id, inv, []string{"timestamp", "RFC 3339"}},
		{"empty timestamp", bad("timestamp", ""), id, inv, []string{"timestamp", "RFC 3339"}},
		{"timestamp in 1999", bad("timestamp", "1999-12-31T23:59:59Z"), id, inv, []string{"timestamp", "2000-2200"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkRejected(t, c) })
	}
}

// TestUploadNumbersMustBeJSONNumbers: quantity and expectedVersion are JSON
// numbers. A string that happens to hold digits is a wrong type and must be
// rejected, and the message must name the field and say it must be a number
// (not "a string").
func TestUploadNumbersMustBeJSONNumbers(t *testing.T) {
	const id = "bad-1"
	inv := processors.CodeInvalidTransaction
	for _, c := range []rejectCase{
		{"quantity as a numeric string", tx(id, "quantity", "5"), id, inv, []string{"quantity", "number"}},
		{"quantity as a non-numeric string", tx(id, "quantity", "five"), id, inv, []string{"quantity", "number"}},
		{"quantity as a boolean says number", tx(id, "quantity", true), id, inv, []string{"quantity", "must be a number"}},
		{"quantity as an object says number", tx(id, "quantity", map[string]int{"value": 5}), id, inv, []string{"quantity", "must be a number"}},
		{"expectedVersion as a numeric string", tx(id, "expectedVersion", "17"), id, inv, []string{"expectedVersion", "number"}},
	} {
		t.Run(c.name, func(t *testing.T) { checkRejected(t, c) })
	}
}

// TestUploadWholeQuantityWithDecimalPoint: 95.0 and 1e2 are whole numbers
// well inside the limit. Whether ingest accepts them as 95 and 100 or
// rejects them as malformed, they are not UNREASONABLE_QUANTITY "out of
// range".
func TestUploadWholeQuantityWithDecimalPoint(t *testing.T) {
	for _, c := range []struct {
		lit  string
		want int64
	}{{"95.0", 95}, {"1e2", 100}, {"5E0", 5}} {
		t.Run(c.lit, func(t *testing.T) {
			h := newHarness(t)
			res := h.upload("", envelope(tx("t-1", "quantity", raw(c.lit))))
			switch res[0].Status {
			case api.StatusAccepted:
				if got, _ := h.pub.byID("t-1"); got.Quantity != c.want {
					t.Errorf("accepted with quantity %d, want %d", got.Quantity, c.want)
				}
			case api.StatusRejected:
				if deref(res[0].Code) != processors.CodeInvalidTransaction {
					t.Errorf("quantity %s rejected %s (%q), want accepted or INVALID_TRANSACTION", c.lit, deref(res[0].Code), deref(res[0].Message))
				}
			default:
				t.Errorf("status %q", res[0].Status)
			}
		})
	}
}

// TestUploadTimestampsAccepted: scans up to 30 days before sentAt and up to
// a minute after it are accepted.
func TestUploadTimestampsAccepted(t *testing.T) {
	for _, ts := range []string{
		sentAt,                     // at the upload
		"2026-11-26T10:30:30.123Z", // 30 s after: clocks drift within a request
		"2026-11-26T10:31:00.123Z", // exactly the 1-minute tolerance
		"2026-10-28T10:30:00.123Z", // 29 days before
		"2026-10-27T10:30:00.123Z", // exactly 30 days before
		"2026-11-26T12:00:02+01:30",
	} {
		t.Run(ts, func(t *testing.T) {
			h := newHarness(t)
			assertStatuses(t, h.upload("", envelope(tx("t-1", "timestamp", ts))), "t-1", string(api.StatusAccepted))
			got, _ := h.pub.byID("t-1")
			if want := mustTime(t, ts); !got.DeviceTimestamp.Equal(want) {
				t.Errorf("DeviceTimestamp %v, want %v", got.DeviceTimestamp, want)
			}
		})
	}
}

// TestUploadClockSkewCorrected: a device clock days off the server's is
// accepted, and each scan's corrected time is its timestamp shifted by
// receivedAt − sentAt.
func TestUploadClockSkewCorrected(t *testing.T) {
	for _, c := range []struct {
		name     string
		sentAt   string
		ts       string
		wantCorr time.Time
	}{
		{"in sync", sentAt, scanTime, mustTime(t, scanTime).Add(377 * time.Millisecond)},
		{"3 days behind", "2026-11-23T10:30:00.000Z", "2026-11-23T09:30:00.000Z", serverNow.Add(-time.Hour)},
		{"5 days ahead", "2026-12-01T10:30:00.500Z", "2026-12-01T10:29:00.000Z", serverNow.Add(-time.Minute - 500*time.Millisecond)},
		{"20 days behind with a 10-day-old scan", "2026-11-06T10:30:00.500Z", "2026-10-27T10:30:00.500Z", serverNow.Add(-10 * 24 * time.Hour)},
		{"a year ahead", "2027-11-26T10:30:00.500Z", "2027-11-26T10:00:00.500Z", serverNow.Add(-30 * time.Minute)},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			body := override(envelope(tx("t-1", "timestamp", c.ts)), "sentAt", c.sentAt)
			assertStatuses(t, h.upload("", body), "t-1", string(api.StatusAccepted))
			got, ok := h.pub.byID("t-1")
			if !ok {
				t.Fatal("not published")
			}
			if !got.CorrectedTimestamp.Equal(c.wantCorr) {
				t.Errorf("CorrectedTimestamp %v, want %v", got.CorrectedTimestamp, c.wantCorr)
			}
			sent, ts := mustTime(t, c.sentAt), mustTime(t, c.ts)
			if want := ts.Add(serverNow.Sub(sent)); !got.CorrectedTimestamp.Equal(want) {
				t.Errorf("CorrectedTimestamp %v, want timestamp + (receivedAt − sentAt) = %v", got.CorrectedTimestamp, want)
			}
			if !got.DeviceTimestamp.Equal(ts) || !got.SentAt.Equal(sent) || !got.ReceivedAt.Equal(serverNow) {
				t.Errorf("device %v sent %v received %v, want %v %v %v", got.DeviceTimestamp, got.SentAt, got.ReceivedAt, ts, sent, serverNow)
			}
		})
	}
}

// TestUploadPublishesWhatWasSent: every field reaches the published
// transaction; the body hash is the transaction's Hash.
func TestUploadPublishesWhatWasSent(t *testing.T) {
	h := newHarness(t)
	pick := map[string]any{
		"transactionId": "0b6f1f0e-5c1a-4a57-9a3e-3f1f3d7e2a10", "type": "PICK", "timestamp": scanTime,
		"warehouseId": wh1, "itemId": lotItem, "locationId": locA, "lotNumber": "LOT-2024-089",
		"quantity": 95, "toLocationId": nil, "expectedVersion": 17, "allocationId": "ALLOC-1",
		"override": true, "userId": defaultUser, "reasonCode": "DAMAGED",
	}
	move := tx("move-1", "type", "MOVE", "toLocationId", locB, "quantity", 7, "expectedVersion", 0,
		"lotNumber", nil, "allocationId", nil, "reasonCode", nil, "override", false)
	adj := tx("adj-1", "type", "ADJUSTMENT", "quantity", -4)
	count := tx("count-1", "type", "CYCLE_COUNT", "quantity", 0)
	assertStatuses(t, h.upload("", envelope(pick, move, adj, count)),
		pick["transactionId"].(string), "accepted", "move-1", "accepted", "adj-1", "accepted", "count-1", "accepted")

	txs := h.pub.txs()
	if len(txs) != 4 {
		t.Fatalf("published %d, want 4", len(txs))
	}
	ev := int64(17)
	want := processors.Transaction{
		TransactionID: "0b6f1f0e-5c1a-4a57-9a3e-3f1f3d7e2a10", Type: processors.Pick, WarehouseID: wh1, ItemID: lotItem,
		LocationID: locA, LotNumber: "LOT-2024-089", Quantity: 95, ExpectedVersion: &ev, AllocationID: "ALLOC-1",
		Override: true, UserID: defaultUser, ReasonCode: "DAMAGED", ScannerID: scannerID,
		DeviceTimestamp: mustTime(t, scanTime), CorrectedTimestamp: mustTime(t, scanTime).Add(377 * time.Millisecond),
		SentAt: mustTime(t, sentAt), ReceivedAt: serverNow, Principal: auth.BootstrapAdminName,
	}
	want.BodyHash = want.Hash()
	if got := fmt.Sprintf("%+v", deref64(txs[0])); got != fmt.Sprintf("%+v", deref64(want)) {
		t.Errorf("published\n%s\nwant\n%s", got, fmt.Sprintf("%+v", deref64(want)))
	}
	for _, got := range txs {
		if !bytes.Equal(got.BodyHash, got.Hash()) {
			t.Errorf("%s: BodyHash is not tx.Hash()", got.TransactionID)
		}
	}
	if m := txs[1]; m.Type != processors.Move || m.ToLocationID != locB || m.Quantity != 7 || m.ExpectedVersion == nil || *m.ExpectedVersion != 0 || m.Override {
		t.Errorf("MOVE published as %+v", m)
	}
	if a := txs[2]; a.Quantity != -4 || a.ExpectedVersion != nil {
		t.Errorf("ADJUSTMENT published as %+v", a)
	}
	if c := txs[3]; c.Type != processors.CycleCount || c.Quantity != 0 {
		t.Errorf("CYCLE_COUNT published as %+v", c)
	}
}

// deref64 shows ExpectedVersion's value instead of its address.
func deref64(tx processors.Transaction) any {
	type alias processors.Transaction
	var ev any
	if tx.ExpectedVersion != nil {
		ev = *tx.ExpectedVersion
	}
	tx.ExpectedVersion = nil
	return struct {
		alias
		EV any
	}{alias(tx), ev}
}

// TestUploadResultsInRequestOrder: a mixed batch answers one result per
// transaction, in the order sent, and writes only the accepted ones, in
// that order.
func TestUploadResultsInRequestOrder(t *testing.T) {
	h := newHarness(t)
	res := h.upload("", envelope(
		tx("a"),
		tx("b", "itemId", "ITEM-99999"),
		tx("c", "type", "ADJUSTMENT", "quantity", -2),
		raw(`{"transactionId": "d", "oops": 1}`),
		tx("e", "quantity", raw("1e30")),
		tx("c"),
		tx("f", "type", "MOVE", "toLocationId", locB),
		tx("a"),
	))
	assertStatuses(t, res, "a", "accepted", "b", "rejected", "c", "accepted", "d", "rejected",
		"e", "rejected", "c", "rejected", "f", "accepted", "a", "duplicate")
	assertRejected(t, res[5], "c", processors.CodeIdempotencyMismatch, "twice")
	h.assertPublished(t, "a", "c", "f")
}

// TestUploadDuplicates: the same transaction again is "duplicate" and is
// not written again, however it comes back.
func TestUploadDuplicates(t *testing.T) {
	t.Run("resent in a later request while pending", func(t *testing.T) {
		h := newHarness(t)
		assertStatuses(t, h.upload("", envelope(tx("t-1"), tx("t-2"))), "t-1", "accepted", "t-2", "accepted")
		assertStatuses(t, h.upload("", envelope(tx("t-1"), tx("t-2"), tx("t-3"))), "t-1", "duplicate", "t-2", "duplicate", "t-3", "accepted")
		h.assertPublished(t, "t-1", "t-2", "t-3")
	})
	t.Run("resent with a new sentAt", func(t *testing.T) {
		// A device retrying its queue sends the same scans in a new
		// request: sentAt differs, the scans do not.
		h := newHarness(t)
		h.upload("", envelope(tx("t-1")))
		later := override(envelope(tx("t-1")), "sentAt", "2026-11-26T11:45:00Z")
		assertStatuses(t, h.upload("", later), "t-1", "duplicate")
		h.assertPublished(t, "t-1")
	})
	t.Run("twice in one request", func(t *testing.T) {
		h := newHarness(t)
		assertStatuses(t, h.upload("", envelope(tx("t-1"), tx("t-1"))), "t-1", "accepted", "t-1", "duplicate")
		h.assertPublished(t, "t-1")
	})
	t.Run("after it was applied", func(t *testing.T) {
		h := newHarness(t)
		h.upload("", envelope(tx("t-1")))
		published, _ := h.pub.byID("t-1")
		h.outcomes.emit(appliedOutcome(published, 5, 1))
		assertStatuses(t, h.upload("", envelope(tx("t-1"))), "t-1", "duplicate")
		h.assertPublished(t, "t-1")
	})
	t.Run("stored outcome, any time later", func(t *testing.T) {
		// Accepted long ago (another instance, before a restart): only
		// the processors' state knows it.
		h := newHarness(t)
		h.state.put(appliedOutcome(decodeAs(t, tx("t-1")), 5, 1))
		assertStatuses(t, h.upload("", envelope(tx("t-1"), tx("t-2"))), "t-1", "duplicate", "t-2", "accepted")
		h.assertPublished(t, "t-2")
	})
	t.Run("rejected by the processor is still a duplicate", func(t *testing.T) {
		h := newHarness(t)
		o := appliedOutcome(decodeAs(t, tx("t-1", "expectedVersion", 3)), 0, 0)
		o.Status, o.Code = processors.StatusRejected, processors.CodeVersionConflict
		h.state.put(o)
		assertStatuses(t, h.upload("", envelope(tx("t-1", "expectedVersion", 3))), "t-1", "duplicate")
		h.assertPublished(t)
	})
	t.Run("concurrent identical uploads", func(t *testing.T) {
		h := newHarness(t)
		body := envelope(tx("t-1"), tx("t-2"))
		var mu sync.Mutex
		count := map[string]int{}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				r := h.post("", body)
				var out api.UploadResponse
				if err := json.Unmarshal(r.body, &out); err != nil || r.status != http.StatusOK {
					t.Errorf("status %d: %s", r.status, r.body)
				}
				mu.Lock()
				for _, r := range out.Results {
					count[r.TransactionID+" "+string(r.Status)]++
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		// A request that finds a transaction reserved by another one whose
		// produce has not been acknowledged yet cannot call it a duplicate
		// (that produce may still fail): it answers accepted and produces
		// it too, which the processors' idempotency makes harmless. So
		// each is accepted at least once, every answer is accepted or
		// duplicate, and exactly the accepted answers were published.
		for _, id := range []string{"t-1", "t-2"} {
			if count[id+" accepted"] < 1 || count[id+" accepted"]+count[id+" duplicate"] != 8 {
				t.Errorf("results %v, want 8 answers for %s, accepted at least once and otherwise duplicate", count, id)
			}
		}
		published := h.pub.ids()
		if len(published) != count["t-1 accepted"]+count["t-2 accepted"] {
			t.Errorf("published %v, want one for each accepted answer (%v)", published, count)
		}
		for _, id := range published {
			if id != "t-1" && id != "t-2" {
				t.Errorf("published %s", id)
			}
		}
		// Once they are acknowledged, the same upload is all duplicates.
		assertStatuses(t, h.upload("", body), "t-1", "duplicate", "t-2", "duplicate")
		if n := len(h.pub.ids()); n != len(published) {
			t.Errorf("published %d after the settled repeat, want %d", n, len(published))
		}
	})
}

// TestUploadRepeatOfKnownTransactionWithinRequest: a transaction already
// accepted (pending or applied) that a device sends twice in its next
// request is a duplicate both times; the body is the same, so nothing
// about it is an IDEMPOTENCY_MISMATCH.
func TestUploadRepeatOfKnownTransactionWithinRequest(t *testing.T) {
	t.Run("pending", func(t *testing.T) {
		h := newHarness(t)
		h.upload("", envelope(tx("t-1")))
		assertStatuses(t, h.upload("", envelope(tx("t-1"), tx("t-1"))), "t-1", "duplicate", "t-1", "duplicate")
		h.assertPublished(t, "t-1")
	})
	t.Run("stored", func(t *testing.T) {
		h := newHarness(t)
		h.state.put(appliedOutcome(decodeAs(t, tx("t-1")), 5, 1))
		assertStatuses(t, h.upload("", envelope(tx("t-1"), tx("t-1"))), "t-1", "duplicate", "t-1", "duplicate")
		h.assertPublished(t)
	})
}

// TestUploadIdempotencyMismatch: a transactionId reused with another body is
// rejected, never written, and does not disturb the original.
func TestUploadIdempotencyMismatch(t *testing.T) {
	const code = processors.CodeIdempotencyMismatch
	t.Run("within one request", func(t *testing.T) {
		h := newHarness(t)
		res := h.upload("", envelope(tx("t-1"), tx("t-2"), tx("t-1", "quantity", 6)))
		assertStatuses(t, res[:2], "t-1", "accepted", "t-2", "accepted")
		assertRejected(t, res[2], "t-1", code, "t-1", "different bodies")
		h.assertPublished(t, "t-1", "t-2")
		if got, _ := h.pub.byID("t-1"); got.Quantity != 5 {
			t.Errorf("published quantity %d, want the first body's 5", got.Quantity)
		}
	})
	t.Run("against a pending one", func(t *testing.T) {
		h := newHarness(t)
		h.upload("", envelope(tx("t-1")))
		res := h.upload("", envelope(tx("t-1", "locationId", locB), tx("t-2")))
		assertRejected(t, res[0], "t-1", code, "t-1", "different body")
		assertStatuses(t, res[1:], "t-2", "accepted")
		// The original is still the one that counts.
		assertStatuses(t, h.upload("", envelope(tx("t-1"))), "t-1", "duplicate")
		h.assertPublished(t, "t-1", "t-2")
	})
	t.Run("against a stored outcome", func(t *testing.T) {
		h := newHarness(t)
		stored := appliedOutcome(decodeAs(t, tx("t-1")), 5, 1)
		h.state.put(stored)
		for _, changed := range []map[string]any{
			tx("t-1", "quantity", 50),
			tx("t-1", "timestamp", "2026-11-26T10:00:03.000Z"),
			tx("t-1", "userId", "someone_else"),
			tx("t-1", "expectedVersion", 0),
			tx("t-1", "reasonCode", "FOUND"),
		} {
			res := h.upload("", envelope(changed))
			assertRejected(t, res[0], "t-1", code, "t-1", "different body")
		}
		// A different scanner sending the same id is a different body too.
		res := h.upload("", override(envelope(tx("t-1")), "scannerId", "SCANNER-09"))
		assertRejected(t, res[0], "t-1", code)
		h.assertPublished(t)
		if o, _, _ := h.state.FindOutcome(t.Context(), "t-1"); o.Status != processors.StatusApplied || !bytes.Equal(o.BodyHash, stored.BodyHash) {
			t.Errorf("stored outcome changed: %+v", o)
		}
	})
}

// TestUploadKafkaUnavailable: when the publisher fails, the request is a
// 503, no result is reported, the reservations are released and a resend is
// accepted.
func TestUploadKafkaUnavailable(t *testing.T) {
	body := envelope(tx("t-1"), tx("t-2", "itemId", "ITEM-99999"), tx("t-3"))
	check := func(t *testing.T, h *harness, r response) {
		t.Helper()
		assertError(t, r, http.StatusServiceUnavailable, "KAFKA_UNAVAILABLE", "nothing in this request was accepted", "retry")
		if r.header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
		for _, id := range []string{"t-1", "t-2", "t-3"} {
			if g := h.do(http.MethodGet, "/v1/transactions/"+id, nil); g.status != http.StatusNotFound {
				t.Errorf("GET %s after a 503: %d %s, want 404", id, g.status, g.body)
			}
		}
		if n := h.outcomes.open(); n != 0 {
			t.Errorf("%d subscriptions left open", n)
		}
		h.pub.heal()
		assertStatuses(t, h.upload("", body), "t-1", "accepted", "t-2", "rejected", "t-3", "accepted")
	}
	t.Run("every write fails", func(t *testing.T) {
		h := newHarness(t)
		h.pub.fail(1)
		check(t, h, h.post("", body))
		h.assertPublished(t, "t-1", "t-3")
	})
	t.Run("one write of several fails", func(t *testing.T) {
		h := newHarness(t)
		h.pub.failOnly(1)
		check(t, h, h.post("", body))
	})
	t.Run("while waiting for outcomes", func(t *testing.T) {
		h := newHarness(t)
		h.pub.fail(1)
		check(t, h, h.post("?wait=applied", body))
	})
	t.Run("a resend of a pending transaction", func(t *testing.T) {
		// t-1 is pending from an earlier request: the failing request
		// must release only its own reservations.
		h := newHarness(t)
		h.upload("", envelope(tx("t-1")))
		h.pub.fail(1)
		r := h.post("", envelope(tx("t-1"), tx("t-4")))
		assertError(t, r, http.StatusServiceUnavailable, "KAFKA_UNAVAILABLE")
		if g := h.do(http.MethodGet, "/v1/transactions/t-1", nil); g.status != http.StatusOK {
			t.Errorf("GET t-1 (pending from an earlier request): %d %s", g.status, g.body)
		}
		assertStatuses(t, h.upload("", envelope(tx("t-1"), tx("t-4"))), "t-1", "duplicate", "t-4", "accepted")
	})
}

// TestUploadWhenStateUnreadable: a partition that cannot be read (owned
// elsewhere, restoring) does not block accepting; another read failure is
// a 500 that releases reservations.
func TestUploadWhenStateUnreadable(t *testing.T) {
	t.Run("partition error accepts", func(t *testing.T) {
		h := newHarness(t)
		h.state.setErr(&pipelinePartitionRestoring)
		assertStatuses(t, h.upload("", envelope(tx("t-1"))), "t-1", "accepted")
		assertStatuses(t, h.upload("", envelope(tx("t-1"))), "t-1", "duplicate")
		h.assertPublished(t, "t-1")
	})
	t.Run("other error is a 500", func(t *testing.T) {
		h := newHarness(t)
		h.state.setErr(errDisk)
		assertInternalHidden(t, h.post("", envelope(tx("t-1"), tx("t-2"))))
		h.state.setErr(nil)
		assertStatuses(t, h.upload("", envelope(tx("t-1"), tx("t-2"))), "t-1", "accepted", "t-2", "accepted")
	})
}
