package bench

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/processors"
)

// TestAppendUploadIsTheAPIsUpload: the hand-written upload body decodes,
// strictly, to the api.UploadRequest its transactions stand for. scanTx is
// the generator's record (its time is a time.Time, and the peer writes it
// to Kafka directly); api.Transaction is the one wire shape it is sent as.
func TestAppendUploadIsTheAPIsUpload(t *testing.T) {
	w := &workload{space: newCatalogSpace(processors.DemoCatalog()), records: 1000, seed: 7, run: "r"}
	at := time.Date(2026, 11, 26, 10, 30, 0, 123_000_000, time.UTC)
	var txs []scanTx
	for seq := 0; seq < 200; seq++ { // every kind of the mix, MOVE and lots included
		txs = w.mixed(txs, w.rng(1, seq), 1, seq, at.Add(time.Duration(seq)*time.Millisecond), "u1")
	}
	txs = w.receipt(txs, w.rng(0, 0), 0, 3, at)
	body := appendUpload(nil, "BENCH-SCANNER-01", at.Add(time.Second), txs)

	var got api.UploadRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("the upload body is not an api.UploadRequest: %v\n%s", err, body)
	}
	want := api.UploadRequest{ScannerID: "BENCH-SCANNER-01", SentAt: api.FormatTime(at.Add(time.Second))}
	moves := 0
	for _, tx := range txs {
		want.Transactions = append(want.Transactions, api.Transaction{TransactionID: tx.ID, Type: string(tx.Type),
			Timestamp: api.FormatTime(tx.Timestamp), WarehouseID: tx.Warehouse, ItemID: tx.Item, LocationID: tx.Location,
			LotNumber: tx.Lot, Quantity: tx.Quantity, ToLocationID: tx.ToLocation, UserID: tx.User})
		if tx.Type == processors.Move {
			moves++
		}
	}
	if moves == 0 {
		t.Fatal("the sample has no MOVE: toLocationId is not checked")
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the upload body decodes to\n%+v\nwant\n%+v", got, want)
	}
}
