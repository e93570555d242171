package mirror

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/schemas"
)

// reportServer is an in-test reconciliation endpoint that records what it
// is sent and answers like the contract.
type reportServer struct {
	*httptest.Server
	mu       sync.Mutex
	bodies   []reportRequest
	auth     []string
	statuses []int // served in order; 200 once exhausted
}

const testToken = "cloud-token-0123456789abcdef0123456789"

func newReportServer(t *testing.T, statuses ...int) *reportServer {
	s := &reportServer{statuses: statuses}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/reconciliation/reports" {
			t.Errorf("request %s %s", r.Method, r.URL.Path)
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Get("wait") != "compared" {
			t.Errorf("report posted without ?wait=compared (%s): the server would answer before comparing", r.URL)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		raw, _ := io.ReadAll(r.Body)
		var body reportRequest
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			t.Errorf("report body does not decode: %v: %s", err, raw)
		}
		// The wire names, checked on the raw JSON.
		for _, field := range []string{`"reportId":`, `"warehouseId":`, `"complete":`, `"positions":`} {
			if !strings.Contains(string(raw), field) {
				t.Errorf("report body lacks %s: %.200s", field, raw)
			}
		}
		s.mu.Lock()
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		status := http.StatusOK
		if len(s.statuses) > 0 {
			status, s.statuses = s.statuses[0], s.statuses[1:]
		}
		if status == http.StatusOK {
			s.bodies = append(s.bodies, body)
		}
		s.mu.Unlock()
		if status != http.StatusOK {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"error": {"code": "X", "message": "status %d"}}`, status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"reportId": %q, "compared": %d, "agreed": %d, "behind": 0, "discrepancies": ["d-1"]}`,
			body.ReportID, len(body.Positions), len(body.Positions)-1)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *reportServer) requests() ([]reportRequest, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.bodies), slices.Clone(s.auth)
}

// seedPositions writes locations[i] positions for item i of warehouse wh.
func seedPositions(t *testing.T, db *database, wh string, locations []int) map[positionKey]posState {
	t.Helper()
	s := &store{db: db, now: time.Now}
	b := newBatch()
	for i, n := range locations {
		for l := range n {
			e := event(wh, fmt.Sprintf("ITEM-%05d", i), fmt.Sprintf("L-%03d", l), schemas.EventInventoryReceipt, int64(i+l), int64(1+l%3), t0)
			row, err := positionFromEvent(&e)
			if err != nil {
				t.Fatal(err)
			}
			b.addPosition(row)
		}
	}
	b.offsets[topicPartition{"seed-" + wh, 0}] = offsetRange{0, 1}
	if err := s.apply(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	out := map[positionKey]posState{}
	for k, r := range b.positions {
		out[k] = posState{OnHand: r.OnHand, Version: r.Version}
	}
	return out
}

func reportMirror(t *testing.T, d testDB, url string) *Mirror {
	t.Helper()
	m, err := New(Config{Brokers: []string{"127.0.0.1:1"}, SQLURL: d.url, URL: url, Token: testToken,
		Logger: testLogger(t), Now: func() time.Time { return time.Date(2026, 11, 26, 10, 15, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestReportPagesByItemRange(t *testing.T) {
	forEachDB(t, func(t *testing.T, d testDB) {
		db := openTestDB(t, d)
		small := seedPositions(t, db, "WH-A", []int{1, 2})
		// 3,000 items with 1 to 7 locations each: about 12,000 positions.
		locs := make([]int, 3000)
		for i := range locs {
			locs[i] = 1 + (i*7+3)%7
		}
		large := seedPositions(t, db, "WH-B", locs)
		srv := newReportServer(t)
		m := reportMirror(t, d, srv.URL)
		if err := m.report(context.Background(), maxReportPositions); err != nil {
			t.Fatal(err)
		}
		bodies, auth := srv.requests()
		for _, a := range auth {
			if a != "Bearer "+testToken {
				t.Fatalf("Authorization %q", a)
			}
		}
		const at = "2026-11-26T10:15:00Z"
		if len(bodies) < 4 {
			t.Fatalf("%d requests, want 1 for WH-A and at least 3 pages for WH-B", len(bodies))
		}
		a := bodies[0]
		if a.ReportID != "mirror-WH-A-"+at || a.WarehouseID != "WH-A" || !a.Complete || a.ItemRange != nil || len(a.Positions) != len(small) {
			t.Fatalf("WH-A report: %+v", a)
		}
		got := map[positionKey]posState{}
		itemPage := map[string]int{}
		prevTo := ""
		for i, b := range bodies[1:] {
			if want := fmt.Sprintf("mirror-WH-B-%s-p%d", at, i+1); b.ReportID != want || b.WarehouseID != "WH-B" {
				t.Fatalf("page %d is %s for %s, want %s", i+1, b.ReportID, b.WarehouseID, want)
			}
			if !b.Complete || b.ItemRange == nil || len(b.Positions) == 0 || len(b.Positions) > maxReportPositions {
				t.Fatalf("page %s: complete %v, range %v, %d positions", b.ReportID, b.Complete, b.ItemRange, len(b.Positions))
			}
			if b.ItemRange.From != b.Positions[0].ItemID || b.ItemRange.To != b.Positions[len(b.Positions)-1].ItemID || b.ItemRange.From <= prevTo {
				t.Fatalf("page %s: range %v after %q; positions %s..%s", b.ReportID, *b.ItemRange, prevTo,
					b.Positions[0].ItemID, b.Positions[len(b.Positions)-1].ItemID)
			}
			prevTo = b.ItemRange.To
			for _, p := range b.Positions {
				if pg, seen := itemPage[p.ItemID]; seen && pg != i {
					t.Fatalf("item %s is split between pages %d and %d", p.ItemID, pg+1, i+1)
				}
				itemPage[p.ItemID] = i
				got[positionKey{"WH-B", p.ItemID, p.LocationID, p.LotNumber}] = posState{OnHand: p.OnHand, Version: p.Version}
			}
		}
		if diff := diffPositions(large, got); diff != "" {
			t.Fatal(diff)
		}
	})
}

func TestReportOversizedItemAndRetries(t *testing.T) {
	d := newSQLiteDB(t)
	db := openTestDB(t, d)
	seedPositions(t, db, "WH-C", []int{3, 25, 4, 7})
	// The first request is refused with 503 and retried; then every page
	// is taken.
	srv := newReportServer(t, http.StatusServiceUnavailable)
	m := reportMirror(t, d, srv.URL)
	if err := m.report(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	bodies, auth := srv.requests()
	if len(auth) != len(bodies)+1 {
		t.Fatalf("%d requests for %d reports taken: the 503 was not retried once", len(auth), len(bodies))
	}
	var shape []string
	for _, b := range bodies {
		r := "-"
		if b.ItemRange != nil {
			r = b.ItemRange.From[len(b.ItemRange.From)-1:] + ".." + b.ItemRange.To[len(b.ItemRange.To)-1:]
		}
		shape = append(shape, fmt.Sprintf("%s:%v:%s:%d", b.ReportID[len(b.ReportID)-2:], b.Complete, r, len(b.Positions)))
	}
	// ITEM-00001 has 25 positions: three chunks that claim no completeness.
	want := []string{"p1:true:0..0:3", "p2:false:-:10", "p3:false:-:10", "p4:false:-:5", "p5:true:2..2:4", "p6:true:3..3:7"}
	if !slices.Equal(shape, want) {
		t.Fatalf("pages %v, want %v", shape, want)
	}

	// A refusal that retrying cannot cure is not retried.
	srv401 := newReportServer(t, http.StatusUnauthorized)
	m = reportMirror(t, d, srv401.URL)
	if err := m.report(context.Background(), 100); err != nil {
		t.Fatal(err)
	}
	if bodies, auth := srv401.requests(); len(auth) != 1 || len(bodies) != 0 {
		t.Fatalf("401: %d requests, %d taken; want 1 and 0", len(auth), len(bodies))
	}
}

// TestMirrorReportsAfterCatchingUp: a running mirror reports once it has
// caught up, and again every ReportInterval.
func TestMirrorReportsAfterCatchingUp(t *testing.T) {
	d := newSQLiteDB(t)
	k, w, prod := newTestWorld(t, 9, 2, 2, 10, 2)
	w.round(t, prod, 300, 100, 0, 0)
	k.waitStable(t, k.topics.InventoryEvents, k.topics.AllocationDecisions) // the first report must see it all
	srv := newReportServer(t)
	startMirror(t, Config{Brokers: k.brokers, TopicPrefix: k.prefix, SQLURL: d.url, URL: srv.URL, Token: testToken,
		ReportInterval: time.Second, Logger: testLogger(t)})
	testkit.Eventually(t, 30*time.Second, func() error {
		bodies, _ := srv.requests()
		if len(bodies) < 4 { // two warehouses, two rounds
			return testkit.Not("%d reports so far", len(bodies))
		}
		return nil
	})
	bodies, _ := srv.requests()
	want := w.expectedPositions(nil)
	got := map[positionKey]posState{}
	for _, b := range bodies[:2] {
		for _, p := range b.Positions {
			got[positionKey{b.WarehouseID, p.ItemID, p.LocationID, p.LotNumber}] = posState{OnHand: p.OnHand, Version: p.Version}
		}
	}
	for k, s := range want {
		if g := got[k]; g.OnHand != s.OnHand || g.Version != s.Version {
			t.Fatalf("first report has %v as %+v, want onHand %d version %d", k, g, s.OnHand, s.Version)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("first report has %d positions, want %d", len(got), len(want))
	}
}
