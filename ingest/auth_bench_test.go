package ingest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/invsync/invsync/auth"
	"github.com/invsync/invsync/ingest"
)

// passAuth lets every request through as an admin without looking at it:
// the API's cost without authentication, for comparison.
type passAuth struct{}

func (passAuth) Authenticate(string, time.Time) (auth.Principal, error) {
	return auth.Principal{Name: "bench", Role: auth.RoleAdmin, Warehouses: []string{auth.AllWarehouses}}, nil
}

// BenchmarkUploadAuth measures what authentication costs an upload of 100
// transactions (the bench's batch): the real registry with a scanner token
// (hash, constant-time compare, role and scope checks, rate limiter)
// against a pass-through authenticator, in the same run. Compare the two
// ns/op (BENCHMARKS.md).
func BenchmarkUploadAuth(b *testing.B) {
	reg, secret := scannerRegistry(b)
	for _, mode := range []struct {
		name  string
		auth  ingest.Authenticator
		limit float64
	}{{"none", passAuth{}, 0}, {"token", reg, 1e9}} {
		b.Run("auth="+mode.name, func(b *testing.B) {
			st := newFakeState()
			api, err := ingest.New(ingest.Config{Publisher: newFakePublisher(), Catalog: newFakeCatalog(testCatalogDoc()), State: st,
				Outcomes: newFakeOutcomes(st), Ready: &fakeReady{ok: true}, Now: func() time.Time { return serverNow },
				Auth: mode.auth, RateLimit: mode.limit, MaxInFlight: 1 << 30}) // nothing is ever applied here
			if err != nil {
				b.Fatal(err)
			}
			api.Open()
			bodies := make([][]byte, b.N)
			for i := range bodies {
				txs := make([]any, 100)
				for j := range txs {
					txs[j] = tx(fmt.Sprintf("b-%d-%d", i, j))
				}
				bodies[i], _ = json.Marshal(envelope(txs...))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				req := httptest.NewRequest(http.MethodPost, "/v1/transactions", bytes.NewReader(bodies[i]))
				req.Header.Set("Authorization", "Bearer "+secret)
				rec := httptest.NewRecorder()
				api.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("upload: %d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
