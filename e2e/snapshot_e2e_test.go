package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/server"
)

// Reconciliation snapshots end to end: what lands on <prefix>position-snapshots,
// read by a plain read_committed consumer and decoded through the schema
// endpoints, against what GET /v1/positions answers.

const snapWH = "WH-S"

// snapshotCatalog has twelve items (S-03 lot-tracked) so stock spreads over
// several partitions.
func snapshotCatalog(t *testing.T) string {
	t.Helper()
	type item struct {
		ItemID     string `json:"itemId"`
		LotTracked bool   `json:"lotTracked"`
	}
	doc := struct {
		Warehouses []map[string]any `json:"warehouses"`
		Items      []item           `json:"items"`
	}{Warehouses: []map[string]any{{"warehouseId": snapWH, "locations": []string{"L1", "L2", "L3"}}}}
	for i := 1; i <= 12; i++ {
		doc.Items = append(doc.Items, item{ItemID: fmt.Sprintf("S-%02d", i), LotTracked: i == 3})
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func startSnapshotInstance(t *testing.T, cfg server.Options) *testInstance {
	t.Helper()
	in := startWithCatalog(t, cfg, snapshotCatalog(t))
	return in
}

// uploadApplied uploads txs (ids made unique by the caller) and fails unless
// every one is applied. Their times are the instance's clock.
func uploadApplied(t *testing.T, in *testInstance, txs []api.Transaction) {
	t.Helper()
	now := time.Now().UTC()
	if in.cfg.Now != nil {
		now = in.cfg.Now().UTC()
	}
	for i := range txs {
		txs[i].WarehouseID = snapWH
		if txs[i].Timestamp == "" {
			txs[i].Timestamp = now.Add(-time.Hour + time.Duration(i)*time.Second).Format(time.RFC3339Nano)
		}
	}
	var res api.UploadResponse
	if code := do(t, "POST", in.url+"/v1/transactions?wait=applied", api.UploadRequest{ScannerID: "SCANNER-S", SentAt: now.Format(time.RFC3339Nano), Transactions: txs}, &res); code != 200 {
		t.Fatalf("upload: %d", code)
	}
	for i, r := range res.Results {
		if r.Status != "accepted" || r.Outcome == nil || r.Outcome.Status != "applied" {
			t.Fatalf("upload %s: %+v (outcome %+v)", txs[i].TransactionID, r, r.Outcome)
		}
	}
}

// positionsOf returns GET /v1/positions of every item, by stock record
// ("item/location/lot").
func positionsOf(t *testing.T, in *testInstance, items ...string) map[string]api.Position {
	t.Helper()
	out := map[string]api.Position{}
	for _, it := range items {
		var p api.Positions
		if code := do(t, "GET", in.url+"/v1/positions?warehouseId="+snapWH+"&itemId="+it, nil, &p); code != 200 {
			t.Fatalf("GET positions of %s: %d", it, code)
		}
		for _, r := range p.Positions {
			out[r.ItemID+"/"+r.LocationID+"/"+r.LotNumber] = r
		}
	}
	return out
}

// snapRecord is one decoded snapshot record with what Kafka said about it.
type snapRecord struct {
	partition int32 // the Kafka partition it was read from
	count     int   // its snapshot-records header
	v         map[string]any
}

func (r snapRecord) id() string { return r.v["snapshotId"].(string) }

func (r snapRecord) recordKey() string {
	return fmt.Sprintf("%s/%s/%s", r.v["itemId"], r.v["locationId"], r.v["lotNumber"])
}

// snapshotLog is everything read from the snapshot topic so far: snapshot
// id -> partition -> records.
type snapshotLog struct {
	t    *testing.T
	in   *testInstance
	cl   *kgo.Client
	byID map[string]map[int32][]snapRecord
}

func readSnapshots(t *testing.T, in *testInstance) *snapshotLog {
	t.Helper()
	cl := committedReader(t, in.brokers(), in.cfg.TopicPrefix+"position-snapshots")
	t.Cleanup(cl.Close)
	return &snapshotLog{t: t, in: in, cl: cl, byID: map[string]map[int32][]snapRecord{}}
}

// slotOf is the slot a snapshot id names ("snap-<RFC 3339 UTC>").
func slotOf(t *testing.T, id string) time.Time {
	t.Helper()
	s, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(id, "snap-"))
	if err != nil || !strings.HasPrefix(id, "snap-") || !strings.HasSuffix(id, "Z") {
		t.Fatalf("snapshot id %q is not snap-<RFC 3339 UTC>: %v", id, err)
	}
	return s
}

// poll reads what is there now and checks each record on its own: keyed by
// its stock key, on the partition it names and that key maps to, decodable
// through the schema endpoint, taken no earlier than its slot, and never
// more records for a partition's snapshot than its header announces.
func (l *snapshotLog) poll() {
	t := l.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	l.cl.PollFetches(ctx).EachRecord(func(kr *kgo.Record) {
		r := snapRecord{partition: kr.Partition, count: -1, v: decodeEvent(t, l.in.url, nil, kr.Value)}
		for _, h := range kr.Headers {
			if h.Key == "snapshot-records" {
				r.count, _ = strconv.Atoi(string(h.Value))
			}
		}
		key := fmt.Sprintf("%s/%s", r.v["warehouseId"], r.v["itemId"])
		if string(kr.Key) != key {
			t.Errorf("snapshot record keyed %q, want the stock key %q", kr.Key, key)
		}
		if r.v["partition"] != kr.Partition || l.in.srv.PartitionOf(key) != kr.Partition {
			t.Errorf("snapshot record of %s names partition %v, read from %d", key, r.v["partition"], kr.Partition)
		}
		if r.count < 1 {
			t.Errorf("snapshot record of %s: snapshot-records header missing or bad: %v", key, kr.Headers)
		}
		if taken := r.v["takenAt"].(time.Time); taken.Before(slotOf(t, r.id())) {
			t.Errorf("snapshot %s taken at %v, before its slot", r.id(), taken)
		}
		if l.byID[r.id()] == nil {
			l.byID[r.id()] = map[int32][]snapRecord{}
		}
		recs := append(l.byID[r.id()][kr.Partition], r)
		l.byID[r.id()][kr.Partition] = recs
		if len(recs) == recs[0].count+1 {
			t.Errorf("snapshot %s partition %d: %d records, more than its header's %d (published twice?)", r.id(), kr.Partition, len(recs), recs[0].count)
		}
	})
}

// complete reports whether partition part's share of snapshot id has
// arrived whole.
func (l *snapshotLog) complete(id string, part int32) bool {
	recs := l.byID[id][part]
	return len(recs) > 0 && len(recs) == recs[0].count
}

// await polls until done holds, failing after timeout.
func (l *snapshotLog) await(what string, timeout time.Duration, done func() bool) {
	l.t.Helper()
	deadline := time.Now().Add(timeout)
	for !done() {
		if time.Now().After(deadline) {
			l.t.Fatalf("no %s after %s; read %s", what, timeout, l)
		}
		l.poll()
	}
}

func (l *snapshotLog) String() string {
	var b strings.Builder
	for id, parts := range l.byID {
		for part, recs := range parts {
			fmt.Fprintf(&b, "\n  %s partition %d: %d of %d records", id, part, len(recs), recs[0].count)
		}
	}
	return b.String()
}

// awaitFull waits for the first snapshot of a slot at or after `after` that
// every partition holding stock of want has published whole, and checks it
// against want record for record. It returns the snapshot's id.
func (l *snapshotLog) awaitFull(after time.Time, want map[string]api.Position) string {
	t := l.t
	t.Helper()
	var parts []int32
	for _, p := range want {
		part := l.in.srv.PartitionOf(p.WarehouseID + "/" + p.ItemID)
		if !slices.Contains(parts, part) {
			parts = append(parts, part)
		}
	}
	var found string
	l.await(fmt.Sprintf("snapshot at or after %s from partitions %v", after.Format(time.RFC3339Nano), parts), 30*time.Second, func() bool {
		var ids []string
		for id := range l.byID {
			if !slotOf(t, id).Before(after) {
				ids = append(ids, id)
			}
		}
		slices.SortFunc(ids, func(a, b string) int { return slotOf(t, a).Compare(slotOf(t, b)) })
		for _, id := range ids {
			if !slices.ContainsFunc(parts, func(p int32) bool { return !l.complete(id, p) }) {
				found = id
				return true
			}
		}
		return false
	})

	got := map[string]snapRecord{}
	for part, recs := range l.byID[found] {
		if !slices.Contains(parts, part) {
			t.Errorf("snapshot %s has %d records from partition %d, which holds none of the stock", found, len(recs), part)
		}
		for _, r := range recs {
			if r.v["takenAt"] != recs[0].v["takenAt"] {
				t.Errorf("snapshot %s partition %d: takenAt %v and %v", found, part, r.v["takenAt"], recs[0].v["takenAt"])
			}
			if _, dup := got[r.recordKey()]; dup {
				t.Errorf("snapshot %s: %s twice", found, r.recordKey())
			}
			got[r.recordKey()] = r
		}
	}
	for k, p := range want {
		r, ok := got[k]
		if !ok {
			t.Errorf("snapshot %s: missing %s (%+v)", found, k, p)
			continue
		}
		if r.v["onHand"] != p.OnHand || r.v["allocated"] != p.Allocated || r.v["available"] != p.Available || r.v["version"] != p.Version {
			t.Errorf("snapshot %s: %s is onHand %v allocated %v available %v version %v; GET /v1/positions says %d %d %d %d",
				found, k, r.v["onHand"], r.v["allocated"], r.v["available"], r.v["version"], p.OnHand, p.Allocated, p.Available, p.Version)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("snapshot %s: %s, which GET /v1/positions does not know", found, k)
		}
	}
	return found
}

func TestSnapshotMatchesPositionsEverySlot(t *testing.T) {
	cfg := testConfig(t)
	cfg.SnapshotInterval = 2 * time.Second
	in := startSnapshotInstance(t, cfg)
	topic := cfg.TopicPrefix + "position-snapshots"
	if code := do(t, "GET", in.url+"/subjects/"+topic+"-value/versions/latest", nil, nil); code != 200 {
		t.Errorf("schema subject %s-value: %d", topic, code)
	}

	uploadApplied(t, in, []api.Transaction{
		{TransactionID: "s1-1", Type: "RECEIPT", ItemID: "S-01", LocationID: "L1", Quantity: 100},
		{TransactionID: "s1-2", Type: "RECEIPT", ItemID: "S-01", LocationID: "L2", Quantity: 40},
		{TransactionID: "s1-3", Type: "RECEIPT", ItemID: "S-02", LocationID: "L1", Quantity: 10},
		{TransactionID: "s1-4", Type: "RECEIPT", ItemID: "S-03", LocationID: "L3", LotNumber: "LOT-A", Quantity: 25},
		{TransactionID: "s1-5", Type: "RECEIPT", ItemID: "S-03", LocationID: "L3", LotNumber: "LOT-B", Quantity: 5},
		{TransactionID: "s1-6", Type: "RECEIPT", ItemID: "S-04", LocationID: "L2", Quantity: 7},
		{TransactionID: "s1-7", Type: "PICK", ItemID: "S-05", LocationID: "L1", Quantity: 3},
	})
	var a api.Allocation
	if code := do(t, "POST", in.url+"/v1/allocations?wait=decided", map[string]any{"allocationId": "ALLOC-S1", "orderId": "SO-S1",
		"orderLine": 1, "warehouseId": snapWH, "itemId": "S-01", "quantity": 30, "locationId": "L1"}, &a); code != 200 || a.Status != "CONFIRMED" {
		t.Fatalf("allocation: %d %+v", code, a)
	}
	applied1 := time.Now()
	items := []string{"S-01", "S-02", "S-03", "S-04", "S-05", "S-06"}
	want1 := positionsOf(t, in, items...)
	// The positions themselves, so the comparison is not of two wrong things.
	if p := want1["S-01/L1/"]; len(want1) != 7 || p.OnHand != 100 || p.Allocated != 30 || p.Available != 70 || p.Version != 2 ||
		want1["S-05/L1/"].OnHand != -3 || want1["S-03/L3/LOT-B"].OnHand != 5 {
		t.Fatalf("positions after the first uploads: %+v", want1)
	}
	snaps := readSnapshots(t, in)
	first := snaps.awaitFull(applied1, want1)

	uploadApplied(t, in, []api.Transaction{
		{TransactionID: "s2-1", Type: "PICK", ItemID: "S-01", LocationID: "L1", Quantity: 20},
		{TransactionID: "s2-2", Type: "CYCLE_COUNT", ItemID: "S-02", LocationID: "L1", Quantity: 8},
		{TransactionID: "s2-3", Type: "MOVE", ItemID: "S-04", LocationID: "L2", ToLocationID: "L3", Quantity: 2},
		{TransactionID: "s2-4", Type: "ADJUSTMENT", ItemID: "S-03", LocationID: "L3", LotNumber: "LOT-A", Quantity: -5},
		{TransactionID: "s2-5", Type: "RECEIPT", ItemID: "S-06", LocationID: "L2", Quantity: 11},
	})
	applied2 := time.Now()
	want2 := positionsOf(t, in, items...)
	if p := want2["S-01/L1/"]; len(want2) != 9 || p.OnHand != 80 || p.Allocated != 30 || p.Version != 3 ||
		want2["S-04/L3/"].OnHand != 2 || want2["S-06/L2/"].OnHand != 11 {
		t.Fatalf("positions after the second uploads: %+v", want2)
	}
	second := snaps.awaitFull(applied2, want2)
	if !slotOf(t, second).After(slotOf(t, first)) {
		t.Errorf("the later snapshot %s is not of a later slot than %s", second, first)
	}
}

// yesterdayNoon returns a clock that runs at the wall clock's pace from noon
// UTC of the day before today: a test of daily slots on it never runs across
// midnight, and a service that read the wall clock instead would name
// today's slot, not the one the test expects.
func yesterdayNoon() func() time.Time {
	start := time.Now()
	noon := start.UTC().Truncate(24 * time.Hour).Add(-12 * time.Hour)
	return func() time.Time { return noon.Add(time.Since(start)) }
}

// TestSnapshotOncePerSlotAcrossRestarts: with a daily interval, the day's
// snapshot of a partition is published once, not again after a restart nor
// after the local state is rebuilt from the changelog; a partition that had
// no stock before publishes the day's slot when it gets some. The service
// runs on an injected clock, so the day's slot is the clock's, whatever the
// time of day.
func TestSnapshotOncePerSlotAcrossRestarts(t *testing.T) {
	cfg := testConfig(t)
	cfg.SnapshotInterval = 24 * time.Hour
	cfg.Now = yesterdayNoon()
	day := cfg.Now().UTC().Truncate(24 * time.Hour)
	id := "snap-" + day.Format(time.RFC3339)
	in := startSnapshotInstance(t, cfg)

	// Three items on three different partitions.
	var items []string
	var parts []int32
	for i := 1; i <= 12 && len(items) < 3; i++ {
		it := fmt.Sprintf("S-%02d", i)
		if part := in.srv.PartitionOf(snapWH + "/" + it); i != 3 && !slices.Contains(parts, part) {
			items, parts = append(items, it), append(parts, part)
		}
	}
	if len(items) < 3 {
		t.Fatalf("the catalog's items fall on fewer than 3 partitions: %v", parts)
	}
	receipt := func(txid, item string) api.Transaction {
		return api.Transaction{TransactionID: txid, Type: "RECEIPT", ItemID: item, LocationID: "L1", Quantity: 5}
	}
	// published waits for part's share of the day's snapshot and checks,
	// a moment later, that every share read so far arrived exactly once.
	published := func(l *snapshotLog, part int32) {
		t.Helper()
		l.await(fmt.Sprintf("%s from partition %d", id, part), 30*time.Second, func() bool { return l.complete(id, part) })
		until := time.Now().Add(2500 * time.Millisecond)
		for time.Now().Before(until) {
			l.poll()
		}
		for other := range l.byID {
			if other != id {
				t.Errorf("snapshot %s published besides %s: %s", other, id, l)
			}
		}
	}

	uploadApplied(t, in, []api.Transaction{receipt("r-1", items[0])})
	snaps := readSnapshots(t, in)
	published(snaps, parts[0])
	if got := snaps.byID[id][parts[0]][0].v["onHand"]; got != int64(5) {
		t.Errorf("first snapshot: onHand %v, want 5", got)
	}

	// Restart: the first partition is verified again by new input but has
	// published today; the second publishes for the first time.
	in.stop()
	in = startSnapshotInstance(t, cfg)
	uploadApplied(t, in, []api.Transaction{receipt("r-2", items[0]), receipt("r-3", items[1])})
	snaps = readSnapshots(t, in)
	published(snaps, parts[1])
	if len(snaps.byID[id][parts[0]]) != 1 || snaps.byID[id][parts[0]][0].v["onHand"] != int64(5) {
		t.Errorf("after a restart: %s", snaps)
	}

	// Lose the local state: the published slot comes back from the changelog.
	in.stop()
	if err := os.RemoveAll(filepath.Join(cfg.DataDir, "state")); err != nil {
		t.Fatal(err)
	}
	in = startSnapshotInstance(t, cfg)
	uploadApplied(t, in, []api.Transaction{receipt("r-4", items[0]), receipt("r-5", items[1]), receipt("r-6", items[2])})
	snaps = readSnapshots(t, in)
	published(snaps, parts[2])
	if len(snaps.byID[id][parts[0]]) != 1 || len(snaps.byID[id][parts[1]]) != 1 {
		t.Errorf("after rebuilding the state: %s", snaps)
	}

}
