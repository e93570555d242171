package ingest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invsync/invsync/auth"
	"github.com/invsync/invsync/ingest"
	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/processors"
)

// changes is what the pipeline's tables and notifiers are to the stream:
// each reports its changes to the hooks registered on it.
type changes struct {
	mu    sync.Mutex
	hooks []func(string)
}

func (c *changes) OnChange(fn func(string)) {
	c.mu.Lock()
	c.hooks = append(c.hooks, fn)
	c.mu.Unlock()
}

func (c *changes) changed(key string) {
	c.mu.Lock()
	hooks := c.hooks
	c.mu.Unlock()
	for _, fn := range hooks {
		fn(key)
	}
}

type streamTokens struct {
	registryTokens
	changes
}

type streamFleet struct {
	*fakeFleet
	changes
}

type streamLocks struct {
	changes
	mu    sync.Mutex
	locks map[string]processors.Lock
}

func (l *streamLocks) Acquire(context.Context, processors.Lock) (processors.Lock, bool, processors.Lock, error) {
	panic("not used")
}
func (l *streamLocks) Release(context.Context, string, time.Time) (processors.Lock, bool, error) {
	panic("not used")
}
func (l *streamLocks) Get(id string) (processors.Lock, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lk, ok := l.locks[id]
	return lk, ok
}
func (l *streamLocks) Active(string, time.Time) []processors.Lock { return nil }

func (l *streamLocks) put(lk processors.Lock) {
	l.mu.Lock()
	l.locks[lk.LockID] = lk
	l.mu.Unlock()
	l.changed(lk.LockID)
}

// streamHarness is a server whose stream tickers the test drives.
type streamHarness struct {
	t        *testing.T
	api      *ingest.Server
	url      string
	reg      *auth.Registry
	tokens   *streamTokens
	fleet    *streamFleet
	locks    *streamLocks
	outcomes *fakeOutcomes
	tickMu   sync.Mutex
	ticks    map[time.Duration][]chan time.Time // each stream's tickers
	secrets  map[string]string                  // name -> secret
	ids      map[string]string                  // name -> token id
}

func newStreamHarness(t *testing.T) *streamHarness {
	t.Helper()
	reg := testRegistry()
	st := newFakeState()
	h := &streamHarness{t: t, reg: reg, tokens: &streamTokens{registryTokens: registryTokens{reg}},
		fleet: &streamFleet{fakeFleet: newFakeFleet()}, locks: &streamLocks{locks: map[string]processors.Lock{}},
		outcomes: newFakeOutcomes(st),
		ticks:    map[time.Duration][]chan time.Time{}}
	h.secrets, h.ids = issueTokens(t, reg, "", serverNow,
		testToken{"SCANNER-08", auth.RoleScanner, []string{wh1}},
		testToken{"SCANNER-20", auth.RoleScanner, []string{wh2}},
		testToken{"sup-1", auth.RoleSupervisor, []string{wh1}},
		testToken{"sup-2", auth.RoleSupervisor, []string{wh1}},
		testToken{"reader-1", auth.RoleReader, []string{wh1}},
		testToken{"cloud-1", auth.RoleCloud, []string{"*"}})
	h.secrets["admin"] = testAdminToken
	api, err := ingest.New(ingest.Config{
		Publisher: newFakePublisher(), Catalog: newFakeCatalog(testCatalogDoc()), State: st, Outcomes: h.outcomes,
		Ready: &fakeReady{ok: true}, Now: func() time.Time { return serverNow }, Auth: reg,
		Tokens: h.tokens, Fleet: h.fleet, Locks: h.locks,
		StreamTicker: func(d time.Duration) (<-chan time.Time, func()) {
			ch := make(chan time.Time, 1)
			h.tickMu.Lock()
			h.ticks[d] = append(h.ticks[d], ch)
			h.tickMu.Unlock()
			return ch, func() {}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	api.Open()
	h.api = api
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

// tick fires every stream's ticker of period d.
func (h *streamHarness) tick(d time.Duration) {
	h.tickMu.Lock()
	defer h.tickMu.Unlock()
	if len(h.ticks[d]) == 0 {
		h.t.Fatalf("no ticker of %v", d)
	}
	for _, ch := range h.ticks[d] {
		ch <- serverNow
	}
}

// stream is an open GET /v1/console/stream read line by line.
type stream struct {
	t      *testing.T
	frames chan string // each frame's lines, joined; closed at the end
	cancel context.CancelFunc
}

func (h *streamHarness) open(who, query string) (*stream, *http.Response) {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.url+"/v1/console/stream"+query, nil)
	if who != "" {
		req.Header.Set("Authorization", "Bearer "+h.secrets[who])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		cancel()
		return nil, res
	}
	s := &stream{t: h.t, frames: make(chan string, 1000), cancel: cancel}
	go func() {
		defer close(s.frames)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var lines []string
		for sc.Scan() {
			if sc.Text() == "" {
				s.frames <- strings.Join(lines, "\n")
				lines = nil
				continue
			}
			lines = append(lines, sc.Text())
		}
	}()
	return s, res
}

// next is the next frame; it fails the test after 5 s.
func (s *stream) next() string {
	s.t.Helper()
	select {
	case f, ok := <-s.frames:
		if !ok {
			s.t.Fatal("the stream ended")
		}
		return f
	case <-time.After(5 * time.Second):
		s.t.Fatal("no frame in 5 s")
		return ""
	}
}

// event is the next frame that is an event (comments skipped), decoded.
func (s *stream) event() ingest.StreamEvent {
	s.t.Helper()
	for {
		f := s.next()
		var name, data string
		for _, l := range strings.Split(f, "\n") {
			if v, ok := strings.CutPrefix(l, "event: "); ok {
				name = v
			}
			if v, ok := strings.CutPrefix(l, "data: "); ok {
				data = v
			}
		}
		if name == "" {
			continue
		}
		var ev ingest.StreamEvent
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			s.t.Fatalf("event %q: %v", f, err)
		}
		if ev.Kind != name {
			s.t.Errorf("event: %s carries kind %s", name, ev.Kind)
		}
		return ev
	}
}

// ends waits for the server to end the stream.
func (s *stream) ends() {
	s.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-s.frames:
			if !ok {
				return
			}
		case <-deadline:
			s.t.Fatal("the stream did not end")
		}
	}
}

func wantEvent(t *testing.T, got ingest.StreamEvent, kind, id string) {
	t.Helper()
	if got.Kind != kind || got.ID != id {
		t.Errorf("event %+v, want %s %s", got, kind, id)
	}
}

func TestStreamRefusals(t *testing.T) {
	h := newStreamHarness(t)
	for _, c := range []struct {
		who, query string
		status     int
	}{
		{"", "", http.StatusUnauthorized},
		{"SCANNER-08", "", http.StatusForbidden},
		{"cloud-1", "", http.StatusForbidden},
		{"sup-1", "?warehouseId=" + wh2, http.StatusForbidden},
	} {
		if s, res := h.open(c.who, c.query); s != nil || res.StatusCode != c.status {
			t.Errorf("%q %q: %d, want %d", c.who, c.query, res.StatusCode, c.status)
		}
	}
	// Every role the console serves may open one, in its scope.
	for _, who := range []string{"admin", "sup-1", "reader-1"} {
		s, res := h.open(who, "?warehouseId="+wh1)
		if s == nil {
			t.Fatalf("%s: %d", who, res.StatusCode)
		}
		if f := s.next(); !strings.Contains(f, ": connected") {
			t.Errorf("%s: first frame %q", who, f)
		}
	}
	// A token's streams are capped; another token is not affected.
	for range 8 {
		if s, res := h.open("sup-2", ""); s == nil {
			t.Fatalf("below the cap: %d", res.StatusCode)
		}
	}
	if s, res := h.open("sup-2", ""); s != nil || res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a 9th stream of one token: %d, want 429", res.StatusCode)
	}
	if s, res := h.open("reader-1", ""); s == nil {
		t.Errorf("another token's stream: %d", res.StatusCode)
	}
}

func TestStreamDeliversChangesInScope(t *testing.T) {
	h := newStreamHarness(t)
	sup, _ := h.open("sup-1", "")
	admin, _ := h.open("admin", "")
	sup.next()
	admin.next()

	// Held counts: a held outcome of WH-002 is not the supervisor's.
	h.outcomes.emit(processors.Outcome{TransactionID: "tx-2", Status: processors.StatusHeld, WarehouseID: wh2})
	h.outcomes.emit(processors.Outcome{TransactionID: "tx-applied", Status: processors.StatusApplied, WarehouseID: wh1})
	h.outcomes.emit(processors.Outcome{TransactionID: "tx-1", Status: processors.StatusHeld, WarehouseID: wh1})
	wantEvent(t, sup.event(), ingest.StreamHeld, "tx-1")
	wantEvent(t, admin.event(), ingest.StreamHeld, "tx-2")
	wantEvent(t, admin.event(), ingest.StreamHeld, "tx-1")

	// Scanners: by the warehouses of the scanner's token.
	h.fleet.changed("SCANNER-20")
	h.fleet.changed("SCANNER-08")
	wantEvent(t, sup.event(), ingest.StreamScanner, "SCANNER-08")
	wantEvent(t, admin.event(), ingest.StreamScanner, "SCANNER-20")
	wantEvent(t, admin.event(), ingest.StreamScanner, "SCANNER-08")

	// Locks: by the lock's warehouse.
	h.locks.put(processors.Lock{LockID: "lk-2", WarehouseID: wh2, LocationID: locC, ScannerID: "SCANNER-20"})
	h.locks.put(processors.Lock{LockID: "lk-1", WarehouseID: wh1, LocationID: locA, ScannerID: "SCANNER-08"})
	wantEvent(t, sup.event(), ingest.StreamLock, "lk-1")
	wantEvent(t, admin.event(), ingest.StreamLock, "lk-2")
	wantEvent(t, admin.event(), ingest.StreamLock, "lk-1")

	// Discrepancies and decided counts, through Notify (what the command
	// notifier's hook calls).
	h.api.Notify(ingest.StreamEvent{Kind: ingest.StreamDiscrepancy, ID: "d-2", Warehouses: []string{wh2}})
	h.api.Notify(ingest.StreamEvent{Kind: ingest.StreamDiscrepancy, ID: "d-1", Warehouses: []string{wh1}})
	wantEvent(t, sup.event(), ingest.StreamDiscrepancy, "d-1")
	wantEvent(t, admin.event(), ingest.StreamDiscrepancy, "d-2")
	wantEvent(t, admin.event(), ingest.StreamDiscrepancy, "d-1")

	// Tokens: only an admin is told.
	h.tokens.changed(h.ids["reader-1"])
	wantEvent(t, admin.event(), ingest.StreamToken, h.ids["reader-1"])

	// The overview tick and the heartbeat come from the tickers; the
	// token event above was not the supervisor's.
	h.tick(5 * time.Second)
	wantEvent(t, sup.event(), ingest.StreamOverview, "")
	h.tick(15 * time.Second)
	if f := sup.next(); f != ": heartbeat" {
		t.Errorf("heartbeat frame %q", f)
	}
}

func TestStreamScopedToOneWarehouse(t *testing.T) {
	h := newStreamHarness(t)
	admin, _ := h.open("admin", "?warehouseId="+wh2)
	admin.next()
	h.fleet.changed("SCANNER-08")
	h.fleet.changed("SCANNER-20")
	wantEvent(t, admin.event(), ingest.StreamScanner, "SCANNER-20")
}

func TestStreamEndsWhenTokenRevoked(t *testing.T) {
	h := newStreamHarness(t)
	sup, _ := h.open("sup-1", "")
	sup.next()
	if _, _, err := h.tokens.Revoke(context.Background(), h.ids["sup-1"], serverNow); err != nil {
		t.Fatal(err)
	}
	h.tokens.changed(h.ids["sup-1"])
	sup.ends()
	if s, res := h.open("sup-1", ""); s != nil || res.StatusCode != http.StatusUnauthorized {
		t.Errorf("reconnecting with a revoked token: %d, want 401", res.StatusCode)
	}
}

func TestStreamEndsAtShutdown(t *testing.T) {
	h := newStreamHarness(t)
	sup, _ := h.open("sup-1", "")
	sup.next()
	h.api.CloseStreams()
	sup.ends()
	if s, res := h.open("sup-1", ""); s != nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a stream after shutdown began: %d, want 503", res.StatusCode)
	}
}

// A client that stops reading never holds up whoever publishes changes.
func TestStreamSlowReaderDoesNotBlockPublishers(t *testing.T) {
	h := newStreamHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.url+"/v1/console/stream", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close() // never read
	fast, _ := h.open("sup-1", "")
	fast.next()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 20000 {
			h.api.Notify(ingest.StreamEvent{Kind: ingest.StreamDiscrepancy, ID: strings.Repeat("x", 200) + string(rune('a'+i%26)), Warehouses: []string{wh2}})
		}
		h.api.Notify(ingest.StreamEvent{Kind: ingest.StreamDiscrepancy, ID: "d-1", Warehouses: []string{wh1}})
	}()
	testkit.Receive(t, done, 10*time.Second, "publishing not to block behind a client that does not read")
	wantEvent(t, fast.event(), ingest.StreamDiscrepancy, "d-1")
}
