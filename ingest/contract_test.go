package ingest_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/invsync/invsync/api/apitest"
	"github.com/invsync/invsync/auth"
	"github.com/invsync/invsync/ingest"
	"github.com/invsync/invsync/processors"
)

// TestContract runs the API's contract suite against the real server: the
// real gin handlers, decoder, catalog checks, idempotency and auth, with
// the real processors applying what is published (synchronously, on an
// in-memory store standing in for a partition's Pebble state and Kafka).
// The fakes of the API (web, scanner) run the same suite.
func TestContract(t *testing.T) {
	fx := apitest.Fixture{Warehouse: wh1, Location: locA, OtherLocation: locB, Item: plainItem, OtherWarehouse: wh2}
	now := time.Now()
	reg := auth.NewRegistry()
	for _, tok := range []struct {
		secret *string
		name   string
		role   auth.Role
	}{
		{&fx.ScannerToken, "SCANNER-1", auth.RoleScanner},
		{&fx.OtherScannerToken, "SCANNER-2", auth.RoleScanner},
		{&fx.ReaderToken, "READER-1", auth.RoleReader},
		{&fx.CloudToken, "CLOUD-1", auth.RoleCloud},
	} {
		tk, secret, err := auth.New(auth.Request{Name: tok.name, Role: tok.role, Warehouses: []string{wh1}, CreatedBy: "contract"}, now)
		if err != nil {
			t.Fatal(err)
		}
		reg.Apply(tk)
		*tok.secret = secret
	}
	fx.ScannerID, fx.OtherScannerID = "SCANNER-1", "SCANNER-2"
	apitest.Run(t, apitest.Harness{
		Fixture: fx,
		Capabilities: []apitest.Capability{apitest.Uploads, apitest.WaitApplied, apitest.TransactionStatus, apitest.CatalogChecks,
			apitest.Me, apitest.Catalog, apitest.Positions, apitest.Locks, apitest.Roles, apitest.Versions, apitest.Allocations},
		New: func(t *testing.T) string {
			b := newAppliedBackend()
			srv, err := ingest.New(ingest.Config{
				Publisher: b, Catalog: newFakeCatalog(testCatalogDoc()), State: b, Outcomes: b.outcomes,
				Ready: &fakeReady{ok: true}, Auth: reg, MaxWait: 2 * time.Second,
				Locks:     &fakeLocker{table: processors.NewLockTable()},
				Allocator: b, Allocations: b, Decisions: b,
			})
			if err != nil {
				t.Fatal(err)
			}
			srv.Open()
			hs := httptest.NewServer(srv)
			t.Cleanup(hs.Close)
			return hs.URL
		},
	})
}

// appliedBackend publishes by applying: each produced transaction or
// allocation request is decided by the processors at once and its outcome
// or decision delivered, as the pipeline does after Kafka.
type appliedBackend struct {
	mu       sync.Mutex
	store    *memStore
	proc     *processors.Processor
	outcomes *fakeOutcomes
	decided  map[string][]chan processors.Allocation // allocationId -> subscribers
}

func newAppliedBackend() *appliedBackend {
	return &appliedBackend{store: &memStore{m: map[string][]byte{}}, proc: processors.New(processors.Config{}),
		outcomes: newFakeOutcomes(newFakeState()), decided: map[string][]chan processors.Allocation{}}
}

func (b *appliedBackend) ProduceAllocation(_ context.Context, req *processors.AllocRequest) error {
	b.mu.Lock()
	res, err := b.proc.Allocate(b.store, req, time.Now())
	subs := slices.Clone(b.decided[req.AllocationID])
	b.mu.Unlock()
	if err == nil && !res.Duplicate {
		for _, ch := range subs {
			select {
			case ch <- res.Allocation:
			default:
			}
		}
	}
	return err
}

func (b *appliedBackend) Subscribe(id string) (<-chan processors.Allocation, func()) {
	ch := make(chan processors.Allocation, 1)
	b.mu.Lock()
	b.decided[id] = append(b.decided[id], ch)
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		b.decided[id] = slices.DeleteFunc(b.decided[id], func(c chan processors.Allocation) bool { return c == ch })
		b.mu.Unlock()
	}
}

func (b *appliedBackend) Allocation(ctx context.Context, _, _, id string) (processors.Allocation, bool, error) {
	return b.FindAllocation(ctx, id)
}

func (b *appliedBackend) FindAllocation(_ context.Context, id string) (processors.Allocation, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return processors.LookupAllocation(b.store, id)
}

func (b *appliedBackend) OrderAllocations(_ context.Context, orderID string) ([]processors.Allocation, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return processors.OrderAllocations(b.store, orderID)
}

func (b *appliedBackend) Produce(_ context.Context, txs []processors.Transaction) []error {
	errs := make([]error, len(txs))
	for i := range txs {
		b.mu.Lock()
		res, err := b.proc.Apply(b.store, &txs[i], time.Now())
		b.mu.Unlock()
		if errs[i] = err; err == nil && !res.Duplicate {
			b.outcomes.emit(res.Outcome)
		}
	}
	return errs
}

func (b *appliedBackend) Positions(_ context.Context, wh, item string, loc, lot *string) ([]processors.Record, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return processors.Positions(b.store, wh, item, loc, lot)
}

func (b *appliedBackend) Outcome(_ context.Context, _, txid string) (processors.Outcome, bool, error) {
	return b.FindOutcome(context.Background(), txid)
}

func (b *appliedBackend) FindOutcome(_ context.Context, txid string) (processors.Outcome, bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return processors.LookupOutcome(b.store, txid)
}

// memStore is a processors.Store in memory.
type memStore struct{ m map[string][]byte }

func (s *memStore) Get(key []byte) ([]byte, bool, error) {
	v, ok := s.m[string(key)]
	return bytes.Clone(v), ok, nil
}

func (s *memStore) Set(key, value []byte) error {
	s.m[string(key)] = bytes.Clone(value)
	return nil
}

func (s *memStore) Delete(key []byte) error {
	delete(s.m, string(key))
	return nil
}

func (s *memStore) Scan(lo, hi []byte, fn func(k, v []byte) error) error {
	var keys []string
	for k := range s.m {
		if k >= string(lo) && (hi == nil || k < string(hi)) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn([]byte(k), bytes.Clone(s.m[k])); err != nil {
			return err
		}
	}
	return nil
}
