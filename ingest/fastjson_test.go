package ingest

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/invsync/invsync/api"
)

// plainTransaction is a transaction in the plain form, every field set.
const plainTransaction = `{"transactionId":"0b6f1f0e","type":"PICK","timestamp":"2026-11-23T10:00:02.5+01:00",
	"warehouseId":"WH-001","itemId":"ITEM-12345","locationId":"A-05-02","lotNumber":"LOT-1","quantity":95,
	"toLocationId":"B-01-01","expectedVersion":17,"allocationId":"ALLOC-1","override":true,"userId":"u",
	"reasonCode":"DAMAGED","countTaskId":"CT-1"}`

// fastSeeds are inputs on both sides of the plain form's edge.
var fastSeeds = []string{
	plainTransaction,
	`{}`, ` { } `, `{"quantity":-0.5e+3}`, `{"quantity":0}`, `{"quantity":01}`, `{"quantity":-}`, `{"quantity":1.}`,
	`{"quantity":1e}`, `{"quantity":"5"}`, `{"quantity":null}`, `{"override":false}`, `{"override":tru}`,
	`{"itemId":"caf\u00e9"}`, `{"itemId":"café"}`, "{\"itemId\":\"\xff\"}", "{\"itemId\":\"a\tb\"}",
	`{"itemid":"x"}`, `{"ItemId":"x"}`, `{"itemId":"x","itemId":"y"}`, `{"itemId":"x",}`, `{"itemId":"x"} x`,
	`{"itemId":"x"}{}`, `{"itemId" "x"}`, `{"colour":"red"}`, `[]`, `null`, ``,
	`{"scannerId":"S","sentAt":"2026-11-26T10:30:00Z","transactions":[` + plainTransaction + `, {} ]}`,
	`{"scannerId":"S","sentAt":"2026-11-26T10:30:00Z","transactions":[]}`,
	`{"scannerId":"S","sentAt":"2026-11-26T10:30:00Z","transactions":[{},1]}`,
	`{"scannerId":"S","sentAt":"2026-11-26T10:30:00Z","transactions":null}`,
	`{"scannerId":"S","scannerId":"T","sentAt":"2026-11-26T10:30:00Z","transactions":[{}]}`,
	`{"transactions":[{"quantity":1}],"sentAt":"x","scannerId":""}`,
}

// FuzzFastDecodeAgrees: whatever the plain-form scanner accepts,
// encoding/json (as the decoder used it before) accepts too and decodes to
// the same values, as a transaction and as an envelope.
func FuzzFastDecodeAgrees(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if fast, ok := fastTransaction(b); ok {
			var slow api.UploadTransactionFields
			if err := strictUnmarshal(b, &slow); err != nil {
				t.Fatalf("fast path accepted a transaction encoding/json refuses (%v): %q", err, b)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("transaction %q: fast %s, encoding/json %s", b, show(fast), show(slow))
			}
		}
		if sc, sent, txs, ok := fastUpload(b); ok {
			var slow api.UploadRequestFields
			if err := strictUnmarshal(b, &slow); err != nil {
				t.Fatalf("fast path accepted an envelope encoding/json refuses (%v): %q", err, b)
			}
			if !reflect.DeepEqual(sc, slow.ScannerID) || !reflect.DeepEqual(sent, slow.SentAt) || !reflect.DeepEqual(txs, slow.Transactions) {
				t.Fatalf("envelope %q: fast %v %v %q, encoding/json %v %v %q", b, sc, sent, txs, slow.ScannerID, slow.SentAt, slow.Transactions)
			}
		}
	})
}

func show(j api.UploadTransactionFields) string {
	b, _ := json.Marshal(j)
	return string(b)
}

// TestFastDecodeCoversThePlainForm: the scanner does take the plain form
// (the speed-up is real, not a path that always gives up), and gives up
// exactly where encoding/json's behaviour has a subtlety of its own.
func TestFastDecodeCoversThePlainForm(t *testing.T) {
	for _, c := range []struct {
		in   string
		fast bool
	}{
		{plainTransaction, true},
		{`{"quantity":-0.5e+3}`, true},
		{`{"itemId":"café"}`, true},
		{`{"itemId":"caf\u00e9"}`, false},          // an escape
		{"{\"itemId\":\"\xff\"}", false},           // invalid UTF-8, which encoding/json replaces
		{`{"ItemId":"x"}`, false},                  // case folding
		{`{"itemId":"x","itemId":"y"}`, false},     // a repeated key: encoding/json keeps the last
		{`{"lotNumber":null,"itemId":"x"}`, false}, // a null
		{`{"quantity":"5"}`, false},                // a string where a number goes
		{`{"colour":"red"}`, false},                // unknown
		{`{"itemId":"x"} x`, false},                // trailing data
	} {
		_, got := fastTransaction([]byte(c.in))
		if got != c.fast {
			t.Errorf("fastTransaction(%s): took it %v, want %v", c.in, got, c.fast)
		}
	}
	body := `{"scannerId":"SCANNER-08","sentAt":"2026-11-26T10:30:00.123Z","transactions":[` + plainTransaction + `,` + plainTransaction + `]}`
	sc, sent, txs, ok := fastUpload([]byte(body))
	if !ok || *sc != "SCANNER-08" || *sent != "2026-11-26T10:30:00.123Z" || len(txs) != 2 || !bytes.Equal(txs[1], []byte(plainTransaction)) {
		t.Fatalf("fastUpload of a plain upload: ok %v, %v %v %d transactions", ok, sc, sent, len(txs))
	}
	// The answers do not depend on which decoder ran: a refused body gets
	// encoding/json's message.
	if _, rerr := DecodeUpload([]byte(strings.Replace(body, `"transactions"`, `"transactions":1,"x"`, 1))); rerr == nil ||
		rerr.Message != `malformed request body: field "transactions" must be an array, got a JSON number` {
		t.Errorf("malformed envelope: %+v", rerr)
	}
}

// BenchmarkDecodeUpload decodes an upload of 100 plain transactions and
// each transaction, the fast way (one pass over the body) and with
// encoding/json.
func BenchmarkDecodeUpload(b *testing.B) {
	txs := make([]string, 100)
	for i := range txs {
		txs[i] = strings.Replace(plainTransaction, "0b6f1f0e", "tx-"+strings.Repeat("9", i%7+1), 1)
	}
	body := []byte(`{"scannerId":"SCANNER-08","sentAt":"2026-11-23T10:30:00.123Z","transactions":[` + strings.Join(txs, ",") + `]}`)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			up, rerr := DecodeUpload(body)
			if rerr != nil {
				b.Fatal(rerr)
			}
			if up.plain == nil {
				b.Fatal("not plain")
			}
			for i := range up.plain {
				if j := up.plain[i].fields(); j.TransactionID == nil {
					b.Fatal("no transactionId")
				}
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var env api.UploadRequestFields
			if err := strictUnmarshal(body, &env); err != nil {
				b.Fatal(err)
			}
			for _, raw := range env.Transactions {
				var j api.UploadTransactionFields
				if err := strictUnmarshal(raw, &j); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
