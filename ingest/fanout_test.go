package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/ingest"
	"github.com/invsync/invsync/processors"
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
		want       api.OutcomeStatus
	}{
		{"pending peer first", "/v1/transactions/tx-1", []string{gone, pending, applied}, "applied"},
		{"owner first", "/v1/transactions/tx-1", []string{applied, pending}, "applied"},
		{"only pending", "/v1/transactions/tx-1", []string{gone, pending}, "pending"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, func(cfg *ingest.Config) { cfg.Router = fakeRouter{peers: c.peers} })
			h.state.err = partitionErr{partition: 1, elsewhere: true}
			r := h.do("GET", c.path, nil)
			var got api.Outcome
			if r.status != 200 || json.Unmarshal(r.body, &got) != nil || got.Status != c.want {
				t.Fatalf("GET %s with peers answering in that order: %d %s, want status %s", c.path, r.status, r.body, c.want)
			}
		})
	}
}

// unreadableAllocations: no allocation is readable here; every lookup
// names partition 1 as owned elsewhere.
type unreadableAllocations struct{}

func (unreadableAllocations) Allocation(context.Context, string, string, string) (processors.Allocation, bool, error) {
	return processors.Allocation{}, false, partitionErr{partition: 1, elsewhere: true}
}
func (unreadableAllocations) FindAllocation(context.Context, string) (processors.Allocation, bool, error) {
	return processors.Allocation{}, false, partitionErr{partition: 1, elsewhere: true}
}
func (unreadableAllocations) OrderAllocations(context.Context, string) ([]processors.Allocation, error) {
	return nil, partitionErr{partition: 1, elsewhere: true}
}

// unreadableRecon: no discrepancy or held count is readable here; every
// lookup names partition 1 as owned elsewhere.
type unreadableRecon struct{ ingest.ReconReader }

func (unreadableRecon) FindDiscrepancy(context.Context, string) (processors.Discrepancy, bool, error) {
	return processors.Discrepancy{}, false, partitionErr{partition: 1, elsewhere: true}
}
func (unreadableRecon) FindHeld(context.Context, string) (processors.HeldCount, bool, error) {
	return processors.HeldCount{}, false, partitionErr{partition: 1, elsewhere: true}
}

type noAllocator struct{}

func (noAllocator) ProduceAllocation(context.Context, *processors.AllocRequest) error { return nil }

type noDecisions struct{}

func (noDecisions) Subscribe(string) (<-chan processors.Allocation, func()) {
	return make(chan processors.Allocation), func() {}
}

type ownerRouter struct {
	owner string
	peers []string
}

func (r ownerRouter) OwnerURL(context.Context, int32) (string, error) { return r.owner, nil }
func (r ownerRouter) PeerURLs(context.Context) ([]string, error)      { return r.peers, nil }

// A lookup by id (an allocation, a transaction, a discrepancy, a held
// count) that no instance could answer is 503
// with Retry-After, never a 404: while a partition has no owner (an
// instance restarted: right after, the group still gives its partitions to
// the previous incarnation, at this instance's own address) or a peer does
// not answer, what is looked up may well exist. Only when the partition's
// owner answered 404 is it a 404.
func TestLookupsNeverDenyWhatTheyCannotSee(t *testing.T) {
	notFound := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notFound.Close)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	t.Cleanup(down.Close)
	for _, c := range []struct {
		name   string
		router ownerRouter
		want   int
	}{
		{"no owner yet, no peers", ownerRouter{}, http.StatusServiceUnavailable},
		{"no owner yet, a peer says 404", ownerRouter{peers: []string{notFound.URL}}, http.StatusServiceUnavailable},
		{"the owner's peer is failing", ownerRouter{owner: down.URL, peers: []string{down.URL}}, http.StatusServiceUnavailable},
		{"the owner says 404", ownerRouter{owner: notFound.URL, peers: []string{notFound.URL}}, http.StatusNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, func(cfg *ingest.Config) {
				cfg.Router = c.router
				cfg.Allocator, cfg.Allocations, cfg.Decisions = noAllocator{}, unreadableAllocations{}, noDecisions{}
				cfg.Commands, cfg.Recon, cfg.CommandResults = unusedCommands{}, unreadableRecon{}, unusedCommandResults{}
				cfg.Partitions = 2
			})
			h.state.err = partitionErr{partition: 1, elsewhere: true}
			for _, path := range []string{"/v1/allocations/ALLOC-1", "/v1/transactions/tx-1", "/v1/discrepancies/d-1", "/v1/counts/tx-1"} {
				r := h.do("GET", path, nil)
				if r.status != c.want {
					t.Errorf("GET %s: %d %s, want %d", path, r.status, r.body, c.want)
				}
				if c.want == http.StatusServiceUnavailable && r.status == c.want && r.header.Get("Retry-After") == "" {
					t.Errorf("GET %s: 503 without Retry-After", path)
				}
				// Asked by a peer, an instance that does not own the
				// partition says 404 whatever the owner's state: the
				// asking instance decides from every peer's answer.
				if r := request(t, h.url, testAdminToken, "GET", path, nil, "X-Invsync-Forwarded", "1"); r.status != http.StatusNotFound {
					t.Errorf("GET %s forwarded by a peer: %d, want 404", path, r.status)
				}
			}
		})
	}
}

// halfRecon holds one discrepancy and one held count and names partition
// 1 as owned elsewhere: a list is what it holds and what the peers hold.
type halfRecon struct{ ingest.ReconReader }

func (halfRecon) Discrepancies(context.Context, string, []string) ([]processors.Discrepancy, error) {
	return []processors.Discrepancy{{DiscrepancyID: "d-local", WarehouseID: wh1, Status: processors.DiscrepancyOpen, OpenedAt: serverNow.Add(-time.Hour)}},
		partitionErr{partition: 1, elsewhere: true}
}
func (halfRecon) HeldCounts(context.Context, string, string) ([]processors.HeldCount, error) {
	return []processors.HeldCount{{Transaction: processors.Transaction{TransactionID: "tx-local", WarehouseID: wh1}, Status: processors.HeldPending, HeldAt: serverNow.Add(-time.Hour)}},
		partitionErr{partition: 1, elsewhere: true}
}

// A list whose partitions are partly owned elsewhere is this instance's
// rows and every peer's, a discrepancy both hold listed once, in time
// order; a peer that cannot answer makes it a 503; asked by a peer, an
// instance lists only its own.
func TestListsGatherThePeersRows(t *testing.T) {
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/discrepancies":
			w.Write([]byte(`{"discrepancies":[{"discrepancyId":"d-peer","openedAt":"2026-11-26T10:00:00Z"},{"discrepancyId":"d-local","openedAt":"2026-11-26T08:00:00Z"}]}`))
		case "/v1/counts":
			w.Write([]byte(`{"counts":[{"transactionId":"tx-peer","heldAt":"2026-11-26T10:00:00Z"}]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(peer.Close)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	t.Cleanup(down.Close)
	ids := func(t *testing.T, body []byte, field, key string) []string {
		var out map[string][]map[string]any
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		var got []string
		for _, row := range out[field] {
			got = append(got, fmt.Sprint(row[key]))
		}
		return got
	}
	for _, c := range []struct {
		path, field, key string
		want             []string
	}{
		{"/v1/discrepancies?warehouseId=" + wh1, "discrepancies", "discrepancyId", []string{"d-local", "d-peer"}},
		{"/v1/counts?warehouseId=" + wh1, "counts", "transactionId", []string{"tx-local", "tx-peer"}},
	} {
		h := newHarness(t, func(cfg *ingest.Config) {
			cfg.Router = fakeRouter{peers: []string{peer.URL}}
			cfg.Commands, cfg.Recon, cfg.CommandResults = unusedCommands{}, halfRecon{}, unusedCommandResults{}
			cfg.Partitions = 2
		})
		r := h.do("GET", c.path, nil)
		if got := ids(t, r.body, c.field, c.key); r.status != http.StatusOK || !slices.Equal(got, c.want) {
			t.Errorf("GET %s: %d %s, want %v", c.path, r.status, r.body, c.want)
		}
		r = request(t, h.url, testAdminToken, "GET", c.path, nil, "X-Invsync-Forwarded", "1")
		if got := ids(t, r.body, c.field, c.key); r.status != http.StatusOK || !slices.Equal(got, c.want[:1]) {
			t.Errorf("GET %s forwarded by a peer: %d %s, want %v", c.path, r.status, r.body, c.want[:1])
		}
		h = newHarness(t, func(cfg *ingest.Config) {
			cfg.Router = fakeRouter{peers: []string{peer.URL, down.URL}}
			cfg.Commands, cfg.Recon, cfg.CommandResults = unusedCommands{}, halfRecon{}, unusedCommandResults{}
			cfg.Partitions = 2
		})
		assertError(t, h.do("GET", c.path, nil), http.StatusServiceUnavailable, string(api.CodePartitionNotOwned))
	}
}
