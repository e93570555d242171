package ingest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/invsync/invsync/ingest"
)

type fakeRouter struct{ peers []string }

func (r fakeRouter) OwnerURL(context.Context, int32) (string, error) { return "", nil }
func (r fakeRouter) PeerURLs(context.Context) ([]string, error)      { return r.peers, nil }

// A peer that accepted a transaction but does not own its partition answers
// "pending"; the owner answers "applied". Whatever the peers' order, the
// instance asked must relay the owner's answer, and only when no peer
// knows more may it answer "pending". (Allocation lookups share fanOut:
// "TENTATIVE" is held back the same way.)
func TestLookupsPreferTheOwnersDefiniteAnswer(t *testing.T) {
	peer := func(body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Invsync-Forwarded") == "" {
				t.Errorf("peer asked without the forwarded header")
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	notFound := func() string {
		srv := httptest.NewServer(http.NotFoundHandler())
		t.Cleanup(srv.Close)
		return srv.URL
	}
	pending := peer(`{"transactionId":"tx-1","status":"pending","code":null,"resultingOnHand":null,"version":null,"warnings":[]}`)
	applied := peer(`{"transactionId":"tx-1","status":"applied","code":null,"resultingOnHand":7,"version":3,"warnings":[]}`)
	gone := notFound()

	for _, c := range []struct {
		name, path string
		peers      []string
		want       string
	}{
		{"pending peer first", "/v1/transactions/tx-1", []string{gone, pending, applied}, "applied"},
		{"owner first", "/v1/transactions/tx-1", []string{applied, pending}, "applied"},
		{"only pending", "/v1/transactions/tx-1", []string{gone, pending}, "pending"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, func(cfg *ingest.Config) { cfg.Router = fakeRouter{peers: c.peers} })
			h.state.err = partitionErr{partition: 1, elsewhere: true}
			r := h.do("GET", c.path, nil)
			var got struct {
				Status string `json:"status"`
			}
			if r.status != 200 || json.Unmarshal(r.body, &got) != nil || got.Status != c.want {
				t.Fatalf("GET %s with peers answering in that order: %d %s, want status %s", c.path, r.status, r.body, c.want)
			}
		})
	}
}
