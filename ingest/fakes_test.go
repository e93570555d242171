package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/invsync/invsync/processors"
)

// fakePublisher records what it is given. It can be told to fail: every
// transaction of the next failCalls Produce calls, or only the one at
// failIndex (a partial failure), with an error wrapping
// errKafkaUnavailable.
type fakePublisher struct {
	mu        sync.Mutex
	published []processors.Transaction
	calls     int
	failCalls int
	failIndex int // -1: none
	// after, when set, runs after a successful Produce (outside the lock),
	// e.g. to let the processors "apply" what was written.
	after func([]processors.Transaction)
}

func newFakePublisher() *fakePublisher { return &fakePublisher{failIndex: -1} }

func (p *fakePublisher) Produce(_ context.Context, txs []processors.Transaction) []error {
	p.mu.Lock()
	p.calls++
	errs := make([]error, len(txs))
	failed := false
	for i, tx := range txs {
		if p.failCalls > 0 || i == p.failIndex {
			errs[i] = fmt.Errorf("%w: producing %s: NOT_ENOUGH_REPLICAS", errKafkaUnavailable, tx.TransactionID)
			failed = true
			continue
		}
		// A partial failure still writes the others, as Kafka would.
		p.published = append(p.published, tx)
	}
	if p.failCalls > 0 {
		p.failCalls--
	}
	after := p.after
	p.mu.Unlock()
	if !failed && after != nil {
		after(txs)
	}
	return errs
}

func (p *fakePublisher) fail(calls int) {
	p.mu.Lock()
	p.failCalls = calls
	p.mu.Unlock()
}

func (p *fakePublisher) failOnly(i int) {
	p.mu.Lock()
	p.failIndex = i
	p.mu.Unlock()
}

func (p *fakePublisher) setAfter(fn func([]processors.Transaction)) {
	p.mu.Lock()
	p.after = fn
	p.mu.Unlock()
}

func (p *fakePublisher) produceCalls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

func (p *fakePublisher) heal() {
	p.mu.Lock()
	p.failCalls, p.failIndex = 0, -1
	p.mu.Unlock()
}

// txs returns a copy of everything written so far.
func (p *fakePublisher) txs() []processors.Transaction {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.published)
}

func (p *fakePublisher) ids() []string {
	var ids []string
	for _, tx := range p.txs() {
		ids = append(ids, tx.TransactionID)
	}
	return ids
}

func (p *fakePublisher) byID(id string) (processors.Transaction, bool) {
	for _, tx := range p.txs() {
		if tx.TransactionID == id {
			return tx, true
		}
	}
	return processors.Transaction{}, false
}

// fakeCatalog is a CatalogStore over a real processors.Catalog.
type fakeCatalog struct {
	cat    *processors.Catalog
	loaded atomic.Bool

	mu        sync.Mutex
	failWith  error
	published []processors.CatalogDoc
}

func newFakeCatalog(doc processors.CatalogDoc) *fakeCatalog {
	c := processors.NewCatalog(processors.Limits{})
	c.Load(doc)
	f := &fakeCatalog{cat: c}
	f.loaded.Store(true)
	return f
}

func (c *fakeCatalog) Catalog() *processors.Catalog { return c.cat }

func (c *fakeCatalog) Publish(_ context.Context, doc processors.CatalogDoc) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failWith != nil {
		return c.failWith
	}
	c.published = append(c.published, doc)
	c.cat.Load(doc)
	return nil
}

func (c *fakeCatalog) Loaded() bool { return c.loaded.Load() }

func (c *fakeCatalog) setFail(err error) {
	c.mu.Lock()
	c.failWith = err
	c.mu.Unlock()
}

func (c *fakeCatalog) setLoaded(v bool) { c.loaded.Store(v) }

func (c *fakeCatalog) publishedDocs() []processors.CatalogDoc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.published)
}

// fakeState holds outcomes and records. When err is set every read fails
// with it (e.g. a partitionErr).
type fakeState struct {
	mu       sync.Mutex
	outcomes map[string]processors.Outcome
	records  []processors.Record
	err      error

	// The arguments of the last Positions call.
	posWH, posItem string
	posLoc, posLot *string
}

func newFakeState() *fakeState { return &fakeState{outcomes: map[string]processors.Outcome{}} }

func (s *fakeState) Positions(_ context.Context, wh, item string, loc, lot *string) ([]processors.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.posWH, s.posItem, s.posLoc, s.posLot = wh, item, loc, lot
	if s.err != nil {
		return nil, s.err
	}
	var out []processors.Record
	for _, r := range s.records {
		if r.WarehouseID == wh && r.ItemID == item && (loc == nil || *loc == r.LocationID) && (lot == nil || *lot == r.LotNumber) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *fakeState) Outcome(ctx context.Context, _, txid string) (processors.Outcome, bool, error) {
	return s.FindOutcome(ctx, txid)
}

func (s *fakeState) FindOutcome(_ context.Context, txid string) (processors.Outcome, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return processors.Outcome{}, false, s.err
	}
	o, ok := s.outcomes[txid]
	return o, ok, nil
}

func (s *fakeState) put(o processors.Outcome) {
	s.mu.Lock()
	s.outcomes[o.TransactionID] = o
	s.mu.Unlock()
}

func (s *fakeState) setRecords(recs []processors.Record) {
	s.mu.Lock()
	s.records = recs
	s.mu.Unlock()
}

// lastFilters returns the locationId and lotNumber filters of the last
// Positions call.
func (s *fakeState) lastFilters() (loc, lot *string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posLoc, s.posLot
}

func (s *fakeState) setErr(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

func (s *fakeState) snapshot() map[string]processors.Outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.outcomes)
}

// fakeOutcomes is the Subscriber: emit stores an outcome in the state (as
// the processor's commit would) and then delivers it to subscribers and
// OnOutcome hooks.
type fakeOutcomes struct {
	state *fakeState

	mu    sync.Mutex
	subs  map[string][]chan processors.Outcome
	hooks []func(processors.Outcome)
	live  int // open subscriptions
}

func newFakeOutcomes(st *fakeState) *fakeOutcomes {
	return &fakeOutcomes{state: st, subs: map[string][]chan processors.Outcome{}}
}

func (f *fakeOutcomes) Subscribe(txid string) (<-chan processors.Outcome, func()) {
	ch := make(chan processors.Outcome, 1)
	f.mu.Lock()
	f.subs[txid] = append(f.subs[txid], ch)
	f.live++
	f.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.subs[txid] = slices.DeleteFunc(f.subs[txid], func(c chan processors.Outcome) bool { return c == ch })
			if len(f.subs[txid]) == 0 {
				delete(f.subs, txid)
			}
			f.live--
		})
	}
}

func (f *fakeOutcomes) OnOutcome(fn func(processors.Outcome)) {
	f.mu.Lock()
	f.hooks = append(f.hooks, fn)
	f.mu.Unlock()
}

func (f *fakeOutcomes) emit(o processors.Outcome) {
	f.state.put(o)
	f.mu.Lock()
	hooks := slices.Clone(f.hooks)
	subs := slices.Clone(f.subs[o.TransactionID])
	f.mu.Unlock()
	for _, h := range hooks {
		h(o)
	}
	for _, ch := range subs {
		select {
		case ch <- o:
		default:
		}
	}
}

func (f *fakeOutcomes) open() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.live
}

// fakeReady is the Readiness.
func (r *fakeReady) set(ok bool, why string) {
	r.mu.Lock()
	r.ok, r.why = ok, why
	r.mu.Unlock()
}

type fakeReady struct {
	mu  sync.Mutex
	ok  bool
	why string
}

func (r *fakeReady) Ready() (bool, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ok, r.why
}

// errKafkaUnavailable stands for the producer's failure to reach Kafka.
var errKafkaUnavailable = errors.New("kafka unavailable")

// partitionErr is a read the instance cannot answer now, as the pipeline
// reports it (ingest.PartitionUnavailable).
type partitionErr struct {
	partition int32
	elsewhere bool
}

func (e partitionErr) Error() string {
	if e.elsewhere {
		return fmt.Sprintf("partition %d: partition owned by another instance", e.partition)
	}
	return fmt.Sprintf("partition %d: partition state is being restored", e.partition)
}
func (e partitionErr) PartitionID() int32   { return e.partition }
func (e partitionErr) OwnedElsewhere() bool { return e.elsewhere }
