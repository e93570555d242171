package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/internal/testkit"
)

// The mirror end-to-end test's world: two warehouses, every item stocked
// at every location before the mirror starts, so the load never creates a
// record the mirror could report missing.
const mirrorCatalog = `{
  "warehouses": [{"warehouseId": "WH-M1", "locations": ["L1", "L2", "L3", "L4"]},
                 {"warehouseId": "WH-M2", "locations": ["L1", "L2", "L3"]}],
  "items": [{"itemId": "M-1"}, {"itemId": "M-2"}, {"itemId": "M-3"}, {"itemId": "M-4"},
            {"itemId": "M-5"}, {"itemId": "M-6"}, {"itemId": "M-7"}, {"itemId": "M-8"}]
}`

var mirrorWorld = struct {
	warehouses map[string][]string
	items      []string
}{
	warehouses: map[string][]string{"WH-M1": {"L1", "L2", "L3", "L4"}, "WH-M2": {"L1", "L2", "L3"}},
	items:      []string{"M-1", "M-2", "M-3", "M-4", "M-5", "M-6", "M-7", "M-8"},
}

// TestMirrorEndToEnd drives uploads and allocations through a real
// `invsync serve` while the built `invsync mirror` binary copies them into
// SQL, kill -9ing the mirror at random moments and restarting it. Once the
// load stops and the mirror has caught up (its stored offsets equal the
// topics' ends), every positions row must equal GET /v1/positions (onHand,
// allocated, available, version; no row missing, extra or behind), every
// allocations row GET /v1/allocations/{id}, and the reconciliation reports
// the mirror posted must have found no discrepancy, the last ones agreeing
// on every record. Then a cloud report that disagrees opens a MISMATCH, and
// the mirror's discrepancies table must show it as the API does.
//
// It runs on SQLite, and on PostgreSQL when POSTGRES_URL is set (`bash
// scripts/postgres.sh up`; skipped saying so otherwise). MIRROR_E2E_LOAD
// (default 20s) is how long the load and the kills go on, MIRROR_E2E_SEED
// reproduces the workload and the kill schedule; `make mirror-e2e-long`
// runs it for five minutes.
func TestMirrorEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a child process; skipped with -short")
	}
	load := 20 * time.Second
	if v := os.Getenv("MIRROR_E2E_LOAD"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("MIRROR_E2E_LOAD=%q: not a duration", v)
		}
		load = d
	}
	seed := uint64(time.Now().UnixNano())
	if os.Getenv("MIRROR_E2E_SEED") != "" {
		seed = uint64(envInt(t, "MIRROR_E2E_SEED", 0))
	}
	bin := buildBinary(t)
	t.Run("sqlite", func(t *testing.T) {
		runMirrorE2E(t, bin, "sqlite://"+filepath.Join(t.TempDir(), "mirror.db"), load, seed)
	})
	t.Run("postgres", func(t *testing.T) {
		base := os.Getenv("POSTGRES_URL")
		if base == "" {
			t.Skip("SKIPPED: POSTGRES_URL is not set; run `bash scripts/postgres.sh up` and set POSTGRES_URL to the URL it prints (make test does)")
		}
		runMirrorE2E(t, bin, mirrorPostgresSchema(t, base), load, seed)
	})
}

func runMirrorE2E(t *testing.T, bin, sqlURL string, load time.Duration, seed uint64) {
	t.Logf("mirror e2e: seed %d (MIRROR_E2E_SEED=%d reproduces it), load %s", seed, seed, load)
	rng := rand.New(rand.NewPCG(seed, 0x6d6972726f72))
	in := startWithCatalog(t, testConfig(t), mirrorCatalog)
	preloadMirrorWorld(t, in.url)
	cloud := createMirrorToken(t, in.url)

	dir := t.TempDir()
	m := &child{t: t, bin: bin, log: filepath.Join(dir, "mirror.log"), args: []string{"mirror",
		"--brokers", strings.Join(in.brokers(), ","), "--topic-prefix", in.cfg.TopicPrefix, "--sql-url", sqlURL,
		"--url", in.url, "--token", cloud, "--report-interval", "1s", "--log-format", "json", "--log-level", "info"}}
	m.start()
	t.Cleanup(m.stop)
	defer func() {
		if t.Failed() {
			m.dumpLog()
		}
	}()

	// The load: scanners uploading batches, a cloud allocating and
	// cancelling, until the deadline; meanwhile the mirror is killed.
	ctx, cancel := context.WithTimeout(context.Background(), load)
	defer cancel()
	var (
		wg       sync.WaitGroup
		sent     atomic.Int64
		failed   atomic.Int64
		allocMu  sync.Mutex
		allocIDs []string
	)
	for s := range 4 {
		srng := rand.New(rand.NewPCG(seed, uint64(s)))
		wg.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second}
			for n := 0; ctx.Err() == nil; n++ {
				txs := mirrorLoadBatch(srng, fmt.Sprintf("mirror-%d-%d", s, n), 25)
				if _, err := send(client, in.url, fmt.Sprintf("MIRROR-SCANNER-%d", s), txs); err != nil {
					failed.Add(1)
				} else {
					sent.Add(int64(len(txs)))
				}
				sleepCtx(ctx, time.Duration(100+srng.IntN(200))*time.Millisecond)
			}
		})
	}
	arng := rand.New(rand.NewPCG(seed, 99))
	wg.Go(func() {
		for n := 0; ctx.Err() == nil; n++ {
			id := fmt.Sprintf("ALLOC-M-%d", n)
			whs := []string{"WH-M1", "WH-M2"}
			body := map[string]any{"allocationId": id, "orderId": fmt.Sprintf("SO-%d", n), "orderLine": 1,
				"warehouseId": whs[arng.IntN(2)], "itemId": mirrorWorld.items[arng.IntN(len(mirrorWorld.items))],
				"quantity": 1 + arng.IntN(60), "allowPartial": arng.IntN(2) == 0}
			if code := doQuiet("POST", in.url+"/v1/allocations", body, nil); code/100 == 2 {
				allocMu.Lock()
				allocIDs = append(allocIDs, id)
				if len(allocIDs) > 3 && arng.IntN(4) == 0 {
					doQuiet("DELETE", in.url+"/v1/allocations/"+allocIDs[arng.IntN(len(allocIDs))], nil, nil)
				}
				allocMu.Unlock()
			}
			sleepCtx(ctx, time.Duration(100+arng.IntN(300))*time.Millisecond)
		}
	})
	kills := 0
	for ctx.Err() == nil {
		sleepCtx(ctx, time.Duration(300+rng.IntN(2200))*time.Millisecond)
		m.kill()
		kills++
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		m.start()
	}
	wg.Wait()
	loadEnd := time.Now()
	if sent.Load() == 0 {
		t.Fatalf("no upload was accepted (%d failed)", failed.Load())
	}

	db := openMirrorDB(t, sqlURL)
	topics := []string{in.cfg.TopicPrefix + "inventory-events", in.cfg.TopicPrefix + "allocation-decisions", in.cfg.TopicPrefix + "discrepancies"}
	waitMirrorCaughtUp(t, db, in.brokers(), topics, 90*time.Second)
	caughtUp := time.Now()
	t.Logf("mirror e2e: %d transactions uploaded (%d requests failed), %d allocations, %d kill -9s of the mirror; caught up %s after the load stopped",
		sent.Load(), failed.Load(), len(allocIDs), kills, caughtUp.Sub(loadEnd).Round(time.Millisecond))

	served := apiPositions(t, in.url)
	if n := compareMirrorPositions(t, db, served); n > 0 {
		t.Errorf("%d positions rows differ from GET /v1/positions", n)
	}
	compareMirrorAllocations(t, db, in.url, allocIDs)

	// The reports: none found a discrepancy, and those sent after the
	// catch-up agree on every record of their warehouse.
	perWarehouse := map[string]int{}
	for _, p := range served {
		perWarehouse[p.WarehouseID]++
	}
	checkMirrorReports(t, m.log, caughtUp, perWarehouse, 20*time.Second)
	for wh := range mirrorWorld.warehouses {
		var list api.DiscrepancyList
		if code := do(t, "GET", in.url+"/v1/discrepancies?warehouseId="+wh, nil, &list); code != 200 {
			t.Fatalf("GET /v1/discrepancies?warehouseId=%s: %d", wh, code)
		}
		if len(list.Discrepancies) != 0 {
			t.Errorf("%s: the mirror's reports opened %d discrepancies, want none (nothing diverged): %+v", wh, len(list.Discrepancies), list.Discrepancies)
		}
	}
	if t.Failed() {
		return
	}
	checkMirroredDiscrepancy(t, db, in.url, cloud, served)
	if n := compareMirrorPositions(t, db, apiPositions(t, in.url)); n > 0 {
		t.Errorf("after the correction, %d positions rows differ from GET /v1/positions", n)
	}
}

// preloadMirrorWorld receives stock at every item and location, waiting
// until it is applied.
func preloadMirrorWorld(t *testing.T, base string) {
	t.Helper()
	at := time.Now().Add(-time.Hour).UTC()
	for wh, locs := range mirrorWorld.warehouses {
		var txs []api.Transaction
		for _, item := range mirrorWorld.items {
			for _, loc := range locs {
				txs = append(txs, api.Transaction{TransactionID: "pre-" + wh + "-" + item + "-" + loc, Type: "RECEIPT",
					Timestamp: at.Format(time.RFC3339Nano), WarehouseID: wh, ItemID: item, LocationID: loc, Quantity: 200})
			}
		}
		var res api.UploadResponse
		code := do(t, "POST", base+"/v1/transactions?wait=applied",
			api.UploadRequest{ScannerID: "MIRROR-PRELOAD", SentAt: time.Now().UTC().Format(time.RFC3339Nano), Transactions: txs}, &res)
		if code != 200 || len(res.Results) != len(txs) {
			t.Fatalf("preload of %s: %d, %d results", wh, code, len(res.Results))
		}
		for _, r := range res.Results {
			if r.Outcome == nil || r.Outcome.Status != "applied" {
				t.Fatalf("preload %s: %s %v", r.TransactionID, r.Status, r.Code)
			}
		}
	}
}

// mirrorMix is the mirror load's mix of transaction types: counts never
// below 100, so the preloaded records stay stocked.
var mirrorMix = txMix{receipts: 7, picks: 13, adjustments: 15, moves: 18,
	maxReceipt: 40, maxPick: 30, maxMove: 15, zeroAdjustment: -2, minCount: 100}

// mirrorLoadBatch is n transactions of every type on the preloaded records.
func mirrorLoadBatch(rng *rand.Rand, idPrefix string, n int) []api.Transaction {
	now := time.Now().UTC()
	whs := []string{"WH-M1", "WH-M2"}
	out := make([]api.Transaction, 0, n)
	for i := range n {
		wh := whs[rng.IntN(2)]
		locs := mirrorWorld.warehouses[wh]
		tx := api.Transaction{TransactionID: fmt.Sprintf("%s-%d", idPrefix, i), Timestamp: now.Add(time.Duration(i-n) * time.Millisecond).Format(time.RFC3339Nano),
			WarehouseID: wh, ItemID: mirrorWorld.items[rng.IntN(len(mirrorWorld.items))], LocationID: locs[rng.IntN(len(locs))]}
		mirrorMix.draw(rng, &tx, locs)
		out = append(out, tx)
	}
	return out
}

func createMirrorToken(t *testing.T, base string) string {
	t.Helper()
	return newToken(t, base, "mirror-e2e", "cloud", []string{"*"}, nil).Token
}

// mirrorPostgresSchema creates a schema of its own in the database of base
// (dropped at cleanup) and returns a URL whose connections use it.
func mirrorPostgresSchema(t *testing.T, base string) string {
	t.Helper()
	schema := randomName("mirror_e2e_")
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("creating schema %s: %v", schema, err)
	}
	t.Cleanup(func() { _, _ = admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

// openMirrorDB opens the mirror's database for reading.
func openMirrorDB(t *testing.T, sqlURL string) *sql.DB {
	t.Helper()
	var db *sql.DB
	var err error
	if path, ok := strings.CutPrefix(sqlURL, "sqlite://"); ok {
		db, err = sql.Open("sqlite", path+"?"+url.Values{"_busy_timeout": {"5000"}}.Encode())
	} else {
		db, err = sql.Open("pgx", sqlURL)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// waitMirrorCaughtUp waits until the mirror's stored offsets equal the end
// of every partition of topics (those that exist).
func waitMirrorCaughtUp(t *testing.T, db *sql.DB, brokers, topics []string, timeout time.Duration) {
	t.Helper()
	adm := testkit.Admin(t, brokers)
	defer adm.Close()
	var behind []string
	testkit.Eventually(t, timeout, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ends, err := adm.ListEndOffsets(ctx, topics...)
		cancel()
		if err != nil {
			t.Fatalf("listing end offsets: %v", err)
		}
		stored := map[string]int64{}
		rows, err := db.Query(`SELECT topic, "partition", next_offset FROM consumed_offsets`)
		if err == nil {
			for rows.Next() {
				var topic string
				var p int32
				var next int64
				if err := rows.Scan(&topic, &p, &next); err != nil {
					t.Fatal(err)
				}
				stored[fmt.Sprintf("%s[%d]", topic, p)] = next
			}
			err = rows.Err()
			rows.Close()
		}
		behind = behind[:0]
		ends.Each(func(o kadm.ListedOffset) {
			if o.Err != nil {
				return // a topic not created (yet): nothing to mirror
			}
			key := fmt.Sprintf("%s[%d]", o.Topic, o.Partition)
			if stored[key] != o.Offset {
				behind = append(behind, fmt.Sprintf("%s at %d of %d", key, stored[key], o.Offset))
			}
		})
		if err == nil && len(behind) == 0 {
			return nil
		}
		return testkit.Not("the mirror has not caught up after the load (query error %v): %s", err, strings.Join(behind, ", "))
	})
}

// apiPositions reads every position of the world from GET /v1/positions.
func apiPositions(t *testing.T, base string) map[string]api.Position {
	t.Helper()
	out := map[string]api.Position{}
	for wh := range mirrorWorld.warehouses {
		for _, item := range mirrorWorld.items {
			var res api.Positions
			if code := do(t, "GET", base+"/v1/positions?warehouseId="+wh+"&itemId="+item, nil, &res); code != 200 {
				t.Fatalf("GET /v1/positions %s %s: %d", wh, item, code)
			}
			for _, p := range res.Positions {
				out[positionKey(p)] = p
			}
		}
	}
	return out
}

func positionKey(p api.Position) string {
	return p.WarehouseID + "/" + p.ItemID + "/" + p.LocationID + "/" + p.LotNumber
}

// compareMirrorPositions compares every positions row with the API's
// positions and returns the number of differences, each logged (the first
// 20): rows missing, extra, behind in version, or differing.
func compareMirrorPositions(t *testing.T, db *sql.DB, served map[string]api.Position) int {
	t.Helper()
	rows, err := db.Query(`SELECT warehouse_id, item_id, location_id, lot_number, on_hand, allocated, available, version FROM positions`)
	if err != nil {
		t.Fatalf("reading positions: %v", err)
	}
	defer rows.Close()
	var diffs []string
	behind := 0
	seen := map[string]bool{}
	for rows.Next() {
		var p api.Position
		if err := rows.Scan(&p.WarehouseID, &p.ItemID, &p.LocationID, &p.LotNumber, &p.OnHand, &p.Allocated, &p.Available, &p.Version); err != nil {
			t.Fatal(err)
		}
		k := positionKey(p)
		seen[k] = true
		want, ok := served[k]
		want.UpdatedAt = time.Time{} // the table does not hold it
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: in SQL %+v, not in the API", k, p))
		case p != want:
			if p.Version < want.Version {
				behind++
			}
			diffs = append(diffs, fmt.Sprintf("%s: SQL %+v, API %+v", k, p, want))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for k, p := range served {
		if !seen[k] {
			behind++
			diffs = append(diffs, fmt.Sprintf("%s: missing from SQL (API %+v)", k, p))
		}
	}
	slices.Sort(diffs)
	for _, d := range diffs[:min(20, len(diffs))] {
		t.Error(d)
	}
	t.Logf("mirror e2e: %d positions compared, %d differ, %d rows behind", len(served), len(diffs), behind)
	return len(diffs)
}

// compareMirrorAllocations compares the allocations table with GET
// /v1/allocations/{id} for every allocation the load created.
func compareMirrorAllocations(t *testing.T, db *sql.DB, base string, ids []string) {
	t.Helper()
	decided := 0
	for _, id := range ids {
		var want api.Allocation
		if code := do(t, "GET", base+"/v1/allocations/"+id, nil, &want); code != 200 {
			t.Fatalf("GET /v1/allocations/%s: %d", id, code)
		}
		var got api.Allocation
		err := db.QueryRow(`SELECT status, requested_quantity, confirmed_quantity, backorder_quantity, picked_quantity FROM allocations WHERE allocation_id = $1`, id).
			Scan(&got.Status, &got.RequestedQuantity, &got.ConfirmedQuantity, &got.BackorderQuantity, &got.PickedQuantity)
		if want.Status == "TENTATIVE" { // no decision published yet: nothing to mirror
			continue
		}
		decided++
		if err != nil {
			t.Errorf("allocation %s (%s in the API): %v", id, want.Status, err)
			continue
		}
		if got.Status != want.Status || got.RequestedQuantity != want.RequestedQuantity || got.ConfirmedQuantity != want.ConfirmedQuantity ||
			got.BackorderQuantity != want.BackorderQuantity || got.PickedQuantity != want.PickedQuantity {
			t.Errorf("allocation %s: SQL %s %d/%d/%d/%d, API %s %d/%d/%d/%d", id, got.Status, got.RequestedQuantity, got.ConfirmedQuantity,
				got.BackorderQuantity, got.PickedQuantity, want.Status, want.RequestedQuantity, want.ConfirmedQuantity, want.BackorderQuantity, want.PickedQuantity)
		}
	}
	t.Logf("mirror e2e: %d decided allocations compared", decided)
}

// mirrorReportLine is a "mirror report compared" line of the mirror's JSON
// log.
type mirrorReportLine struct {
	Time          time.Time `json:"time"`
	Msg           string    `json:"msg"`
	ReportID      string    `json:"report_id"`
	Warehouse     string    `json:"warehouse"`
	Positions     int       `json:"positions"`
	Compared      int       `json:"compared"`
	Agreed        int       `json:"agreed"`
	Behind        int       `json:"behind"`
	Discrepancies int       `json:"discrepancies"`
}

// checkMirrorReports reads the mirror's log until, for every warehouse, a
// report sent after caughtUp agrees on all of its records; every report
// logged must have found no discrepancy.
func checkMirrorReports(t *testing.T, logPath string, caughtUp time.Time, records map[string]int, timeout time.Duration) {
	t.Helper()
	testkit.Eventually(t, timeout, func() error {
		data, err := os.ReadFile(logPath)
		if err != nil {
			t.Fatal(err)
		}
		var all, bad []mirrorReportLine
		agreeing := map[string]mirrorReportLine{}
		for _, line := range strings.Split(string(data), "\n") {
			var r mirrorReportLine
			if json.Unmarshal([]byte(line), &r) != nil || r.Msg != "mirror report compared" {
				continue
			}
			all = append(all, r)
			if r.Discrepancies != 0 {
				bad = append(bad, r)
			}
			if r.Time.After(caughtUp) && r.Compared == records[r.Warehouse] && r.Agreed == r.Compared && r.Behind == 0 && r.Positions == records[r.Warehouse] {
				agreeing[r.Warehouse] = r
			}
		}
		if len(bad) > 0 {
			t.Fatalf("%d of %d mirror reports found discrepancies where nothing diverged, the first: %+v", len(bad), len(all), bad[0])
		}
		if len(agreeing) == len(records) {
			t.Logf("mirror e2e: %d reports compared by the server, none with a discrepancy; after the catch-up every record agreed: %+v", len(all), agreeing)
			return nil
		}
		var last []mirrorReportLine
		if len(all) > 0 {
			last = all[max(0, len(all)-4):]
		}
		return testkit.Not("no report agreeing on every record (%v) of every warehouse after the catch-up; %d reports logged, the last: %+v",
			records, len(all), last)
	})
}

// checkMirroredDiscrepancy sends a cloud report that disagrees with the
// warehouse on one record (same version, another onHand) and waits until
// the mirror's discrepancies table holds the MISMATCH it opened as the API
// shows it, once the mirror's own next report (which agrees, the
// correction applied) has resolved it.
func checkMirroredDiscrepancy(t *testing.T, db *sql.DB, base, cloud string, served map[string]api.Position) {
	t.Helper()
	p := served["WH-M1/M-3/L2/"]
	body := map[string]any{"reportId": randomName("e2e-mismatch-"), "warehouseId": p.WarehouseID, "complete": false,
		"positions": []map[string]any{{"itemId": p.ItemID, "locationId": p.LocationID, "lotNumber": "", "onHand": p.OnHand + 7, "version": p.Version}}}
	var rep api.ReportAnswer
	code, _, data := testkit.Call(t, "POST", base+"/v1/reconciliation/reports?wait=compared", cloud, body)
	if code != 200 || json.Unmarshal(data, &rep) != nil || len(rep.Discrepancies) != 1 {
		t.Fatalf("a report with onHand %d for %s at version %d: %d %s, want one discrepancy", p.OnHand+7, positionKey(p), p.Version, code, data)
	}
	id := rep.Discrepancies[0]
	err := testkit.Within(30*time.Second, func() error {
		var want api.Discrepancy
		if code := do(t, "GET", base+"/v1/discrepancies/"+id, nil, &want); code != 200 {
			t.Fatalf("GET /v1/discrepancies/%s: %d", id, code)
		}
		got := api.Discrepancy{DiscrepancyID: id}
		err := db.QueryRow(`SELECT warehouse_id, item_id, location_id, lot_number, kind, warehouse_on_hand, warehouse_version,
			cloud_on_hand, cloud_version, status, resolution FROM discrepancies WHERE discrepancy_id = $1`, id).
			Scan(&got.WarehouseID, &got.ItemID, &got.LocationID, &got.LotNumber, &got.Kind, &got.WarehouseOnHand, &got.WarehouseVersion,
				&got.CloudOnHand, &got.CloudVersion, &got.Status, &got.Resolution)
		if want.Kind != "MISMATCH" || want.CloudOnHand == nil || *want.CloudOnHand != p.OnHand+7 {
			t.Fatalf("discrepancy %s in the API: %+v, want a MISMATCH with cloud onHand %d", id, want, p.OnHand+7)
		}
		// The table holds none of these.
		want.Assignee, want.ReportID, want.CountTaskID, want.History = nil, "", nil, nil
		want.OpenedAt, want.UpdatedAt = time.Time{}, time.Time{}
		wantJSON, _ := json.Marshal(want)
		gotJSON, _ := json.Marshal(got)
		if err == nil && string(gotJSON) == string(wantJSON) && want.Status == "RESOLVED" {
			t.Logf("mirror e2e: discrepancy %s mirrored: %s", id, gotJSON)
			return nil
		}
		return testkit.Not("SQL %s (err %v), API %s", gotJSON, err, wantJSON)
	})
	if err != nil {
		t.Errorf("discrepancy %s: the mirror's table and the API did not agree on its resolved state: %v", id, err)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
