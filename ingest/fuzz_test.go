package ingest_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/invsync/invsync/ingest"
	"github.com/invsync/invsync/processors"
)

// uploadSeeds are valid and invalid envelopes (more under
// testdata/fuzz/FuzzDecodeUpload).
var uploadSeeds = []string{
	`{"scannerId":"SCANNER-08","sentAt":"2026-11-26T10:30:00.123Z","transactions":[{"transactionId":"a","type":"RECEIPT","timestamp":"2026-11-26T10:00:02.000Z","warehouseId":"WH-001","itemId":"ITEM-20000","locationId":"A-05-02","quantity":5}]}`,
	`{"scannerId":"S","sentAt":"2026-11-26T10:30:00+01:00","transactions":[{},1,"x",null,[]]}`,
	`{"scannerId":"S","sentAt":"2026-11-26T10:30:00Z","transactions":[]}`,
	`{"scannerId":"S","sentAt":"2026-11-26T10:30:00Z","transactions":null}`,
	`{"scannerId":"S","sentAt":"2026-11-26T10:30:00Z","transactions":{}}`,
	`{"scannerId":"S","sentAt":1764153000,"transactions":[{}]}`,
	`{"scannerId":"S","sentAt":"1970-01-01T00:00:00Z","transactions":[{}]}`,
	`{"scannerId":"S","sentAt":"2026-11-26 10:30:00","transactions":[{}]}`,
	`{"scannerId":"","sentAt":"2026-11-26T10:30:00Z","transactions":[{}]}`,
	`{"scannerId":"S\u0000","sentAt":"2026-11-26T10:30:00Z","transactions":[{}]}`,
	`{"scannerId":"S","sentAt":"2026-11-26T10:30:00Z","transactions":[{}],"extra":1}`,
	`{"scannerId":"S","sentAt":"2026-11-26T10:30:00Z","transactions":[{}]} {}`,
	`{"scannerId":"S","sentAt":"2026-11-26T10:30:00Z","transactions":[{}`,
	`{"scannerId":"S","scannerId":"T","sentAt":"2026-11-26T10:30:00Z","transactions":[{}]}`,
	`[]`, `null`, `""`, ``, `{`, `{"transactions":[[[[[[[[[[]]]]]]]]]]}`,
}

// FuzzDecodeUpload: DecodeUpload never panics; it either fails with a
// 400/413 and a code and message, or the body was one valid JSON value and
// it yields 1 to MaxTransactions transactions, a usable scannerId and a UTC
// sentAt in 2000-2200.
func FuzzDecodeUpload(f *testing.F) {
	for _, s := range uploadSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		up, rerr := ingest.DecodeUpload(body)
		if rerr != nil {
			if rerr.Status != 400 && rerr.Status != 413 {
				t.Errorf("status %d", rerr.Status)
			}
			if rerr.Code == "" || rerr.Message == "" {
				t.Errorf("error without code or message: %+v", rerr)
			}
			return
		}
		if !json.Valid(body) {
			t.Errorf("accepted a body that is not valid JSON: %q", body)
		}
		if n := len(up.Transactions); n < 1 || n > ingest.MaxTransactions {
			t.Errorf("accepted %d transactions", n)
		}
		if up.SentAt.IsZero() || up.SentAt.Location() != time.UTC || up.SentAt.Year() < 2000 || up.SentAt.Year() > 2200 {
			t.Errorf("accepted sentAt %v", up.SentAt)
		}
		if strings.TrimSpace(up.ScannerID) == "" || len(up.ScannerID) > 128 ||
			strings.ContainsFunc(up.ScannerID, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Errorf("accepted scannerId %q", up.ScannerID)
		}
		for i, raw := range up.Transactions {
			if !json.Valid(raw) {
				t.Errorf("transaction %d is not valid JSON: %q", i, raw)
			}
		}
	})
}

// transactionSeeds are raw transactions (more under
// testdata/fuzz/FuzzDecodeTransaction).
var transactionSeeds = []string{
	`{"transactionId":"a","type":"RECEIPT","timestamp":"2026-11-23T10:00:02.000Z","warehouseId":"WH-001","itemId":"ITEM-20000","locationId":"A-05-02","quantity":5}`,
	`{"transactionId":"0b6f1f0e","type":"PICK","timestamp":"2026-11-23T10:00:02.5+01:00","warehouseId":"WH-001","itemId":"ITEM-12345","locationId":"A-05-02","lotNumber":"LOT-1","quantity":95,"toLocationId":null,"expectedVersion":17,"allocationId":"ALLOC-1","override":true,"userId":"u","reasonCode":null}`,
	`{"transactionId":"m","type":"MOVE","timestamp":"2026-11-23T10:00:02Z","warehouseId":"WH-001","itemId":"ITEM-20000","locationId":"A-05-02","toLocationId":"A-05-02","quantity":1}`,
	`{"transactionId":"c","type":"CYCLE_COUNT","timestamp":"2026-11-23T10:00:02Z","warehouseId":"WH-001","itemId":"ITEM-20000","locationId":"A-05-02","quantity":-1}`,
	`{"transactionId":"q","type":"ADJUSTMENT","timestamp":"2026-11-23T10:00:02Z","warehouseId":"W","itemId":"I","locationId":"L","quantity":1e30}`,
	`{"transactionId":"q","type":"ADJUSTMENT","timestamp":"2026-11-23T10:00:02Z","warehouseId":"W","itemId":"I","locationId":"L","quantity":-9223372036854775808}`,
	`{"transactionId":"q","type":"RECEIPT","timestamp":"2026-11-23T10:00:02Z","warehouseId":"W","itemId":"I","locationId":"L","quantity":2.5}`,
	`{"transactionId":"q","type":"RECEIPT","timestamp":"2026-11-23T10:00:02Z","warehouseId":"W","itemId":"I","locationId":"L","quantity":99999999999999999999}`,
	`{"transactionId":"q","type":"RECEIPT","timestamp":"2026-11-23T10:00:02Z","warehouseId":"W","itemId":"I","locationId":"L","quantity":1e-999999999}`,
	`{"transactionId":"q","type":"RECEIPT","timestamp":"2026-11-23T10:00:02Z","warehouseId":"W","itemId":"I","locationId":"L","quantity":1,"expectedVersion":1e3}`,
	`{"transactionId":"t","type":"RECEIPT","timestamp":"2026-12-23T10:00:02Z","warehouseId":"W","itemId":"I","locationId":"L","quantity":1}`,
	`{"transactionId":"t","type":"RECEIPT","timestamp":"2026-09-23T10:00:02Z","warehouseId":"W","itemId":"I","locationId":"L","quantity":1}`,
	`{"transactionId":"t","type":"RECEIPT","timestamp":"2026-11-23 10:00:02","warehouseId":"W","itemId":"I","locationId":"L","quantity":1}`,
	`{"transactionId":7,"type":"RECEIPT"}`,
	`{"transactionId":"x","colour":"red"}`,
	`{"transactionId":"x\u0001","type":"TELEPORT","timestamp":"2026-11-23T10:00:02Z","warehouseId":"W","itemId":"I","locationId":"L","quantity":0}`,
	`{}`, `null`, `42`, `"s"`, `[]`, ``, `{"transactionId":"a"} x`,
}

// The upload every fuzzed transaction belongs to: a device clock about 3
// days behind the server's.
var (
	fuzzUpload     = ingest.Upload{ScannerID: scannerID, SentAt: time.Date(2026, time.November, 23, 10, 30, 0, 123_000_000, time.UTC)}
	fuzzReceivedAt = serverNow
)

// FuzzDecodeTransaction: DecodeTransaction never panics. A rejection has a
// code decided at ingest and a message. A decoded transaction was valid
// JSON, passes
// processors.CheckShape or is rejected by it (never a panic, and only with
// INVALID_TRANSACTION); its times are the scan time, corrected by receive
// time − sentAt, within the bounds; its BodyHash is tx.Hash() and does not
// depend on when it was received.
func FuzzDecodeTransaction(f *testing.F) {
	for _, s := range transactionSeeds {
		f.Add([]byte(s))
	}
	cat := processors.NewCatalog(processors.Limits{})
	cat.Load(testCatalogDoc())
	bounds := ingest.TimeBounds{MaxFuture: time.Minute, MaxAge: 30 * 24 * time.Hour}
	f.Fuzz(func(t *testing.T, raw []byte) {
		up := fuzzUpload
		tx, id, rej := ingest.DecodeTransaction(raw, &up, fuzzReceivedAt, bounds)
		if rej != nil {
			switch rej.Code {
			case processors.CodeInvalidTransaction, processors.CodeUnreasonableQuantity:
			default:
				t.Errorf("rejected with code %q", rej.Code)
			}
			if rej.Message == "" {
				t.Error("rejected without a message")
			}
			return
		}
		if !json.Valid(raw) {
			t.Errorf("decoded a transaction that is not valid JSON: %q", raw)
		}
		if id != tx.TransactionID {
			t.Errorf("returned id %q, transaction %q", id, tx.TransactionID)
		}
		if r := processors.CheckShape(&tx, processors.Limits{}); r != nil {
			if r.Code != processors.CodeInvalidTransaction || r.Message == "" {
				t.Errorf("CheckShape rejected with %+v", r)
			}
		} else {
			_ = cat.Check(&tx) // must not panic on anything well formed
		}
		offset := fuzzReceivedAt.Sub(up.SentAt)
		if want := tx.DeviceTimestamp.Add(offset).Truncate(time.Millisecond); !tx.CorrectedTimestamp.Equal(want) {
			t.Errorf("CorrectedTimestamp %v, want DeviceTimestamp %v + offset %v = %v", tx.CorrectedTimestamp, tx.DeviceTimestamp, offset, want)
		}
		if tx.DeviceTimestamp.After(up.SentAt.Add(bounds.MaxFuture)) || tx.DeviceTimestamp.Before(up.SentAt.Add(-bounds.MaxAge)) {
			t.Errorf("DeviceTimestamp %v outside the bounds around sentAt %v", tx.DeviceTimestamp, up.SentAt)
		}
		if !tx.SentAt.Equal(up.SentAt) || !tx.ReceivedAt.Equal(fuzzReceivedAt.Truncate(time.Millisecond)) || tx.ScannerID != up.ScannerID {
			t.Errorf("sentAt %v receivedAt %v scanner %q", tx.SentAt, tx.ReceivedAt, tx.ScannerID)
		}
		if !bytes.Equal(tx.BodyHash, tx.Hash()) {
			t.Error("BodyHash is not tx.Hash()")
		}
		// The same scan received later (a resend) hashes the same.
		again, _, rej2 := ingest.DecodeTransaction(raw, &up, fuzzReceivedAt.Add(time.Hour), bounds)
		if rej2 != nil || !bytes.Equal(again.BodyHash, tx.BodyHash) {
			t.Errorf("received an hour later: rejection %v, same hash %v", rej2, bytes.Equal(again.BodyHash, tx.BodyHash))
		}
		if !again.CorrectedTimestamp.Equal(tx.CorrectedTimestamp.Add(time.Hour)) {
			t.Errorf("received an hour later: corrected %v, want %v", again.CorrectedTimestamp, tx.CorrectedTimestamp.Add(time.Hour))
		}
		for _, s := range []string{tx.TransactionID, tx.WarehouseID, tx.ItemID, tx.LocationID} {
			if !utf8.ValidString(s) {
				t.Errorf("identifier %q is not valid UTF-8", s)
			}
		}
	})
}
