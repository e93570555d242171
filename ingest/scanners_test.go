package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/auth"
	"github.com/invsync/invsync/ingest"
	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/processors"
)

// fakeFleet keeps device reports in memory, as pipeline.FleetTable does
// on every instance.
type fakeFleet struct {
	mu      sync.Mutex
	reports map[string]processors.DeviceReport
	writes  int
}

func newFakeFleet() *fakeFleet { return &fakeFleet{reports: map[string]processors.DeviceReport{}} }

func (f *fakeFleet) Report(_ context.Context, r processors.DeviceReport, _ bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.LastUploadAt == nil {
		r.LastUploadAt = f.reports[r.ScannerID].LastUploadAt
	}
	r.Uploads = processors.MergeUploads(f.reports[r.ScannerID].Uploads, r.Uploads)
	f.reports[r.ScannerID] = r
	f.writes++
	return nil
}

func (f *fakeFleet) Get(id string) (processors.DeviceReport, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.reports[id]
	return r, ok
}

func (f *fakeFleet) Reports() map[string]processors.DeviceReport {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.reports)
}

func (f *fakeFleet) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes
}

// registryTokens is a TokenStore over an auth.Registry (what
// pipeline.TokenTable is, without Kafka).
type registryTokens struct{ *auth.Registry }

func (r registryTokens) Publish(_ context.Context, t auth.Token) error { r.Apply(t); return nil }
func (r registryTokens) Revoke(_ context.Context, id string, now time.Time) (auth.Token, bool, error) {
	t, ok := r.Get(id)
	if !ok {
		return t, false, nil
	}
	at := now.UTC()
	t.RevokedAt = &at
	r.Apply(t)
	return t, true, nil
}

// fleetHarness is a server with a fleet, a settable clock, a real
// Prometheus exporter and tokens of every role.
type fleetHarness struct {
	*harness
	fleet  *fakeFleet
	reg    *auth.Registry
	clock  *testkit.Clock
	secret map[string]string // token name -> secret
	ids    map[string]string // token name -> tokenId
}

func newFleetHarness(t *testing.T) *fleetHarness {
	t.Helper()
	f := &fleetHarness{fleet: newFakeFleet(), reg: testRegistry(), clock: testkit.NewClock(serverNow)}
	f.secret, f.ids = issueTokens(t, f.reg, "test", serverNow.Add(-time.Hour),
		testToken{"SCANNER-08", auth.RoleScanner, []string{wh1}},
		testToken{"SCANNER-09", auth.RoleScanner, []string{wh1}},
		testToken{"SCANNER-20", auth.RoleScanner, []string{wh2}},
		testToken{"SCANNER-ALL", auth.RoleScanner, []string{"*"}},
		testToken{"SCANNER-OLD", auth.RoleScanner, []string{wh1}},
		testToken{"sup-1", auth.RoleSupervisor, []string{wh1}},
		testToken{"reader-1", auth.RoleReader, []string{wh1}},
		testToken{"reader-all", auth.RoleReader, []string{"*"}},
		testToken{"cloud-1", auth.RoleCloud, []string{wh1}})
	if _, found, err := (registryTokens{f.reg}).Revoke(context.Background(), f.ids["SCANNER-OLD"], serverNow.Add(-time.Minute)); !found || err != nil {
		t.Fatalf("revoking SCANNER-OLD: found %v, %v", found, err)
	}
	promReg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(promReg), otelprom.WithoutScopeInfo())
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	f.harness = newHarness(t, func(c *ingest.Config) {
		c.Fleet = f.fleet
		c.Tokens = registryTokens{f.reg}
		c.Auth = f.reg
		c.Now = f.clock.Now
		c.Meter = mp.Meter("invsync")
		c.Metrics = promhttp.HandlerFor(promReg, promhttp.HandlerOpts{})
	})
	return f
}

// as sends a request with the token named who ("admin": the admin token).
func (f *fleetHarness) as(who, method, path string, body any) response {
	f.t.Helper()
	secret := testAdminToken
	if who != "admin" {
		secret = f.secret[who] // "": none
	}
	return request(f.t, f.url, secret, method, path, encode(f.t, body))
}

// get reads path as who, failing the test unless it is answered 200 with
// a T.
func get[T any](f *fleetHarness, who, path string) T {
	f.t.Helper()
	r := f.as(who, http.MethodGet, path, nil)
	if r.status != http.StatusOK {
		f.t.Fatalf("GET %s as %s: %d %s", path, who, r.status, r.body)
	}
	var out T
	if err := json.Unmarshal(r.body, &out); err != nil {
		f.t.Fatal(err)
	}
	return out
}

func (f *fleetHarness) list(who, query string) map[string]api.Scanner {
	f.t.Helper()
	out := get[api.ScannerList](f, who, "/v1/scanners"+query)
	m := map[string]api.Scanner{}
	for _, s := range out.Scanners {
		m[s.ScannerID] = s
	}
	return m
}

// refusal is a request the server must refuse: the token named who sends
// it to path, and the answer is an error of status and code.
type refusal struct {
	who, path string
	status    int
	code      string
}

// refuses sends each refusal's request with method and body and checks
// that it is answered with its error.
func (f *fleetHarness) refuses(t *testing.T, method string, body any, cases []refusal) {
	t.Helper()
	for _, tc := range cases {
		r := f.as(tc.who, method, tc.path, body)
		if r.status != tc.status || !strings.Contains(string(r.body), tc.code) {
			t.Errorf("%s %s as %q: %d %s, want %d %s", method, tc.path, tc.who, r.status, r.body, tc.status, tc.code)
			continue
		}
		assertError(t, r, tc.status, tc.code)
	}
}

func heartbeat(sent string, queued int, oldest any, rejected int) map[string]any {
	return map[string]any{"sentAt": sent, "queued": queued, "oldestQueuedAt": oldest, "rejected": rejected, "appVersion": "test 1"}
}

func TestHeartbeatRefusals(t *testing.T) {
	f := newFleetHarness(t)
	good := heartbeat(sentAt, 0, nil, 0)
	f.refuses(t, http.MethodPost, good, []refusal{
		{"", "/v1/scanners/SCANNER-08/heartbeat", http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"SCANNER-09", "/v1/scanners/SCANNER-08/heartbeat", http.StatusForbidden, "SCANNER_MISMATCH"},
		{"sup-1", "/v1/scanners/SCANNER-08/heartbeat", http.StatusForbidden, "SCANNER_MISMATCH"},
		{"reader-1", "/v1/scanners/SCANNER-08/heartbeat", http.StatusForbidden, "SCANNER_MISMATCH"},
		{"admin", "/v1/scanners/SCANNER-08/heartbeat", http.StatusForbidden, "SCANNER_MISMATCH"},
		{"cloud-1", "/v1/scanners/SCANNER-08/heartbeat", http.StatusForbidden, "SCANNER_MISMATCH"},
		{"SCANNER-OLD", "/v1/scanners/SCANNER-OLD/heartbeat", http.StatusUnauthorized, "UNAUTHENTICATED"},
	})
	for name, body := range map[string]any{
		"not JSON":                  "{",
		"not an object":             "[]",
		"unknown field":             `{"sentAt": "` + sentAt + `", "queued": 0, "rejected": 0, "battery": 5}`,
		"no sentAt":                 `{"queued": 0, "rejected": 0}`,
		"bad sentAt":                heartbeat("yesterday", 0, nil, 0),
		"no queued":                 `{"sentAt": "` + sentAt + `", "rejected": 0}`,
		"negative queued":           heartbeat(sentAt, -1, nil, 0),
		"fractional queued":         `{"sentAt": "` + sentAt + `", "queued": 1.5, "rejected": 0}`,
		"no rejected":               `{"sentAt": "` + sentAt + `", "queued": 0}`,
		"queued without its oldest": heartbeat(sentAt, 2, nil, 0),
		"bad oldestQueuedAt":        heartbeat(sentAt, 2, "soon", 0),
		"appVersion not a string":   `{"sentAt": "` + sentAt + `", "queued": 0, "rejected": 0, "appVersion": 3}`,
	} {
		r := f.as("SCANNER-08", http.MethodPost, "/v1/scanners/SCANNER-08/heartbeat", body)
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "INVALID_REQUEST") {
			t.Errorf("%s: %d %s, want 400 INVALID_REQUEST", name, r.status, r.body)
		}
	}
	if n := f.fleet.count(); n != 0 {
		t.Fatalf("%d reports recorded by refused heartbeats", n)
	}
}

func TestHeartbeatRecordsAndStatusFollowsTheClock(t *testing.T) {
	f := newFleetHarness(t)
	// The device clock is 10 s behind the server's: the oldest scan's
	// time is corrected by the same offset.
	sent := serverNow.Add(-10 * time.Second)
	oldest := sent.Add(-time.Hour)
	r := f.as("SCANNER-08", http.MethodPost, "/v1/scanners/SCANNER-08/heartbeat",
		heartbeat(sent.Format(time.RFC3339Nano), 3, oldest.Format(time.RFC3339Nano), 0))
	if r.status != http.StatusNoContent {
		t.Fatalf("heartbeat: %d %s", r.status, r.body)
	}
	got := f.list("sup-1", "")["SCANNER-08"]
	if got.Status != processors.FleetYellow || got.Queued != 3 || got.LastSeenAt == nil || !got.LastSeenAt.Equal(serverNow) ||
		got.OldestQueuedAt == nil || !got.OldestQueuedAt.Equal(serverNow.Add(-time.Hour)) || got.LastUploadAt != nil {
		t.Fatalf("after a heartbeat with 3 queued: %+v", got)
	}
	f.clock.Advance(2*time.Minute + time.Second)
	if got := f.list("sup-1", "")["SCANNER-08"]; got.Status != processors.FleetOffline {
		t.Fatalf("not seen for 2 min 1 s: %s, want offline", got.Status)
	}
	f.clock.Advance(7 * time.Hour)
	if got := f.list("sup-1", "")["SCANNER-08"]; got.Status != processors.FleetRed {
		t.Fatalf("oldest scan held over 8 h: %s, want red", got.Status)
	}
	r = f.as("SCANNER-08", http.MethodPost, "/v1/scanners/SCANNER-08/heartbeat", heartbeat(f.clock.Now().Format(time.RFC3339Nano), 0, nil, 0))
	if r.status != http.StatusNoContent {
		t.Fatalf("heartbeat: %d %s", r.status, r.body)
	}
	if got := f.list("sup-1", "")["SCANNER-08"]; got.Status != processors.FleetGreen || got.Queued != 0 || got.OldestQueuedAt != nil {
		t.Fatalf("after syncing: %+v, want green", got)
	}
	r = f.as("SCANNER-08", http.MethodPost, "/v1/scanners/SCANNER-08/heartbeat", heartbeat(f.clock.Now().Format(time.RFC3339Nano), 0, nil, 1))
	if r.status != http.StatusNoContent {
		t.Fatalf("heartbeat: %d %s", r.status, r.body)
	}
	if got := f.list("sup-1", "")["SCANNER-08"]; got.Status != processors.FleetRed || got.Rejected != 1 {
		t.Fatalf("a rejection waiting: %+v, want red", got)
	}
}

func TestUploadCarriesDeviceReport(t *testing.T) {
	f := newFleetHarness(t)
	body := envelope(tx("c0ffee00-0000-4000-8000-000000000001"))
	body["device"] = heartbeat(sentAt, 4, scanTime, 0)
	r := f.as("SCANNER-08", http.MethodPost, "/v1/transactions", body)
	if r.status != http.StatusOK {
		t.Fatalf("upload with device: %d %s", r.status, r.body)
	}
	got := f.list("admin", "")["SCANNER-08"]
	if got.Queued != 4 || got.LastUploadAt == nil || !got.LastUploadAt.Equal(serverNow) || got.Status != processors.FleetYellow {
		t.Fatalf("after an upload with 4 queued: %+v", got)
	}
	// A later heartbeat keeps the upload time.
	f.clock.Advance(30 * time.Second)
	if r := f.as("SCANNER-08", http.MethodPost, "/v1/scanners/SCANNER-08/heartbeat", heartbeat(sentAt, 0, nil, 0)); r.status != http.StatusNoContent {
		t.Fatalf("heartbeat: %d %s", r.status, r.body)
	}
	got = f.list("admin", "")["SCANNER-08"]
	if got.LastUploadAt == nil || !got.LastUploadAt.Equal(serverNow) || !got.LastSeenAt.Equal(serverNow.Add(30*time.Second)) {
		t.Fatalf("after a heartbeat: %+v", got)
	}
	// A bad device object refuses the whole upload: nothing written.
	writes, published := f.fleet.count(), f.pub.produceCalls()
	body = envelope(tx("c0ffee00-0000-4000-8000-000000000002"))
	body["device"] = map[string]any{"sentAt": sentAt, "queued": -3, "rejected": 0}
	assertError(t, f.as("SCANNER-08", http.MethodPost, "/v1/transactions", body), http.StatusBadRequest, "INVALID_REQUEST", "device")
	if f.fleet.count() != writes || f.pub.produceCalls() != published {
		t.Fatal("a refused upload recorded something")
	}
}

func TestScannerListScopeAndRefusals(t *testing.T) {
	f := newFleetHarness(t)
	sup := f.list("sup-1", "")
	for _, id := range []string{"SCANNER-08", "SCANNER-09", "SCANNER-ALL", "SCANNER-OLD"} {
		if _, ok := sup[id]; !ok {
			t.Errorf("supervisor of %s does not see %s: %v", wh1, id, sup)
		}
	}
	if _, ok := sup["SCANNER-20"]; ok || len(sup) != 4 {
		t.Errorf("supervisor of %s sees %v, want the 4 scanners of %s", wh1, sup, wh1)
	}
	never := sup["SCANNER-09"]
	if never.LastSeenAt != nil || never.Status != processors.FleetOffline {
		t.Errorf("never seen: %+v, want lastSeenAt null and offline", never)
	}
	if old := sup["SCANNER-OLD"]; old.Status != processors.FleetRed {
		t.Errorf("revoked token: %+v, want red", old)
	}
	if all := f.list("reader-all", ""); len(all) != 5 {
		t.Errorf("reader of every warehouse sees %d scanners, want 5", len(all))
	}
	if two := f.list("admin", "?warehouseId="+wh2); len(two) != 2 || two["SCANNER-20"].ScannerID == "" || two["SCANNER-ALL"].ScannerID == "" {
		t.Errorf("?warehouseId=%s: %v, want SCANNER-20 and SCANNER-ALL", wh2, two)
	}
	if one := f.as("reader-1", http.MethodGet, "/v1/scanners/SCANNER-08", nil); one.status != http.StatusOK || !strings.Contains(string(one.body), `"scannerId":"SCANNER-08"`) {
		t.Errorf("GET one as reader: %d %s", one.status, one.body)
	}
	f.refuses(t, http.MethodGet, nil, []refusal{
		{"", "/v1/scanners", http.StatusUnauthorized, "UNAUTHENTICATED"},
		{"SCANNER-08", "/v1/scanners", http.StatusForbidden, "FORBIDDEN"},
		{"cloud-1", "/v1/scanners", http.StatusForbidden, "FORBIDDEN"},
		{"SCANNER-08", "/v1/scanners/SCANNER-08", http.StatusForbidden, "FORBIDDEN"},
		{"sup-1", "/v1/scanners?warehouseId=" + wh2, http.StatusForbidden, "FORBIDDEN"},
		{"reader-1", "/v1/scanners/SCANNER-20", http.StatusForbidden, "FORBIDDEN"},
		{"sup-1", "/v1/scanners/NO-SUCH", http.StatusNotFound, "NOT_FOUND"},
	})
}

func TestFleetMetrics(t *testing.T) {
	f := newFleetHarness(t)
	oldest := serverNow.Add(-90 * time.Second)
	for _, id := range []string{"SCANNER-08", "SCANNER-09"} {
		if r := f.as(id, http.MethodPost, "/v1/scanners/"+id+"/heartbeat", heartbeat(serverNow.Format(time.RFC3339Nano), 2, oldest.Format(time.RFC3339Nano), 0)); r.status != http.StatusNoContent {
			t.Fatalf("heartbeat: %d %s", r.status, r.body)
		}
	}
	r := f.as("", http.MethodGet, "/metrics", nil)
	text := string(r.body)
	for _, want := range []string{
		`invsync_scanners{status="yellow",warehouse="WH-001"} 2`,
		`invsync_scanners{status="red",warehouse="WH-001"} 1`, // SCANNER-OLD, revoked
		`invsync_scanners{status="green",warehouse="WH-001"} 0`,
		`invsync_scanners{status="offline",warehouse="WH-002"} 1`,
		`invsync_device_queued_scans{warehouse="WH-001"} 4`,
		`invsync_device_queued_scans{warehouse="WH-002"} 0`,
		`invsync_device_oldest_queued_scan_age_seconds{warehouse="WH-001"} 90`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}
}

func TestScannerListPages(t *testing.T) {
	f := newFleetHarness(t)
	ids := func(body []byte) ([]string, int) {
		var out api.ScannerList
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, x := range out.Scanners {
			s = append(s, x.ScannerID)
		}
		if out.Total == nil {
			return s, 0
		}
		return s, *out.Total
	}
	all := f.as("sup-1", http.MethodGet, "/v1/scanners", nil)
	whole, _ := ids(all.body)
	if len(whole) != 4 || strings.Contains(string(all.body), `"total"`) {
		t.Fatalf("unpaged list: %s", all.body)
	}
	r := f.as("sup-1", http.MethodGet, "/v1/scanners?limit=2&offset=1", nil)
	got, total := ids(r.body)
	if r.status != http.StatusOK || total != 4 || strings.Join(got, ",") != strings.Join(whole[1:3], ",") {
		t.Fatalf("page 2 of 2 a page from 1: %d %s, want %v of %v", r.status, r.body, whole[1:3], whole)
	}
	if r := f.as("sup-1", http.MethodGet, "/v1/scanners?limit=2&offset=9", nil); r.status != http.StatusOK || !strings.Contains(string(r.body), `"scanners":[]`) {
		t.Fatalf("a page past the end: %d %s", r.status, r.body)
	}
	for _, q := range []string{"?limit=0", "?limit=1001", "?limit=x", "?offset=2", "?limit=2&offset=-1"} {
		assertError(t, f.as("sup-1", http.MethodGet, "/v1/scanners"+q, nil), http.StatusBadRequest, "INVALID_REQUEST")
	}
}

// An upload's device object keeps the envelope on the fast decoder, and
// decodes to what encoding/json decodes.
func TestUploadDeviceDecodesAlike(t *testing.T) {
	tx1 := string(encode(t, tx("c0ffee00-0000-4000-8000-0000000000aa")))
	for _, dev := range []string{
		`{"sentAt":"` + sentAt + `","queued":2,"oldestQueuedAt":"` + scanTime + `","rejected":0,"appVersion":"web 3"}`,
		`{ "sentAt" : "` + sentAt + `", "queued": 0, "oldestQueuedAt": null, "rejected": 1 }`,
	} {
		body := `{"scannerId":"` + scannerID + `","sentAt":"` + sentAt + `","transactions":[` + tx1 + `],"device":` + dev + `}`
		fast, rerr := ingest.DecodeUpload([]byte(body))
		if rerr != nil {
			t.Fatalf("%s: %v", dev, rerr)
		}
		// The same body with a space the fast decoder gives up on.
		slow, rerr := ingest.DecodeUpload([]byte(strings.Replace(body, `"transactions"`, `"transactions" `, 1) + "\n"))
		if rerr != nil {
			t.Fatalf("%s: %v", dev, rerr)
		}
		var a, b map[string]any
		if json.Unmarshal(fast.DeviceRaw, &a) != nil || json.Unmarshal(slow.DeviceRaw, &b) != nil || !reflect.DeepEqual(a, b) || len(a) == 0 {
			t.Fatalf("device %s: fast %s, encoding/json %s", dev, fast.DeviceRaw, slow.DeviceRaw)
		}
	}
	for _, bad := range []string{`{"queued":[1]}`, `{"queued":1,"queued":2}`, `[]`, `{"a":{"b":1}}`} {
		body := `{"scannerId":"` + scannerID + `","sentAt":"` + sentAt + `","transactions":[` + tx1 + `],"device":` + bad + `}`
		up, rerr := ingest.DecodeUpload([]byte(body))
		if rerr == nil && string(up.DeviceRaw) != bad {
			t.Errorf("device %s decoded as %s", bad, up.DeviceRaw)
		}
	}
}

func (f *fleetHarness) detail(who, id string) api.ScannerDetail {
	f.t.Helper()
	return get[api.ScannerDetail](f, who, "/v1/scanners/"+id)
}

// TestScannerDetailRecentUploads: a scanner's detail lists its uploads as
// answered, newest first, at most 20, each with at most 20 rejected ids;
// the list leaves them out; uploads by other tokens are not the scanner's.
func TestScannerDetailRecentUploads(t *testing.T) {
	f := newFleetHarness(t)
	if got := f.detail("sup-1", "SCANNER-08"); got.RecentUploads == nil || len(got.RecentUploads) != 0 {
		t.Fatalf("before any upload: %+v, want recentUploads []", got.RecentUploads)
	}
	id := func(i int) string { return fmt.Sprintf("c0ffee00-0000-4000-8000-%012d", i) }
	first := envelope(tx(id(1)), tx(id(2), "warehouseId", wh2), tx(id(1)))
	if r := f.as("SCANNER-08", http.MethodPost, "/v1/transactions", first); r.status != http.StatusOK {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	got := f.detail("reader-1", "SCANNER-08").RecentUploads
	want := api.ScannerUpload{At: serverNow, Transactions: 3, Accepted: 1, Duplicate: 1, Rejected: 1,
		Rejections: []api.UploadRejection{{TransactionID: id(2), Code: ingest.CodeWarehouseNotPermitted}}}
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("after one upload: %+v, want [%+v]", got, want)
	}
	if r := f.as("admin", http.MethodGet, "/v1/scanners", nil); strings.Contains(string(r.body), "recentUploads") {
		t.Fatalf("the list carries recent uploads: %s", r.body)
	}
	// An upload by another token for the scanner is not the scanner's.
	if r := f.as("admin", http.MethodPost, "/v1/transactions", envelope(tx(id(3)))); r.status != http.StatusOK {
		t.Fatalf("admin upload: %d %s", r.status, r.body)
	}
	if got := f.detail("admin", "SCANNER-08").RecentUploads; len(got) != 1 {
		t.Fatalf("after an admin upload: %d uploads, want 1", len(got))
	}
	for i := range 24 {
		f.clock.Advance(time.Second)
		if r := f.as("SCANNER-08", http.MethodPost, "/v1/transactions", envelope(tx(id(10+i)))); r.status != http.StatusOK {
			t.Fatalf("upload %d: %d %s", i, r.status, r.body)
		}
	}
	var many []any
	for i := range 25 {
		many = append(many, tx(id(100+i), "warehouseId", wh2))
	}
	f.clock.Advance(time.Second)
	if r := f.as("SCANNER-08", http.MethodPost, "/v1/transactions", envelope(many...)); r.status != http.StatusOK {
		t.Fatalf("upload of 25 rejected: %d %s", r.status, r.body)
	}
	got = f.detail("sup-1", "SCANNER-08").RecentUploads
	if len(got) != 20 {
		t.Fatalf("after 26 uploads: %d kept, want 20", len(got))
	}
	last := got[0]
	if !last.At.Equal(serverNow.Add(25*time.Second)) || last.Transactions != 25 || last.Rejected != 25 || len(last.Rejections) != 20 ||
		last.Rejections[0].TransactionID != id(100) || last.Rejections[19].TransactionID != id(119) {
		t.Fatalf("newest upload: %+v, want 25 rejected with the first 20 listed", last)
	}
	for i := 1; i < len(got); i++ {
		if !got[i].At.Before(got[i-1].At) || got[i].Accepted != 1 || len(got[i].Rejections) != 0 {
			t.Fatalf("upload %d: %+v (after %+v), want older, 1 accepted, no rejections", i, got[i], got[i-1])
		}
	}
	// Scope is as before: the scanner's own token and other warehouses'
	// tokens do not read it.
	for _, who := range []string{"SCANNER-08", "cloud-1"} {
		if r := f.as(who, http.MethodGet, "/v1/scanners/SCANNER-08", nil); r.status != http.StatusForbidden {
			t.Errorf("GET the detail as %s: %d %s, want 403", who, r.status, r.body)
		}
	}
}
