package ingest

import (
	"encoding/json"
	"testing"
)

func TestFastEnvelopeTakesTheDeviceObject(t *testing.T) {
	dev := `{"sentAt":"2026-11-26T10:30:00.123Z","queued":2,"oldestQueuedAt":null,"rejected":0,"appVersion":"web 3"}`
	body := []byte(`{"scannerId":"S-1","sentAt":"2026-11-26T10:30:00.123Z","transactions":[{"transactionId":"a","type":"RECEIPT","quantity":1}],"device": ` + dev + `}`)
	sc, sent, txs, device, _, ok := fastEnvelope(body)
	if !ok || *sc != "S-1" || *sent == "" || len(txs) != 1 || string(device) != dev {
		t.Fatalf("fastEnvelope: ok %v, %v %v %d, device %s", ok, sc, sent, len(txs), device)
	}
	var slow struct {
		Device json.RawMessage `json:"device"`
	}
	if err := json.Unmarshal(body, &slow); err != nil || string(slow.Device) != string(device) {
		t.Fatalf("encoding/json's device %s (%v), fast %s", slow.Device, err, device)
	}
	if _, _, _, ok := fastUpload(body); ok {
		t.Fatal("fastUpload (the fuzz oracle's) took an envelope with a device")
	}
	for _, bad := range []string{`{"queued":[1]}`, `{"a":{"b":1}}`, `{"queued":1,"queued":2}`, `{"x":nul}`} {
		b := []byte(`{"scannerId":"S","sentAt":"x","transactions":[],"device":` + bad + `}`)
		if _, _, _, _, _, ok := fastEnvelope(b); ok {
			t.Errorf("fast path took the device %s", bad)
		}
	}
}
