package schemas

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
)

func newSet(t testing.TB) *Set {
	t.Helper()
	s, err := New(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// mustAppend encodes v with appendT (one of the Set's AppendT methods),
// failing the test on an error.
func mustAppend[T any](t testing.TB, appendT func([]byte, *T) ([]byte, error), v *T) []byte {
	t.Helper()
	b, err := appendT(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ms(v int64) time.Time { return time.UnixMilli(v).UTC() }

// avsc is the subset of an Avro schema's JSON the tests look at.
type avsc struct {
	Type      any    `json:"type"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Doc       string `json:"doc"`
	Symbols   []string
	Items     any
	Fields    []struct {
		Name string          `json:"name"`
		Doc  string          `json:"doc"`
		Type json.RawMessage `json:"type"`
	} `json:"fields"`
}

// checkDocs fails for a record (or a record nested in one) without docs.
func checkDocs(t *testing.T, where string, raw json.RawMessage, enums map[string][]string) {
	var v avsc
	if json.Unmarshal(raw, &v) != nil { // a name or a union
		var union []json.RawMessage
		if json.Unmarshal(raw, &union) == nil {
			for _, u := range union {
				checkDocs(t, where, u, enums)
			}
		}
		return
	}
	switch v.Type {
	case "record":
		if v.Doc == "" {
			t.Errorf("%s: record %s has no doc", where, v.Name)
		}
		for _, f := range v.Fields {
			if f.Doc == "" {
				t.Errorf("%s: field %s.%s has no doc", where, v.Name, f.Name)
			}
			checkDocs(t, where, f.Type, enums)
		}
	case "array":
		items, _ := json.Marshal(v.Items)
		checkDocs(t, where, items, enums)
	case "enum":
		enums[v.Name] = v.Symbols
	}
}

func TestSchemaFiles(t *testing.T) {
	s := newSet(t)
	names, err := fs.Glob(files, "*.avsc")
	if err != nil || len(names) != int(numKinds) {
		t.Fatalf("embedded files %v (%v), want %d", names, err, numKinds)
	}
	enums := map[string][]string{}
	for _, sc := range s.Schemas() {
		raw, err := files.ReadFile(sc.Name + ".avsc")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := goavro.NewCodec(string(raw)); err != nil {
			t.Errorf("%s: goavro: %v", sc.Name, err)
		}
		var top avsc
		if err := json.Unmarshal(raw, &top); err != nil {
			t.Fatal(err)
		}
		if got := top.Namespace + "." + top.Name; got != sc.FullName {
			t.Errorf("%s: full name %s, want %s", sc.Name, got, sc.FullName)
		}
		checkDocs(t, sc.Name, raw, enums)
		var a, b bytes.Buffer
		_ = json.Compact(&a, raw)
		_ = json.Compact(&b, []byte(sc.Text))
		if a.String() != b.String() {
			t.Errorf("%s: Text is not the file's JSON", sc.Name)
		}
	}
	toStrings := func(v any) []string {
		rv := reflect.ValueOf(v)
		out := make([]string, rv.Len())
		for i := range out {
			out[i] = rv.Index(i).String()
		}
		return out
	}
	for name, goSymbols := range map[string]any{
		"TransactionType": transactionTypes, "EventType": eventTypes, "CatalogKind": catalogKinds,
		"AllocationAction": allocationActions, "AllocationStatus": allocationStatuses, "Role": tokenRoles,
	} {
		if got := toStrings(goSymbols); !slices.Equal(got, enums[name]) {
			t.Errorf("enum %s: Go symbols %v, schema symbols %v", name, got, enums[name])
		}
	}
}

func TestLocalIDs(t *testing.T) {
	a, b := newSet(t), newSet(t)
	if !reflect.DeepEqual(a.Schemas(), b.Schemas()) {
		t.Fatal("two local Sets differ")
	}
	want := []struct{ name, full, subject string }{
		{"transaction", "io.invsync.v1.Transaction", "invsync.transactions-value"},
		{"inventory_event", "io.invsync.v1.InventoryEvent", "invsync.inventory-events-value"},
		{"catalog_entry", "io.invsync.v1.CatalogEntry", "invsync.catalog-value"},
		{"allocation_request", "io.invsync.v1.AllocationRequest", "invsync.allocation-requests-value"},
		{"allocation_decision", "io.invsync.v1.AllocationDecision", "invsync.allocation-decisions-value"},
		{"position_snapshot", "io.invsync.v1.PositionSnapshot", "invsync.position-snapshots-value"},
		{"lock", "io.invsync.v1.Lock", "invsync.locks-value"},
		{"token", "io.invsync.v1.Token", "invsync.tokens-value"},
		{"command", "io.invsync.v1.Command", "invsync.commands-value"},
		{"discrepancy", "io.invsync.v1.Discrepancy", "invsync.discrepancies-value"},
		{"count_task", "io.invsync.v1.CountTask", "invsync.count-tasks-value"},
		{"cloud_positions", "io.invsync.v1.CloudPositionsReport", "invsync.cloud-positions-value"},
		{"scanner_status", "io.invsync.v1.ScannerStatus", "invsync.scanner-status-value"},
	}
	if n := len(a.Schemas()); n != len(want) {
		t.Errorf("%d schemas, want %d", n, len(want))
	}
	for i, sc := range a.Schemas() {
		w := want[i]
		if sc.ID != i+1 || sc.Version != 1 || sc.Name != w.name || sc.FullName != w.full || sc.Subject != w.subject ||
			sc.Topic+"-value" != sc.Subject || sc.Topic != DefaultTopicPrefix+sc.TopicSuffix {
			t.Errorf("schema %d = %+v, want id %d version 1 %+v", i, sc, i+1, w)
		}
	}
	c, err := New(context.Background(), Config{TopicPrefix: "test."})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Topics(); got != NewTopics("test.") || got.InventoryEvents != "test.inventory-events" || got.Locks != "test.locks" {
		t.Errorf("Topics() = %+v", got)
	}
	if got := c.Schemas()[4].Subject; got != "test.allocation-decisions-value" {
		t.Errorf("subject %q", got)
	}
}

func TestLookups(t *testing.T) {
	s := newSet(t)
	subjects := s.Subjects()
	if !slices.IsSorted(subjects) || len(subjects) != int(numKinds) {
		t.Fatalf("Subjects() = %v", subjects)
	}
	subjects[0] = "mutated"
	if s.Subjects()[0] == "mutated" {
		t.Fatal("Subjects() shares its slice")
	}
	for _, sc := range s.Schemas() {
		if text, ok := s.SchemaByID(sc.ID); !ok || text != sc.Text {
			t.Errorf("SchemaByID(%d) = %.40q, %v", sc.ID, text, ok)
		}
		want := SubjectVersionInfo{Subject: sc.Subject, Version: 1, ID: sc.ID, Schema: sc.Text}
		for _, v := range []string{"latest", "-1", "1"} {
			if got, ok := s.SubjectVersion(sc.Subject, v); !ok || got != want {
				t.Errorf("SubjectVersion(%s, %s) = %+v, %v", sc.Subject, v, got, ok)
			}
		}
		for _, v := range []string{"2", "0", "", "x", "01x"} {
			if _, ok := s.SubjectVersion(sc.Subject, v); ok {
				t.Errorf("SubjectVersion(%s, %q) found", sc.Subject, v)
			}
		}
	}
	for _, id := range []int{0, -1, int(numKinds) + 1, math.MaxInt32 + 1, math.MaxInt} {
		if _, ok := s.SchemaByID(id); ok {
			t.Errorf("SchemaByID(%d) found", id)
		}
	}
	if _, ok := s.SubjectVersion("invsync.nope-value", "latest"); ok {
		t.Error("unknown subject found")
	}
	info, _ := s.SubjectVersion("invsync.catalog-value", "latest")
	js, _ := json.Marshal(info)
	if !bytes.HasPrefix(js, []byte(`{"subject":"invsync.catalog-value","version":1,"id":3,"schema":"{\"type\":\"record\"`)) {
		t.Errorf("JSON shape %s", js)
	}
}

// roundTrip encodes v after a prefix, checks the prefix survives, decodes and
// compares.
func roundTrip[T any](t *testing.T, v T, enc func([]byte, *T) ([]byte, error), dec func([]byte) (T, error)) []byte {
	t.Helper()
	b, err := enc([]byte("prefix"), &v)
	if err != nil {
		t.Fatalf("encoding %+v: %v", v, err)
	}
	if !bytes.HasPrefix(b, []byte("prefix")) {
		t.Fatal("prefix lost")
	}
	got, err := dec(b[len("prefix"):])
	if err != nil {
		t.Fatalf("decoding %+v: %v", v, err)
	}
	if !reflect.DeepEqual(got, v) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, v)
	}
	return b[len("prefix"):]
}

func sampleTransaction() Transaction {
	return Transaction{
		TransactionID: "tx-1", Type: TxMove, WarehouseID: "WH1", ItemID: "SKU-1", LocationID: "A-01",
		LotNumber: "L1", Quantity: 12, ToLocationID: ptr("B-02"), ExpectedVersion: ptr(int64(7)),
		AllocationID: ptr("al-1"), Override: true, UserID: "u1", ReasonCode: ptr("DMG"), ScannerID: "sc-1",
		DeviceTimestamp: ms(1_700_000_000_123), CorrectedTimestamp: ms(1_700_000_000_456),
		SentAt: ms(1_700_000_001_000), ReceivedAt: ms(1_700_000_002_000), BodyHash: bytes.Repeat([]byte{0xab}, 32),
	}
}

func sampleInventoryEvent() InventoryEvent {
	return InventoryEvent{
		EventID: "ev-1", Timestamp: ms(1_700_000_003_000), EventType: EventInventoryPick, ItemID: "SKU-1",
		WarehouseID: "WH1", LocationID: "A-01", LotNumber: ptr("L1"), QuantityChange: -3, ResultingOnHand: 9,
		TransactionID: "tx-1", ScannerID: "sc-1", UserID: "u1", Version: 4, Allocated: 2, Available: 7,
		DeviceTimestamp: ms(1_700_000_000_123), CorrectedTimestamp: ms(1_700_000_000_456),
		Warnings: []string{"NEGATIVE_STOCK", "ünïcødé ⚠"}, AllocationID: ptr("al-1"),
	}
}

func sampleAllocationRequest() AllocationRequest {
	return AllocationRequest{
		Action: ActionAllocate, AllocationID: "al-1", OrderID: "o-1", OrderLine: 3, WarehouseID: "WH1", ItemID: "SKU-1",
		Quantity: 5, LocationID: ptr("A-01"), LotNumber: ptr("L1"), AllowPartial: true,
		ExpiresAt: ptr(ms(1_700_086_400_000)), RequestedAt: ms(1_700_000_000_000), BodyHash: []byte{1, 2, 3},
	}
}

func sampleAllocationDecision() AllocationDecision {
	return AllocationDecision{
		DecisionID: "al-1/2", AllocationID: "al-1", OrderID: "o-1", OrderLine: 3, WarehouseID: "WH1", ItemID: "SKU-1",
		Status: StatusPartial, RequestedQuantity: 5, ConfirmedQuantity: 4, BackorderQuantity: 1,
		Lines:  []AllocationLine{{"A-01", "L1", 3}, {"A-02", "", 1}},
		Reason: ptr("short"), DecidedAt: ms(1_700_000_000_999), Sequence: 2,
	}
}

func TestRoundTrip(t *testing.T) {
	s := newSet(t)
	// Every kind must be round-tripped below: note records the kind of
	// each encoded value, and the end of the test checks none is missing.
	covered := map[kind]bool{}
	note := func(b []byte) {
		covered[s.byID[binary.BigEndian.Uint32(b[1:5])]] = true
	}
	extremes := []time.Time{{}, ms(0), ms(-1), ms(math.MinInt64), ms(math.MaxInt64)}

	tx := sampleTransaction()
	note(roundTrip(t, tx, s.AppendTransaction, s.DecodeTransaction))
	note(roundTrip(t, Transaction{Type: TxReceipt}, s.AppendTransaction, s.DecodeTransaction)) // all empty and null
	for _, ts := range extremes {
		tx := Transaction{TransactionID: "Ωmega-🚚", Type: TxAdjustment, Quantity: math.MinInt64, ExpectedVersion: ptr(int64(math.MaxInt64)),
			ToLocationID: ptr(""), DeviceTimestamp: ts, CorrectedTimestamp: ts, SentAt: ts, ReceivedAt: ts}
		note(roundTrip(t, tx, s.AppendTransaction, s.DecodeTransaction))
	}

	note(roundTrip(t, sampleInventoryEvent(), s.AppendInventoryEvent, s.DecodeInventoryEvent))
	note(roundTrip(t, InventoryEvent{EventType: EventCycleCount, QuantityChange: math.MinInt64, ResultingOnHand: -1, Timestamp: extremes[3]},
		s.AppendInventoryEvent, s.DecodeInventoryEvent))

	note(roundTrip(t, CatalogEntry{Kind: KindWarehouse, ID: "WH1", Locations: []string{"A-01", "", "Ü-1"}, Description: "main"},
		s.AppendCatalogEntry, s.DecodeCatalogEntry))
	note(roundTrip(t, CatalogEntry{Kind: KindItem, ID: "SKU-1", LotTracked: true, MaxTransactionQuantity: math.MaxInt64},
		s.AppendCatalogEntry, s.DecodeCatalogEntry))

	note(roundTrip(t, sampleAllocationRequest(), s.AppendAllocationRequest, s.DecodeAllocationRequest))
	note(roundTrip(t, AllocationRequest{Action: ActionCancel, OrderLine: math.MinInt32, Quantity: -5, ExpiresAt: ptr(time.Time{})},
		s.AppendAllocationRequest, s.DecodeAllocationRequest))
	note(roundTrip(t, AllocationRequest{Action: ActionAllocate, OrderLine: math.MaxInt32}, s.AppendAllocationRequest, s.DecodeAllocationRequest))

	note(roundTrip(t, sampleAllocationDecision(), s.AppendAllocationDecision, s.DecodeAllocationDecision))
	note(roundTrip(t, AllocationDecision{Status: StatusExpired, PickedQuantity: -1, Sequence: 1}, s.AppendAllocationDecision, s.DecodeAllocationDecision))

	note(roundTrip(t, PositionSnapshot{SnapshotID: "snap", Partition: 7, TakenAt: ms(5), WarehouseID: "WH1", ItemID: "SKU",
		LocationID: "A", LotNumber: "日本", OnHand: -2, Allocated: 3, Available: -5, Version: 9, UpdatedAt: ms(4)},
		s.AppendPositionSnapshot, s.DecodePositionSnapshot))
	note(roundTrip(t, PositionSnapshot{Partition: -1}, s.AppendPositionSnapshot, s.DecodePositionSnapshot))

	note(roundTrip(t, sampleLock(), s.AppendLock, s.DecodeLock))
	released := sampleLock()
	released.ReleasedAt = ptr(ms(1_700_000_900_000))
	note(roundTrip(t, released, s.AppendLock, s.DecodeLock))
	for _, ts := range extremes {
		note(roundTrip(t, Lock{LockID: "Ωmega-🔒", AcquiredAt: ts, ExpiresAt: ts, ReleasedAt: ptr(ts)}, s.AppendLock, s.DecodeLock))
	}

	note(roundTrip(t, sampleToken(), s.AppendToken, s.DecodeToken))
	for _, role := range tokenRoles {
		note(roundTrip(t, Token{TokenID: "Ωmega-🔑", Role: role}, s.AppendToken, s.DecodeToken))
	}
	revoked := sampleToken()
	revoked.ExpiresAt, revoked.RevokedAt = ptr(extremes[3]), ptr(extremes[4])
	note(roundTrip(t, revoked, s.AppendToken, s.DecodeToken))

	for _, c := range sampleCommands() {
		note(roundTrip(t, c, s.AppendCommand, s.DecodeCommand))
	}
	for _, ts := range extremes {
		note(roundTrip(t, Command{CommandID: "Ωmega", Kind: "COUNT_DECISION", IssuedAt: ts, Count: &HeldCountDecision{}},
			s.AppendCommand, s.DecodeCommand))
	}
	note(roundTrip(t, Command{Kind: "DISCREPANCY_UPDATE", Discrepancy: &DiscrepancyChange{Status: ptr(""), Assignee: ptr("日本")}},
		s.AppendCommand, s.DecodeCommand))
	note(roundTrip(t, Command{Kind: "REPORT_PIECE", Report: &ReportPiece{}}, s.AppendCommand, s.DecodeCommand))

	note(roundTrip(t, sampleDiscrepancy(), s.AppendDiscrepancy, s.DecodeDiscrepancy))
	note(roundTrip(t, Discrepancy{Kind: "MISMATCH", Status: "OPEN", WarehouseOnHand: math.MinInt64, WarehouseVersion: math.MaxInt64,
		CloudOnHand: ptr(int64(math.MaxInt64)), Assignee: ptr(""), Resolution: ptr("Ü"), CountTaskID: ptr("ct"),
		OpenedAt: extremes[3], UpdatedAt: extremes[4], Sequence: -1},
		s.AppendDiscrepancy, s.DecodeDiscrepancy))

	note(roundTrip(t, sampleCountTask(), s.AppendCountTask, s.DecodeCountTask))
	for _, ts := range extremes {
		note(roundTrip(t, CountTask{CountTaskID: "Ωmega", Status: "OPEN", CreatedAt: ts, DiscrepancyID: ptr(""), CompletedAt: ptr(ts)},
			s.AppendCountTask, s.DecodeCountTask))
	}

	note(roundTrip(t, sampleCloudPositionsReport(), s.AppendCloudPositionsReport, s.DecodeCloudPositionsReport))
	note(roundTrip(t, CloudPositionsReport{ItemFrom: ptr(""), Positions: []CloudPosition{{OnHand: math.MinInt64, Version: math.MaxInt64}}},
		s.AppendCloudPositionsReport, s.DecodeCloudPositionsReport))

	note(roundTrip(t, ScannerStatus{ScannerID: "Ωmega-📟", ReceivedAt: ms(5), SentAt: ms(4), Queued: math.MaxInt64, OldestQueuedAt: ptr(extremes[3]),
		Rejected: -1, AppVersion: "web 3", LastUploadAt: ptr(ms(3))}, s.AppendScannerStatus, s.DecodeScannerStatus))
	for _, ts := range extremes {
		note(roundTrip(t, ScannerStatus{ScannerID: "S", ReceivedAt: ts, SentAt: ts}, s.AppendScannerStatus, s.DecodeScannerStatus))
	}

	for k := range numKinds {
		if !covered[k] {
			t.Errorf("kind %s has no round trip", defs[k].name)
		}
	}
}

func sampleLock() Lock {
	return Lock{LockID: "lock-1", WarehouseID: "WH1", LocationID: "A-01", ScannerID: "SCANNER-03",
		AcquiredAt: ms(1_700_000_000_000), ExpiresAt: ms(1_700_001_800_000)}
}

func sampleToken() Token {
	return Token{TokenID: "tok-1", Name: "dock scanners", Role: "scanner", Warehouses: []string{"WH1", "WH2"},
		ExpiresAt: ptr(ms(1_800_000_000_000)), CreatedAt: ms(1_700_000_000_000), CreatedBy: "admin", Hash: []byte{0, 1, 0xfe, 0xff}}
}

func sampleCommands() []Command {
	at := ms(1_700_000_000_000)
	ps := []CloudPosition{{ItemID: "I", LocationID: "L", LotNumber: "", OnHand: 95, Version: 18},
		{ItemID: "J", LocationID: "M", LotNumber: "LOT", OnHand: -1, Version: 0}}
	return []Command{
		{CommandID: "c1", Kind: "REPORT_PIECE", WarehouseID: "WH", IssuedAt: at, By: "cloud-1",
			Report: &ReportPiece{PieceID: "r#3", ReportID: "r", Complete: true, ItemFrom: ptr("A"), ItemTo: ptr("Z"), Positions: ps}},
		{CommandID: "c2", Kind: "DISCREPANCY_UPDATE", WarehouseID: "WH", ItemID: "I", IssuedAt: at, By: "sup",
			Discrepancy: &DiscrepancyChange{DiscrepancyID: "d-1", Status: ptr("RESOLVED"), Resolution: ptr("WRITTEN_OFF"), Note: "n"}},
		{CommandID: "c3", Kind: "COUNT_DECISION", WarehouseID: "WH", ItemID: "I", IssuedAt: at, By: "sup",
			Count: &HeldCountDecision{TransactionID: "tx", Approve: true, Note: "recounted"}},
	}
}

func sampleDiscrepancy() Discrepancy {
	at := ms(1_700_000_000_000)
	return Discrepancy{DiscrepancyID: "d-1", WarehouseID: "WH", ItemID: "I", LocationID: "L", LotNumber: "LOT", Kind: "MISMATCH",
		WarehouseOnHand: 95, WarehouseVersion: 18, CloudOnHand: ptr(int64(100)), CloudVersion: ptr(int64(18)), Status: "OPEN",
		ReportID: "r", OpenedAt: at, UpdatedAt: at, Sequence: 1,
		History: []DiscrepancyStep{{At: at, By: "cloud-1", Status: "OPEN", Note: "found"}, {At: at, By: "sup", Status: "INVESTIGATING"}}}
}

func sampleCountTask() CountTask {
	at := ms(1_700_000_000_000)
	return CountTask{CountTaskID: "ct-1", WarehouseID: "WH", LocationID: "L", ItemID: ptr("I"), Reason: "r", Status: "DONE",
		CreatedAt: at, CreatedBy: "sup", DiscrepancyID: ptr("d-1"), CompletedAt: &at, CompletedBy: ptr("tx")}
}

func sampleCloudPositionsReport() CloudPositionsReport {
	return CloudPositionsReport{ReportID: "r", WarehouseID: "WH", Complete: true, ItemFrom: ptr("A"), ItemTo: ptr("Z"),
		Positions: sampleCommands()[0].Report.Positions}
}

func TestTimePrecision(t *testing.T) {
	s := newSet(t)
	local := time.FixedZone("X", 3600)
	in := Transaction{Type: TxPick, DeviceTimestamp: time.Date(2024, 5, 6, 7, 8, 9, 123_456_789, local)}
	b := mustAppend(t, s.AppendTransaction, &in)
	out, err := s.DecodeTransaction(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2024, 5, 6, 6, 8, 9, 123_000_000, time.UTC); out.DeviceTimestamp != want {
		t.Errorf("got %v, want %v", out.DeviceTimestamp, want)
	}
}

func TestErrors(t *testing.T) {
	s := newSet(t)
	tx := sampleTransaction()
	good := mustAppend(t, s.AppendTransaction, &tx)
	with := func(b []byte, f func(b []byte)) []byte { b = slices.Clone(b); f(b); return b }
	header := func(id uint32) []byte { return binary.BigEndian.AppendUint32([]byte{0}, id) }
	// Offset of the enum byte: header, then "tx-1" as length byte + 4 bytes.
	const enumAt = 5 + 1 + len("tx-1")
	for _, c := range []struct {
		name string
		in   []byte
		want error
	}{
		{"nil", nil, ErrNotWireFormat},
		{"short", []byte{0, 0, 0, 1}, ErrNotWireFormat},
		{"magic", with(good, func(b []byte) { b[0] = 1 }), ErrNotWireFormat},
		{"unknown id", append(header(99), good[5:]...), ErrUnknownSchemaID},
		{"id zero", append(header(0), good[5:]...), ErrUnknownSchemaID},
		{"wrong schema", append(header(2), good[5:]...), ErrWrongSchema},
		{"empty payload", header(1), ErrMalformed},
		{"truncated", good[:len(good)-1], ErrMalformed},
		{"trailing byte", append(slices.Clone(good), 0), ErrMalformed},
		{"enum index", with(good, func(b []byte) { b[enumAt] = 10 }), ErrMalformed},
		{"negative enum index", with(good, func(b []byte) { b[enumAt] = 1 }), ErrMalformed},
		{"negative length", with(good, func(b []byte) { b[5] = 1 }), ErrMalformed},
		{"huge length", append(header(1), 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), ErrMalformed},
		{"invalid utf-8", with(good, func(b []byte) { b[6] = 0xff }), ErrInvalid},
	} {
		_, err := s.DecodeTransaction(c.in)
		if !errors.Is(err, c.want) || !strings.HasPrefix(err.Error(), "decoding transaction: ") {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}

	// Union index and boolean, in a record where they are easy to reach.
	ar := AllocationRequest{Action: ActionCancel}
	b, _ := s.AppendAllocationRequest(nil, &ar)
	// payload: action, 2 empty strings, orderLine, 2 empty strings, quantity, locationId union ...
	if _, err := s.DecodeAllocationRequest(with(b, func(b []byte) { b[5+7] = 4 })); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "locationId") {
		t.Errorf("union index: %v", err)
	}
	if _, err := s.DecodeAllocationRequest(with(b, func(b []byte) { b[5+9] = 2 })); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "allowPartial") {
		t.Errorf("boolean: %v", err)
	}

	// Encoding rejects what decoding would.
	encodeErrs := map[string]error{}
	_, encodeErrs["enum"] = s.AppendTransaction(nil, &Transaction{Type: "SHIP"})
	_, encodeErrs["utf-8"] = s.AppendTransaction(nil, &Transaction{Type: TxPick, ReasonCode: ptr("\xff")})
	_, encodeErrs["nil"] = s.AppendTransaction(nil, nil)
	_, encodeErrs["event enum"] = s.AppendInventoryEvent(nil, &InventoryEvent{EventType: "x"})
	_, encodeErrs["event utf-8"] = s.AppendInventoryEvent(nil, &InventoryEvent{EventType: EventCycleCount, Warnings: []string{"ok", "\xc3"}})
	_, encodeErrs["catalog enum"] = s.AppendCatalogEntry(nil, &CatalogEntry{})
	_, encodeErrs["request enum"] = s.AppendAllocationRequest(nil, &AllocationRequest{})
	_, encodeErrs["decision utf-8"] = s.AppendAllocationDecision(nil, &AllocationDecision{Status: StatusConfirmed, Lines: []AllocationLine{{LotNumber: "\xff"}}})
	_, encodeErrs["snapshot nil"] = s.AppendPositionSnapshot(nil, nil)
	_, encodeErrs["lock nil"] = s.AppendLock(nil, nil)
	_, encodeErrs["lock utf-8"] = s.AppendLock(nil, &Lock{ScannerID: "\xff"})
	for name, err := range encodeErrs {
		if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "encoding ") {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	dst := []byte("keep")
	if out, err := s.AppendInventoryEvent(dst, &InventoryEvent{}); err == nil || string(out) != "keep" {
		t.Errorf("failed append returned %q, %v", out, err)
	}
}

// TestHostileArrayCount: a block count near 2^31 must fail at once, not
// allocate (goavro would try to allocate 32 GiB here).
func TestHostileArrayCount(t *testing.T) {
	s := newSet(t)
	b, _ := s.AppendCatalogEntry(nil, &CatalogEntry{Kind: KindItem, ID: "x"})
	// header, kind, "x", then the locations block count.
	hostile := append(slices.Clone(b[:5+1+2]), 0xfe, 0xff, 0xff, 0xff, 0x0f)
	for _, in := range [][]byte{hostile, append(slices.Clone(b[:8]), 0xfd, 0xff, 0xff, 0xff, 0x0f, 0x02)} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, err := s.DecodeCatalogEntry(in); !errors.Is(err, ErrMalformed) {
			t.Fatalf("err = %v", err)
		}
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
			t.Errorf("decoding % x allocated %d bytes", in, n)
		}
	}
}

// TestConcurrentUse: one Set, many goroutines encoding and decoding values
// of their own; every value decodes to exactly what its goroutine encoded
// (a buffer or codec state shared between goroutines would mix them up),
// and the registry lookups answer the same throughout. Run with -race as
// well: the race detector checks the Set's immutability itself.
func TestConcurrentUse(t *testing.T) {
	s := newSet(t)
	const subject = "invsync.catalog-value"
	wantInfo, ok := s.SubjectVersion(subject, "latest")
	if !ok || wantInfo.Subject != subject || wantInfo.ID != 3 || wantInfo.Version != 1 {
		t.Fatalf("SubjectVersion(%s, latest) = %+v, %v; want id 3, version 1", subject, wantInfo, ok)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			var bt, be, ba []byte
			for i := range 200 {
				id := fmt.Sprintf("g%d-%d", g, i)
				tx, ev, ar := sampleTransaction(), sampleInventoryEvent(), sampleAllocationRequest()
				tx.TransactionID, tx.Quantity = id, int64(g*1000+i)
				ev.EventID, ev.Version = id, int64(i)
				ar.AllocationID, ar.Quantity = id, int64(g)
				var err error
				if bt, err = s.AppendTransaction(bt[:0], &tx); err != nil {
					t.Errorf("goroutine %d: encoding transaction %s: %v", g, id, err)
					return
				}
				if be, err = s.AppendInventoryEvent(be[:0], &ev); err != nil {
					t.Errorf("goroutine %d: encoding event %s: %v", g, id, err)
					return
				}
				if ba, err = s.AppendAllocationRequest(ba[:0], &ar); err != nil {
					t.Errorf("goroutine %d: encoding allocation request %s: %v", g, id, err)
					return
				}
				gotTx, err := s.DecodeTransaction(bt)
				if err != nil || !reflect.DeepEqual(gotTx, tx) {
					t.Errorf("goroutine %d: transaction %s decodes as %+v, %v", g, id, gotTx, err)
					return
				}
				gotEv, err := s.DecodeInventoryEvent(be)
				if err != nil || !reflect.DeepEqual(gotEv, ev) {
					t.Errorf("goroutine %d: event %s decodes as %+v, %v", g, id, gotEv, err)
					return
				}
				gotAr, err := s.DecodeAllocationRequest(ba)
				if err != nil || !reflect.DeepEqual(gotAr, ar) {
					t.Errorf("goroutine %d: allocation request %s decodes as %+v, %v", g, id, gotAr, err)
					return
				}
				if info, ok := s.SubjectVersion(subject, "latest"); !ok || info != wantInfo {
					t.Errorf("goroutine %d: SubjectVersion(%s, latest) = %+v, %v; want %+v", g, subject, info, ok, wantInfo)
					return
				}
			}
		})
	}
	wg.Wait()
}
