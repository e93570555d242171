package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/invsync/invsync/auth"
	"github.com/invsync/invsync/ingest"
	"github.com/invsync/invsync/processors"
)

// discardPublisher acknowledges every transaction and keeps nothing, so
// that a benchmark measures ingest and not a test double's memory.
type discardPublisher struct{}

func (discardPublisher) Produce(_ context.Context, txs []processors.Transaction) []error {
	return make([]error, len(txs))
}

// benchUploads returns n upload bodies of batch transactions each, every
// transactionId distinct, in the bench's mix of types over a few items and
// locations of the test catalog. The bodies are written as the bench and a
// device write them (compact, fields in the wire types' order).
func benchUploads(n, batch int) [][]byte {
	types := []string{"PICK", "RECEIPT", "RECEIPT", "ADJUSTMENT", "CYCLE_COUNT"}
	bodies := make([][]byte, n)
	for i := range bodies {
		b := fmt.Appendf(nil, `{"scannerId":%q,"sentAt":%q,"transactions":[`, scannerID, sentAt)
		for j := range batch {
			if j > 0 {
				b = append(b, ',')
			}
			loc := locA
			if j%2 == 1 {
				loc = locB
			}
			b = fmt.Appendf(b, `{"transactionId":"bench-%d-%d","type":%q,"timestamp":%q,"warehouseId":%q,"itemId":%q,"locationId":%q,"quantity":%d,"userId":%q}`,
				i, j, types[j%len(types)], scanTime, wh1, plainItem, loc, 1+j%7, defaultUser)
		}
		bodies[i] = append(b, "]}"...)
	}
	return bodies
}

// BenchmarkPostTransactions is one POST /v1/transactions of 100
// transactions (the bench's batch) through the whole handler chain: a
// scanner token (hash lookup, scope, rate limiter), the upload's decoding
// and validation against the catalog, the idempotency check, the
// hand-over to a publisher that keeps nothing, and the response's
// encoding. Divide ns/op and allocs/op by 100 for a transaction's share
// (BENCHMARKS.md, "The ingest path").
func BenchmarkPostTransactions(b *testing.B) {
	reg, secret := scannerRegistry(b)
	st := newFakeState()
	srv, err := ingest.New(ingest.Config{Publisher: discardPublisher{}, Catalog: newFakeCatalog(testCatalogDoc()), State: st,
		Outcomes: newFakeOutcomes(st), Ready: &fakeReady{ok: true}, Now: func() time.Time { return serverNow },
		Auth: reg, RateLimit: 1e9, MaxInFlight: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	srv.Open()
	bodies := benchUploads(b.N, 100)
	bearer := "Bearer " + secret
	b.SetBytes(int64(len(bodies[0])))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		req := httptest.NewRequest(http.MethodPost, "/v1/transactions", bytes.NewReader(bodies[i]))
		req.Header.Set("Authorization", bearer)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !bytes.Contains(rec.Body.Bytes(), []byte(`"status":"accepted"`)) ||
			bytes.Contains(rec.Body.Bytes(), []byte(`"rejected"`)) {
			b.Fatalf("upload: %d %.300s", rec.Code, rec.Body)
		}
	}
}

// scannerRegistry is a registry holding one scanner token for wh1, and
// that token's secret.
func scannerRegistry(tb testing.TB) (*auth.Registry, string) {
	tb.Helper()
	reg := auth.NewRegistry()
	tok, secret, err := auth.New(auth.Request{Name: scannerID, Role: auth.RoleScanner, Warehouses: []string{wh1}}, serverNow.Add(-time.Hour))
	if err != nil {
		tb.Fatal(err)
	}
	reg.Apply(tok)
	return reg, secret
}
