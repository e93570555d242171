package processors

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testCatalog: two warehouses, a lot-tracked item, one that is not and
// uses the default limit, and one with a small limit.
func testCatalog(lim Limits) *Catalog {
	c := NewCatalog(lim)
	c.Load(CatalogDoc{
		Warehouses: []Warehouse{
			{WarehouseID: "WH-001", Locations: []string{"A-05-02", "B-01-01"}},
			{WarehouseID: "WH-002", Locations: []string{"C-01-01"}},
		},
		Items: []Item{
			{ItemID: "ITEM-LOT", LotTracked: true, MaxTransactionQuantity: 10000},
			{ItemID: "ITEM-PLAIN"},
			{ItemID: "ITEM-SMALL", MaxTransactionQuantity: 5},
		},
	})
	return c
}

// validTx is a transaction of type typ that testCatalog accepts.
func validTx(typ TxType) *Transaction {
	tx := &Transaction{
		TransactionID: "0b6f1f0e-5c1a-4a57-9a3e-3f1f3d7e2a10",
		Type:          typ,
		WarehouseID:   "WH-001",
		ItemID:        "ITEM-LOT",
		LocationID:    "A-05-02",
		LotNumber:     "LOT-2024-089",
		Quantity:      95,
		UserID:        "warehouse_user_23",
		ScannerID:     "SCANNER-08",
	}
	if typ == Move {
		tx.ToLocationID = "B-01-01"
	}
	return tx
}

func TestCatalogCheck(t *testing.T) {
	long := strings.Repeat("x", 129)
	plain := func(t *Transaction) { t.ItemID, t.LotNumber = "ITEM-PLAIN", "" }
	for _, c := range []struct {
		name   string
		typ    TxType
		change func(*Transaction)
		code   string // "" when accepted
		msg    string // part of the message
	}{
		{"RECEIPT as sent is accepted", Receipt, nil, "", ""},
		{"PICK as sent is accepted", Pick, nil, "", ""},
		{"MOVE as sent is accepted", Move, nil, "", ""},
		{"ADJUSTMENT as sent is accepted", Adjustment, nil, "", ""},
		{"CYCLE_COUNT as sent is accepted", CycleCount, nil, "", ""},

		// Required identifiers.
		{"missing transactionId", Receipt, func(t *Transaction) { t.TransactionID = "" }, CodeInvalidTransaction, "transactionId is required"},
		{"missing warehouseId", Receipt, func(t *Transaction) { t.WarehouseID = "" }, CodeInvalidTransaction, "warehouseId is required"},
		{"missing itemId", Receipt, func(t *Transaction) { t.ItemID = "" }, CodeInvalidTransaction, "itemId is required"},
		{"missing locationId", Receipt, func(t *Transaction) { t.LocationID = "" }, CodeInvalidTransaction, "locationId is required"},
		{"userId, reasonCode and allocationId are optional", Pick, func(t *Transaction) { t.UserID, t.ReasonCode, t.AllocationID = "", "", "" }, "", ""},

		// Type.
		{"missing type", "", nil, CodeInvalidTransaction, "type"},
		{"unknown type", "SHRINK", nil, CodeInvalidTransaction, `type "SHRINK"`},
		{"type in lower case", "receipt", nil, CodeInvalidTransaction, "type"},

		// Quantity sign per type.
		{"RECEIPT of 0", Receipt, func(t *Transaction) { t.Quantity = 0 }, CodeInvalidTransaction, "must be > 0"},
		{"RECEIPT of -1", Receipt, func(t *Transaction) { t.Quantity = -1 }, CodeInvalidTransaction, "must be > 0"},
		{"PICK of 0", Pick, func(t *Transaction) { t.Quantity = 0 }, CodeInvalidTransaction, "must be > 0"},
		{"PICK of -1", Pick, func(t *Transaction) { t.Quantity = -1 }, CodeInvalidTransaction, "must be > 0"},
		{"MOVE of 0", Move, func(t *Transaction) { t.Quantity = 0 }, CodeInvalidTransaction, "must be > 0"},
		{"MOVE of -3", Move, func(t *Transaction) { t.Quantity = -3 }, CodeInvalidTransaction, "must be > 0"},
		{"ADJUSTMENT of 0", Adjustment, func(t *Transaction) { t.Quantity = 0 }, CodeInvalidTransaction, "must not be 0"},
		{"ADJUSTMENT of -5 is a delta", Adjustment, func(t *Transaction) { t.Quantity = -5 }, "", ""},
		{"CYCLE_COUNT of -1", CycleCount, func(t *Transaction) { t.Quantity = -1 }, CodeInvalidTransaction, "must be >= 0"},
		{"CYCLE_COUNT of 0 is an empty location", CycleCount, func(t *Transaction) { t.Quantity = 0 }, "", ""},

		// toLocationId only on MOVE, and a different location.
		{"MOVE without toLocationId", Move, func(t *Transaction) { t.ToLocationID = "" }, CodeInvalidTransaction, "toLocationId is required"},
		{"MOVE to its own location", Move, func(t *Transaction) { t.ToLocationID = t.LocationID }, CodeInvalidTransaction, "must change location"},
		{"toLocationId on a RECEIPT", Receipt, func(t *Transaction) { t.ToLocationID = "B-01-01" }, CodeInvalidTransaction, "only allowed on a MOVE"},
		{"toLocationId on a PICK", Pick, func(t *Transaction) { t.ToLocationID = "B-01-01" }, CodeInvalidTransaction, "only allowed on a MOVE"},
		{"toLocationId on an ADJUSTMENT", Adjustment, func(t *Transaction) { t.ToLocationID = "B-01-01" }, CodeInvalidTransaction, "only allowed on a MOVE"},
		{"toLocationId on a CYCLE_COUNT", CycleCount, func(t *Transaction) { t.ToLocationID = "B-01-01" }, CodeInvalidTransaction, "only allowed on a MOVE"},

		// allocationId only on PICK.
		{"allocationId on a PICK", Pick, func(t *Transaction) { t.AllocationID = "ALLOC-1" }, "", ""},
		{"allocationId on a RECEIPT", Receipt, func(t *Transaction) { t.AllocationID = "ALLOC-1" }, CodeInvalidTransaction, "only allowed on a PICK"},
		{"allocationId on a MOVE", Move, func(t *Transaction) { t.AllocationID = "ALLOC-1" }, CodeInvalidTransaction, "only allowed on a PICK"},
		{"allocationId on an ADJUSTMENT", Adjustment, func(t *Transaction) { t.AllocationID = "ALLOC-1" }, CodeInvalidTransaction, "only allowed on a PICK"},
		{"allocationId on a CYCLE_COUNT", CycleCount, func(t *Transaction) { t.AllocationID = "ALLOC-1" }, CodeInvalidTransaction, "only allowed on a PICK"},

		// Identifiers are printable (0x00 separates key parts) and bounded.
		{"NUL in transactionId", Receipt, func(t *Transaction) { t.TransactionID = "tx\x00" }, CodeInvalidTransaction, "transactionId contains a control character"},
		{"NUL in itemId", Receipt, func(t *Transaction) { t.ItemID = "ITEM-LOT\x00x" }, CodeInvalidTransaction, "itemId contains a control character"},
		{"newline in warehouseId", Receipt, func(t *Transaction) { t.WarehouseID = "WH-001\n" }, CodeInvalidTransaction, "warehouseId contains a control character"},
		{"tab in locationId", Receipt, func(t *Transaction) { t.LocationID = "A-05\t02" }, CodeInvalidTransaction, "locationId contains a control character"},
		{"unit separator in lotNumber", Receipt, func(t *Transaction) { t.LotNumber = "LOT\x1f" }, CodeInvalidTransaction, "lotNumber contains a control character"},
		{"DEL in toLocationId", Move, func(t *Transaction) { t.ToLocationID = "B\x7f" }, CodeInvalidTransaction, "toLocationId contains a control character"},
		{"ESC in allocationId", Pick, func(t *Transaction) { t.AllocationID = "\x1b[31m" }, CodeInvalidTransaction, "allocationId contains a control character"},
		{"carriage return in userId", Receipt, func(t *Transaction) { t.UserID = "u\r" }, CodeInvalidTransaction, "userId contains a control character"},
		{"NUL in reasonCode", Adjustment, func(t *Transaction) { t.ReasonCode = "\x00" }, CodeInvalidTransaction, "reasonCode contains a control character"},
		{"non-ASCII printable ids are fine", Receipt, func(t *Transaction) { t.UserID, t.ReasonCode = "jürgen", "破損" }, "", ""},
		{"transactionId of 128 bytes", Receipt, func(t *Transaction) { t.TransactionID = long[:128] }, "", ""},
		{"transactionId of 129 bytes", Receipt, func(t *Transaction) { t.TransactionID = long }, CodeInvalidTransaction, "transactionId is 129 bytes long, the limit is 128"},
		{"locationId of 129 bytes", Receipt, func(t *Transaction) { t.LocationID = long }, CodeInvalidTransaction, "locationId is 129 bytes"},
		{"lotNumber of 129 bytes", Receipt, func(t *Transaction) { t.LotNumber = long }, CodeInvalidTransaction, "lotNumber is 129 bytes"},
		{"reasonCode of 129 bytes", Adjustment, func(t *Transaction) { t.ReasonCode = long }, CodeInvalidTransaction, "reasonCode is 129 bytes"},

		// expectedVersion.
		{"expectedVersion 0", Pick, func(t *Transaction) { t.ExpectedVersion = ptr(int64(0)) }, "", ""},
		{"negative expectedVersion", Pick, func(t *Transaction) { t.ExpectedVersion = ptr(int64(-1)) }, CodeInvalidTransaction, "expectedVersion must be >= 0"},

		// Lots.
		{"lot-tracked item without lotNumber", Receipt, func(t *Transaction) { t.LotNumber = "" }, CodeInvalidTransaction, "lot-tracked: lotNumber is required"},
		{"non-lot item with a lotNumber", Receipt, func(t *Transaction) { t.ItemID = "ITEM-PLAIN" }, CodeInvalidTransaction, "not lot-tracked"},
		{"non-lot item without lotNumber", Receipt, plain, "", ""},

		// Master data.
		{"unknown warehouse", Receipt, func(t *Transaction) { t.WarehouseID = "WH-999" }, CodeUnknownWarehouse, "WH-999"},
		{"unknown item", Receipt, func(t *Transaction) { t.ItemID = "ITEM-NOPE" }, CodeUnknownItem, "ITEM-NOPE"},
		{"unknown location", Receipt, func(t *Transaction) { t.LocationID = "Z-99-99" }, CodeUnknownLocation, "Z-99-99"},
		{"location of another warehouse", Receipt, func(t *Transaction) { t.LocationID = "C-01-01" }, CodeUnknownLocation, "C-01-01"},
		{"MOVE to an unknown location", Move, func(t *Transaction) { t.ToLocationID = "Z-99-99" }, CodeUnknownLocation, "toLocationId"},
		{"MOVE to a location of another warehouse", Move, func(t *Transaction) { t.ToLocationID = "C-01-01" }, CodeUnknownLocation, "toLocationId"},
		{"the other warehouse's own location", Receipt, func(t *Transaction) { t.WarehouseID, t.LocationID = "WH-002", "C-01-01" }, "", ""},

		// Quantity reasonable.
		{"quantity at the item's limit", Receipt, func(t *Transaction) { t.ItemID, t.LotNumber, t.Quantity = "ITEM-SMALL", "", 5 }, "", ""},
		{"quantity over the item's limit", Receipt, func(t *Transaction) { t.ItemID, t.LotNumber, t.Quantity = "ITEM-SMALL", "", 6 }, CodeUnreasonableQuantity, "limit of 5"},
		{"ADJUSTMENT under minus the item's limit", Adjustment, func(t *Transaction) { t.ItemID, t.LotNumber, t.Quantity = "ITEM-SMALL", "", -6 }, CodeUnreasonableQuantity, "limit of 5"},
		{"CYCLE_COUNT over the item's limit", CycleCount, func(t *Transaction) { t.ItemID, t.LotNumber, t.Quantity = "ITEM-SMALL", "", 6 }, CodeUnreasonableQuantity, "limit of 5"},
		{"MOVE over the item's limit", Move, func(t *Transaction) { t.Quantity = 10001 }, CodeUnreasonableQuantity, "limit of 10000"},
		{"quantity at the default limit", Receipt, func(t *Transaction) { plain(t); t.Quantity = 100000 }, "", ""},
		{"quantity over the default limit", Receipt, func(t *Transaction) { plain(t); t.Quantity = 100001 }, CodeUnreasonableQuantity, "limit of 100000"},
		{"ADJUSTMENT of math.MinInt64", Adjustment, func(t *Transaction) { t.Quantity = math.MinInt64 }, CodeUnreasonableQuantity, "exceeds"},
		{"ADJUSTMENT of -math.MaxInt64", Adjustment, func(t *Transaction) { t.Quantity = -math.MaxInt64 }, CodeUnreasonableQuantity, "exceeds"},
		{"RECEIPT of math.MaxInt64", Receipt, func(t *Transaction) { t.Quantity = math.MaxInt64 }, CodeUnreasonableQuantity, "exceeds"},

		// Order of the checks: shape, warehouse, item, location, lot, quantity.
		{"shape is checked before master data", Receipt, func(t *Transaction) { t.WarehouseID, t.Quantity = "WH-999", 0 }, CodeInvalidTransaction, "quantity"},
		{"warehouse is checked before item", Receipt, func(t *Transaction) { t.WarehouseID, t.ItemID = "WH-999", "ITEM-NOPE" }, CodeUnknownWarehouse, ""},
		{"item is checked before location", Receipt, func(t *Transaction) { t.ItemID, t.LocationID = "ITEM-NOPE", "Z-99-99" }, CodeUnknownItem, ""},
		{"location is checked before quantity", Receipt, func(t *Transaction) { t.LocationID, t.Quantity = "Z-99-99", 1e9 }, CodeUnknownLocation, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			tx := validTx(c.typ)
			if c.change != nil {
				c.change(tx)
			}
			r := testCatalog(Limits{}).Check(tx)
			switch {
			case c.code == "" && r != nil:
				t.Fatalf("rejected %s: %s, want accepted", r.Code, r.Message)
			case c.code == "":
				return
			case r == nil:
				t.Fatalf("accepted, want %s", c.code)
			case r.Code != c.code || !strings.Contains(r.Message, c.msg):
				t.Fatalf("rejected %s: %s; want %s mentioning %q", r.Code, r.Message, c.code, c.msg)
			}
			if r.Error() != r.Code+": "+r.Message {
				t.Errorf("Error() = %q", r.Error())
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestCheckShapeNeedsNoCatalog: CheckShape decides only what needs no
// master data, and applies the given limits.
func TestCheckShapeNeedsNoCatalog(t *testing.T) {
	tx := validTx(Receipt)
	tx.WarehouseID, tx.ItemID, tx.Quantity = "WH-999", "ITEM-NOPE", 1e12
	if r := CheckShape(tx, Limits{}); r != nil {
		t.Errorf("CheckShape rejected %s: %s; unknown master data and large quantities are the catalog's to judge", r.Code, r.Message)
	}
	tx.TransactionID = "123456789"
	if r := CheckShape(tx, Limits{MaxIDLength: 8}); r == nil || r.Code != CodeInvalidTransaction || !strings.Contains(r.Message, "limit is 8") {
		t.Errorf("CheckShape with MaxIDLength 8 of a 9-byte id: %v", r)
	}
	tx.TransactionID = "12345678"
	if r := CheckShape(tx, Limits{MaxIDLength: 8}); r == nil || !strings.HasPrefix(r.Message, "itemId is 9 bytes") {
		// "WH-999" is 6 bytes, "ITEM-NOPE" 9.
		t.Errorf("CheckShape with MaxIDLength 8: %v, want itemId rejected", r)
	}
}

func TestCatalogLimits(t *testing.T) {
	c := NewCatalog(Limits{MaxIDLength: 16, DefaultMaxQuantity: 10})
	c.UpsertWarehouse(Warehouse{WarehouseID: "W", Locations: []string{"L"}})
	c.UpsertItem(Item{ItemID: "I"})
	c.UpsertItem(Item{ItemID: "BIG", MaxTransactionQuantity: 1000})
	tx := &Transaction{TransactionID: "t", Type: Receipt, WarehouseID: "W", ItemID: "I", LocationID: "L", Quantity: 10}
	if r := c.Check(tx); r != nil {
		t.Errorf("quantity at the configured default: %v", r)
	}
	tx.Quantity = 11
	if r := c.Check(tx); r == nil || r.Code != CodeUnreasonableQuantity {
		t.Errorf("quantity over the configured default: %v", r)
	}
	tx.ItemID = "BIG"
	if r := c.Check(tx); r != nil {
		t.Errorf("the item's own limit overrides the default: %v", r)
	}
	tx.TransactionID = strings.Repeat("t", 17)
	if r := c.Check(tx); r == nil || r.Code != CodeInvalidTransaction {
		t.Errorf("id over the configured MaxIDLength: %v", r)
	}
}

func TestCatalogUpsertReplaces(t *testing.T) {
	c := testCatalog(Limits{})
	c.UpsertWarehouse(Warehouse{WarehouseID: "WH-001", Locations: []string{"B-01-01", "D-01-01"}})
	c.UpsertItem(Item{ItemID: "ITEM-LOT", LotTracked: false})
	tx := validTx(Receipt)
	tx.LotNumber = ""
	if r := c.Check(tx); r == nil || r.Code != CodeUnknownLocation {
		t.Errorf("location removed by an upsert: %v, want %s", r, CodeUnknownLocation)
	}
	tx.LocationID = "D-01-01"
	if r := c.Check(tx); r != nil {
		t.Errorf("location added by an upsert, item no longer lot-tracked: %v", r)
	}
	if w, i := c.Size(); w != 2 || i != 3 {
		t.Errorf("Size = %d, %d; want 2, 3", w, i)
	}
	doc := c.Doc()
	want := CatalogDoc{
		Warehouses: []Warehouse{
			{WarehouseID: "WH-001", Locations: []string{"B-01-01", "D-01-01"}},
			{WarehouseID: "WH-002", Locations: []string{"C-01-01"}},
		},
		Items:           []Item{{ItemID: "ITEM-LOT"}, {ItemID: "ITEM-PLAIN"}, {ItemID: "ITEM-SMALL", MaxTransactionQuantity: 5}},
		CountTolerances: DefaultCountTolerances,
	}
	if !reflect.DeepEqual(doc, want) {
		t.Errorf("Doc = %+v, want %+v", doc, want)
	}
	if doc := NewCatalog(Limits{}).Doc(); doc.Warehouses == nil || doc.Items == nil {
		t.Errorf("Doc of an empty catalog = %+v; want empty lists, which encode as [] not null", doc)
	}
}

// TestCatalogConcurrentUse: ingest checks while the catalog consumer
// upserts. A valid transaction stays valid throughout (an upsert of a
// warehouse with the same locations never shows it torn), a writer's upsert
// is visible once it returns, Doc is one consistent snapshot (each writer's
// items, written in order, are a prefix of what it wrote), the item count
// never goes backwards, and the end state holds every upsert. Run with
// -race as well: the race detector checks the locking itself.
func TestCatalogConcurrentUse(t *testing.T) {
	c := testCatalog(Limits{})
	const writers, readers, n = 2, 2, 300
	itemID := func(g, i int) string { return fmt.Sprintf("ITEM-W%d-%03d", g, i) }
	var wg, writing sync.WaitGroup
	var done atomic.Bool // the writers have finished
	for g := range writers {
		writing.Go(func() {
			for i := range n {
				c.UpsertItem(Item{ItemID: itemID(g, i)})
				c.UpsertWarehouse(Warehouse{WarehouseID: "WH-001", Locations: []string{"A-05-02", "B-01-01"}})
				tx := validTx(Move)
				tx.ItemID, tx.LotNumber = itemID(g, i), ""
				if r := c.Check(tx); r != nil {
					t.Errorf("writer %d: item %s rejected right after its upsert returned: %v", g, tx.ItemID, r)
					return
				}
			}
		})
	}
	// Readers check as fast as they can for as long as the writers write,
	// so they meet every upsert in progress.
	for rd := range readers {
		wg.Go(func() {
			last := 0
			for !done.Load() {
				if r := c.Check(validTx(Move)); r != nil {
					t.Errorf("reader %d: a valid MOVE rejected while the catalog is upserted: %v", rd, r)
					return
				}
				doc := c.Doc()
				if msg := docSnapshotProblem(doc, writers, itemID); msg != "" {
					t.Errorf("reader %d: %s", rd, msg)
					return
				}
				_, items := c.Size()
				if len(doc.Items) < last || items < len(doc.Items) {
					t.Errorf("reader %d: item count went backwards: %d, then Doc %d, then Size %d", rd, last, len(doc.Items), items)
					return
				}
				last = items
			}
		})
	}
	writing.Wait()
	done.Store(true)
	wg.Wait()

	doc := c.Doc()
	if msg := docSnapshotProblem(doc, writers, itemID); msg != "" {
		t.Error(msg)
	}
	wh, items := c.Size()
	if want := 3 + writers*n; wh != 2 || items != want || len(doc.Items) != want {
		t.Errorf("after every upsert: Size = %d warehouses, %d items; Doc has %d items; want 2, %d", wh, items, len(doc.Items), want)
	}
	for g := range writers {
		if !slices.ContainsFunc(doc.Items, func(it Item) bool { return it.ItemID == itemID(g, n-1) }) {
			t.Errorf("writer %d's last item is missing", g)
		}
	}
	if len(doc.Warehouses) != 2 || !slices.Equal(doc.Warehouses[0].Locations, []string{"A-05-02", "B-01-01"}) {
		t.Errorf("warehouses after the upserts: %+v", doc.Warehouses)
	}
}

// docSnapshotProblem describes what makes doc not a snapshot the writers
// of TestCatalogConcurrentUse could have left: items unsorted, the seed
// items missing, or a writer's items not a prefix of the ones it wrote in
// order. It returns "" when there is none.
func docSnapshotProblem(doc CatalogDoc, writers int, itemID func(g, i int) string) string {
	if !slices.IsSortedFunc(doc.Items, func(a, b Item) int { return strings.Compare(a.ItemID, b.ItemID) }) {
		return "Doc items are not sorted by id"
	}
	ids := map[string]bool{}
	for _, it := range doc.Items {
		ids[it.ItemID] = true
	}
	for _, seed := range []string{"ITEM-LOT", "ITEM-PLAIN", "ITEM-SMALL"} {
		if !ids[seed] {
			return fmt.Sprintf("Doc lost the seed item %s", seed)
		}
	}
	for g := range writers {
		k := 0
		for ids[itemID(g, k)] {
			k++
		}
		for id := range ids {
			if strings.HasPrefix(id, fmt.Sprintf("ITEM-W%d-", g)) && id >= itemID(g, k) {
				return fmt.Sprintf("Doc has %s but not %s, which writer %d upserted before it", id, itemID(g, k), g)
			}
		}
	}
	return ""
}

func TestParseCatalog(t *testing.T) {
	doc, err := ParseCatalog([]byte(`{
	  "warehouses": [{"warehouseId": "WH-001", "locations": ["A-05-02", "B-01-01"]}],
	  "items": [{"itemId": "ITEM-12345", "description": "Widget", "lotTracked": true,
	             "maxTransactionQuantity": 10000}]
	}`))
	if err != nil {
		t.Fatal(err)
	}
	want := CatalogDoc{
		Warehouses: []Warehouse{{WarehouseID: "WH-001", Locations: []string{"A-05-02", "B-01-01"}}},
		Items:      []Item{{ItemID: "ITEM-12345", Description: "Widget", LotTracked: true, MaxTransactionQuantity: 10000}},
	}
	if !reflect.DeepEqual(doc, want) {
		t.Errorf("ParseCatalog = %+v, want %+v", doc, want)
	}
}

func TestParseCatalogErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		doc  string
		msgs []string // each must appear in the error
	}{
		{"not JSON", `{"warehouses": [`, nil},
		{"wrong type", `{"warehouses": {}}`, nil},
		{"unknown top-level field", `{"warehouses": [], "items": [], "item": []}`, []string{`unknown field "item"`}},
		{"unknown item field", `{"items": [{"itemId": "I", "maxQuantity": 5}]}`, []string{`unknown field "maxQuantity"`}},
		{"unknown warehouse field", `{"warehouses": [{"warehouseId": "W", "locations": ["L"], "zones": []}]}`, []string{`unknown field "zones"`}},
		{"trailing document", `{"warehouses": []} {"items": []}`, []string{"trailing data"}},
		{
			"every problem at once",
			`{"warehouses": [
			   {"warehouseId": "WH-001", "locations": ["A"]},
			   {"warehouseId": "WH-001", "locations": ["B"]},
			   {"warehouseId": "WH-002", "locations": []},
			   {"warehouseId": "WH-003"},
			   {"warehouseId": "", "locations": ["C"]},
			   {"warehouseId": "WH-\u0000", "locations": ["", "D\n"]}
			 ],
			 "items": [
			   {"itemId": "ITEM-1"},
			   {"itemId": "ITEM-1"},
			   {"itemId": ""},
			   {"itemId": "ITEM-2", "maxTransactionQuantity": -1},
			   {"itemId": "` + strings.Repeat("x", 129) + `"}
			 ]}`,
			[]string{
				`warehouses[1]: warehouseId "WH-001" appears twice`,
				"warehouses[2] (WH-002): locations must not be empty",
				"warehouses[3] (WH-003): locations must not be empty",
				`warehouses[4].warehouseId ""`,
				`warehouses[5].warehouseId "WH-\x00"`,
				`warehouses[5].locations[0] ""`,
				`warehouses[5].locations[1] "D\n"`,
				`items[1]: itemId "ITEM-1" appears twice`,
				`items[2].itemId ""`,
				"items[3] (ITEM-2): maxTransactionQuantity must be >= 0, got -1",
				"items[4].itemId",
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseCatalog([]byte(c.doc))
			if !errors.Is(err, ErrInvalidCatalog) {
				t.Fatalf("ParseCatalog: %v, want ErrInvalidCatalog", err)
			}
			for _, m := range c.msgs {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error does not mention %q:\n%v", m, err)
				}
			}
		})
	}
}

// TestParseCatalogRejectsTrailingData: "trailing data after the JSON
// document" is detected with json.Decoder.More, which reports false when
// the next byte is '}' or ']', so a stray closing bracket is accepted.
func TestParseCatalogRejectsTrailingData(t *testing.T) {
	for _, trailer := range []string{" x", " {}", "}", "]", " ]]"} {
		if _, err := ParseCatalog([]byte(`{"warehouses": [], "items": []}` + trailer)); !errors.Is(err, ErrInvalidCatalog) {
			t.Errorf("document followed by %q: %v, want ErrInvalidCatalog", trailer, err)
		}
	}
	if _, err := ParseCatalog([]byte("{\"warehouses\": [], \"items\": []}\n\t ")); err != nil {
		t.Errorf("trailing white space: %v", err)
	}
}

func TestDemoCatalog(t *testing.T) {
	doc := DemoCatalog()
	if err := doc.Validate(); err != nil {
		t.Fatalf("DemoCatalog does not validate: %v", err)
	}
	if len(doc.Warehouses) != 8 {
		t.Fatalf("%d warehouses, want 8", len(doc.Warehouses))
	}
	for i, w := range doc.Warehouses {
		if want := fmt.Sprintf("WH-%03d", i+1); w.WarehouseID != want {
			t.Errorf("warehouse %d is %s, want %s", i, w.WarehouseID, want)
		}
		if len(w.Locations) != 320 {
			t.Errorf("%s has %d locations, want 320", w.WarehouseID, len(w.Locations))
		}
	}
	if len(doc.Items) != 3000 {
		t.Errorf("%d items, want 3000", len(doc.Items))
	}

	c := NewCatalog(Limits{})
	c.Load(doc)
	if !reflect.DeepEqual(c.Doc(), doc) {
		t.Error("Doc() of the loaded demo catalog differs from DemoCatalog()")
	}
	// The spec's example transaction.
	spec := &Transaction{
		TransactionID: "0b6f1f0e-5c1a-4a57-9a3e-3f1f3d7e2a10", Type: CycleCount,
		WarehouseID: "WH-001", ItemID: "ITEM-12345", LocationID: "A-05-02", LotNumber: "LOT-2024-089",
		Quantity: 95, ExpectedVersion: ptr(int64(17)), UserID: "warehouse_user_23",
		DeviceTimestamp: time.Date(2026, 11, 26, 10, 0, 2, 0, time.UTC),
	}
	if r := c.Check(spec); r != nil {
		t.Errorf("the spec's example transaction is rejected: %v", r)
	}
	for _, wh := range []string{"WH-001", "WH-008"} {
		for _, loc := range []string{"A-05-02", "B-01-01", "A-01-01", "H-20-02"} {
			tx := *spec
			tx.Type, tx.ExpectedVersion, tx.WarehouseID, tx.LocationID, tx.ToLocationID = Move, nil, wh, "C-03-01", loc
			if r := c.Check(&tx); r != nil {
				t.Errorf("MOVE to %s/%s: %v", wh, loc, r)
			}
		}
	}
	for _, c2 := range []struct {
		tx   func(*Transaction)
		code string
	}{
		{func(t *Transaction) { t.LotNumber = "" }, CodeInvalidTransaction},        // ITEM-12345 is lot-tracked
		{func(t *Transaction) { t.ItemID = "ITEM-12346" }, CodeInvalidTransaction}, // and ITEM-12346 is not
		{func(t *Transaction) { t.ItemID, t.LotNumber = "ITEM-12346", "" }, ""},
		{func(t *Transaction) { t.WarehouseID = "WH-009" }, CodeUnknownWarehouse},
		{func(t *Transaction) { t.ItemID = "ITEM-13000" }, CodeUnknownItem},
		{func(t *Transaction) { t.LocationID = "I-01-01" }, CodeUnknownLocation},
		{func(t *Transaction) { t.LocationID = "A-21-01" }, CodeUnknownLocation},
		{func(t *Transaction) { t.Quantity = 10000 }, ""},
		{func(t *Transaction) { t.Quantity = 10001 }, CodeUnreasonableQuantity},
	} {
		tx := *spec
		c2.tx(&tx)
		got := ""
		if r := c.Check(&tx); r != nil {
			got = r.Code
		}
		if got != c2.code {
			t.Errorf("%s %s/%s/%s lot %q qty %d: got code %q, want %q", tx.Type, tx.WarehouseID, tx.ItemID,
				tx.LocationID, tx.LotNumber, tx.Quantity, got, c2.code)
		}
	}

	// It travels as JSON (PUT /v1/catalog, --catalog).
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseCatalog(b)
	if err != nil || !reflect.DeepEqual(back, doc) {
		t.Errorf("DemoCatalog does not survive JSON: %v", err)
	}
}
