package ingest

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/processors"
)

// onePassSeeds are uploads on both sides of the plain form's edge, the
// envelope's and each transaction's.
var onePassSeeds = []string{
	`{"scannerId":"SCANNER-08","sentAt":"2026-11-23T10:30:00.123Z","transactions":[` + plainTransaction + `]}`,
	`{"scannerId":"S","sentAt":"2026-11-23T10:30:00Z","transactions":[{"transactionId":"a","type":"RECEIPT","timestamp":"2026-11-23T10:00:02Z","warehouseId":"W","itemId":"I","locationId":"L","quantity":5},{"transactionId":"a","type":"RECEIPT","timestamp":"2026-11-23T10:00:02Z","warehouseId":"W","itemId":"I","locationId":"L","quantity":2.5}]}`,
	`{"scannerId":"S","sentAt":"2026-11-23T10:30:00Z","transactions":[{},{"quantity":1e400},{"quantity":-0},{"timestamp":"2026-12-23T10:00:02Z"}]}`,
	`{"scannerId":"S","sentAt":"2026-11-23T10:30:00Z","transactions":[{"transactionId":"x","expectedVersion":99999999999999999999,"override":false}]}`,
	`{"scannerId":"S","sentAt":"2026-11-23T10:30:00Z","transactions":[{"transactionId":"x","type":"CYCLE_COUNT","countTaskId":"CT-1"}]}`,
	`{"scannerId":"S","sentAt":"2026-11-23T10:30:00Z","device":{"battery":0.5,"app":"1.2","x":null},"transactions":[{"transactionId":"d"}]}`,
	`{"scannerId":"S","sentAt":"2026-11-23T10:30:00Z","transactions":[{"transactionId":"caf\u00e9"}]}`,
	`{"scannerId":"S","sentAt":"2026-11-23T10:30:00Z","transactions":[{"transactionId":null}]}`,
	`{"scannerId":" ","sentAt":"2026-11-23T10:30:00Z","transactions":[{}]}`,
	`{"scannerId":"S","sentAt":"1999-11-23T10:30:00Z","transactions":[{}]}`,
	`{"scannerId":"S","sentAt":"2026-11-23T10:30:00Z","transactions":[]}`,
	`{"sentAt":"2026-11-23T10:30:00Z","transactions":[{}]}`,
	`{"scannerId":"S","transactions":[{}]}`,
	`{"scannerId":"S","sentAt":"2026-11-23T10:30:00Z"}`,
	`{"scannerId":"S","sentAt":"2026-11-23T10:30:00Z","transactions":[{}]} x`,
	`{"scannerId":"S","sentAt":"2026-11-23T10:30:00Z","transactions":[{"transactionId":"o","type":"PICK","timestamp":"2026-11-23T10:00:02.5+01:00","warehouseId":"WH-001","itemId":"ITEM-12345","locationId":"A-05-02","lotNumber":"LOT-1","quantity":95,"expectedVersion":17,"allocationId":"ALLOC-1","override":true,"userId":"u","reasonCode":"DAMAGED"},{"transactionId":"m","type":"MOVE","timestamp":"2026-11-23T10:00:02Z","warehouseId":"W","itemId":"I","locationId":"L","toLocationId":"M","quantity":1}]}`,
	` {"scannerId" : "S" , "sentAt":"2026-11-23T10:30:00Z", "transactions" : [ {"quantity" : 3 } ] } `,
}

// FuzzUploadOnePassAgrees holds the upload's fast path to encoding/json
// as a whole: DecodeUpload (one scan of the body that also reads every
// transaction's values) and then each transaction from those values give
// exactly what the envelope decoded by encoding/json and then every
// transaction decoded by encoding/json give: the same upload or the same
// error, and for each transaction the same transaction, id and rejection
// (code and message).
func FuzzUploadOnePassAgrees(f *testing.F) {
	for _, s := range onePassSeeds {
		f.Add([]byte(s))
	}
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	receivedAt := time.Date(2026, time.November, 26, 10, 30, 0, 500_000_000, time.UTC)
	bounds := TimeBounds{}
	f.Fuzz(func(t *testing.T, body []byte) {
		up, rerr := DecodeUpload(body)
		want, wantErr := slowUpload(body)
		if !reflect.DeepEqual(rerr, wantErr) {
			t.Fatalf("upload %q: error %+v, encoding/json's %+v", body, rerr, wantErr)
		}
		if rerr != nil {
			return
		}
		if up.ScannerID != want.ScannerID || !up.SentAt.Equal(want.SentAt) || !reflect.DeepEqual(up.Transactions, want.Transactions) ||
			!reflect.DeepEqual(up.DeviceRaw, want.DeviceRaw) {
			t.Fatalf("upload %q: %q %v %q %s, encoding/json's %q %v %q %s", body, up.ScannerID, up.SentAt, up.Transactions, up.DeviceRaw,
				want.ScannerID, want.SentAt, want.Transactions, want.DeviceRaw)
		}
		for i := range up.plain {
			var j api.UploadTransactionFields
			if err := strictUnmarshal(up.Transactions[i], &j); err != nil || !reflect.DeepEqual(up.plain[i].fields(), j) {
				t.Fatalf("upload %q, transaction %d: read as %s, encoding/json's %s (%v)", body, i, show(up.plain[i].fields()), show(j), err)
			}
		}
		for i := range up.Transactions {
			tx, id, rej := up.transaction(i, receivedAt, bounds)
			wtx, wid, wrej := slowTransaction(want.Transactions[i], &want, receivedAt, bounds)
			if id != wid || !reflect.DeepEqual(rej, wrej) || !reflect.DeepEqual(tx, wtx) {
				t.Fatalf("upload %q, transaction %d: %q %+v %+v; encoding/json's %q %+v %+v", body, i, id, rej, tx, wid, wrej, wtx)
			}
		}
	})
}

// slowUpload is DecodeUpload with encoding/json alone.
func slowUpload(body []byte) (Upload, *RequestError) {
	var env api.UploadRequestFields
	if err := strictUnmarshal(body, &env); err != nil {
		return Upload{}, badRequest("malformed request body: %s", describeJSONError(err))
	}
	return checkUpload(&env, nil)
}

// slowTransaction is DecodeTransaction with encoding/json alone.
func slowTransaction(raw json.RawMessage, up *Upload, receivedAt time.Time, bounds TimeBounds) (processors.Transaction, string, *TxRejection) {
	var j api.UploadTransactionFields
	if err := strictUnmarshal(raw, &j); err != nil {
		return processors.Transaction{}, looseID(raw), &TxRejection{Code: processors.CodeInvalidTransaction,
			Message: "malformed transaction: " + describeJSONError(err)}
	}
	return checkTransaction(&j, up, receivedAt, bounds)
}

// TestUploadOnePassCoversThePlainForm: an upload as the bench and the
// scanner app write it is read in one pass (the values of every
// transaction kept), and one that is not plain is left to encoding/json.
func TestUploadOnePassCoversThePlainForm(t *testing.T) {
	for _, c := range []struct {
		body  string
		plain bool
	}{
		{onePassSeeds[0], true},
		{onePassSeeds[5], true}, // with a device report
		{onePassSeeds[15], true},
		{onePassSeeds[16], true},
		{onePassSeeds[6], false}, // an escape in a transaction
		{onePassSeeds[7], false}, // a null in a transaction
	} {
		up, rerr := DecodeUpload([]byte(c.body))
		if rerr != nil {
			t.Fatalf("%s: %v", c.body, rerr)
		}
		if got := up.plain != nil; got != c.plain || c.plain && len(up.plain) != len(up.Transactions) {
			t.Errorf("%s: read in one pass %v (%d values for %d transactions), want %v", c.body, got, len(up.plain), len(up.Transactions), c.plain)
		}
	}
	up, _ := DecodeUpload([]byte(onePassSeeds[0]))
	single, _ := fastTransaction([]byte(plainTransaction))
	if got := up.plain[0].fields(); !reflect.DeepEqual(got, single) || single.CountTaskID == nil || *single.Override != true {
		t.Errorf("plain transaction read as %s, alone as %s", show(got), show(single))
	}
	up, _ = DecodeUpload([]byte(onePassSeeds[1]))
	tx, id, rej := up.transaction(0, up.SentAt, TimeBounds{})
	if rej != nil || id != "a" || tx.Type != processors.Receipt || tx.Quantity != 5 || tx.LocationID != "L" {
		t.Errorf("plain transaction read as %+v, %q, %v", tx, id, rej)
	}
}
