package processors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
)

// Warehouse is a warehouse and its valid locations.
type Warehouse struct {
	WarehouseID string   `json:"warehouseId"`
	Locations   []string `json:"locations"`
}

// Item is a stocked item.
type Item struct {
	ItemID      string `json:"itemId"`
	Description string `json:"description"`
	LotTracked  bool   `json:"lotTracked"`
	// MaxTransactionQuantity bounds the quantity of any one transaction
	// on the item ("quantity reasonable"); 0 means the default limit.
	MaxTransactionQuantity int64 `json:"maxTransactionQuantity,omitempty"`
	// AbcClass is "A", "B", "C" or "" (no class): a cycle count of a
	// classed item whose variance exceeds its class's tolerance is held
	// for a supervisor's approval.
	AbcClass string `json:"abcClass,omitempty"`
}

// DefaultCountTolerances are the variance tolerances of the ABC classes:
// A items are counted to 1 %, B to 3 %, C to 5 %.
var DefaultCountTolerances = map[string]float64{"A": 0.01, "B": 0.03, "C": 0.05}

// CatalogDoc is the master data document of PUT/GET /v1/catalog and of the
// --catalog file.
type CatalogDoc struct {
	Warehouses []Warehouse `json:"warehouses"`
	Items      []Item      `json:"items"`
	// CountTolerances overrides the tolerance of some ABC classes (a
	// fraction, e.g. 0.01 for 1 %); absent classes keep the defaults.
	CountTolerances map[string]float64 `json:"countTolerances,omitempty"`
}

// ErrInvalidCatalog wraps every problem found in a catalog document.
var ErrInvalidCatalog = errors.New("invalid catalog")

// ParseCatalog decodes and validates a catalog document, reporting every
// problem at once. Unknown fields are errors: a misspelt field would
// otherwise silently disable a check.
func ParseCatalog(data []byte) (CatalogDoc, error) {
	var doc CatalogDoc
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return CatalogDoc{}, fmt.Errorf("%w: %v", ErrInvalidCatalog, err)
	}
	if len(bytes.TrimSpace(data[dec.InputOffset():])) != 0 {
		return CatalogDoc{}, fmt.Errorf("%w: trailing data after the JSON document", ErrInvalidCatalog)
	}
	return doc, doc.Validate()
}

// Validate reports every problem in the document at once.
func (d CatalogDoc) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	// uniqueID checks the id field of list[i], given the ids seen before it.
	uniqueID := func(seen map[string]bool, list string, i int, field, id string) {
		if msg := checkID(id, 128); id == "" || msg != "" {
			add("%s[%d].%s %q: must be a non-empty printable id of at most 128 bytes", list, i, field, id)
		}
		if seen[id] {
			add("%s[%d]: %s %q appears twice", list, i, field, id)
		}
		seen[id] = true
	}
	seenW := map[string]bool{}
	for i, w := range d.Warehouses {
		uniqueID(seenW, "warehouses", i, "warehouseId", w.WarehouseID)
		if len(w.Locations) == 0 {
			add("warehouses[%d] (%s): locations must not be empty", i, w.WarehouseID)
		}
		for j, l := range w.Locations {
			if msg := checkID(l, 128); l == "" || msg != "" {
				add("warehouses[%d].locations[%d] %q: must be a non-empty printable id of at most 128 bytes", i, j, l)
			}
		}
	}
	seenI := map[string]bool{}
	for i, it := range d.Items {
		uniqueID(seenI, "items", i, "itemId", it.ItemID)
		if it.MaxTransactionQuantity < 0 {
			add("items[%d] (%s): maxTransactionQuantity must be >= 0, got %d", i, it.ItemID, it.MaxTransactionQuantity)
		}
		if it.AbcClass != "" && DefaultCountTolerances[it.AbcClass] == 0 {
			add("items[%d] (%s): abcClass %q must be A, B or C (or absent)", i, it.ItemID, it.AbcClass)
		}
	}
	for class, tol := range d.CountTolerances {
		if DefaultCountTolerances[class] == 0 {
			add("countTolerances: class %q must be A, B or C", class)
		}
		if !(tol >= 0 && tol <= 1) {
			add("countTolerances.%s: %v must be a fraction from 0 to 1 (0.01 is 1 %%)", class, tol)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidCatalog, errors.Join(errs...))
}

// Catalog is the master data every transaction is checked against. It is
// safe for concurrent use: ingest reads it while the catalog consumer
// upserts into it.
type Catalog struct {
	mu         sync.RWMutex
	warehouses map[string]map[string]struct{}
	items      map[string]Item
	tolerances map[string]float64
	limits     Limits
}

// NewCatalog returns an empty catalog applying lim.
func NewCatalog(lim Limits) *Catalog {
	return &Catalog{
		warehouses: map[string]map[string]struct{}{},
		items:      map[string]Item{},
		tolerances: maps.Clone(DefaultCountTolerances),
		limits:     lim.withDefaults(),
	}
}

// UpsertWarehouse adds or replaces a warehouse and its locations.
func (c *Catalog) UpsertWarehouse(w Warehouse) {
	locs := make(map[string]struct{}, len(w.Locations))
	for _, l := range w.Locations {
		locs[l] = struct{}{}
	}
	c.mu.Lock()
	c.warehouses[w.WarehouseID] = locs
	c.mu.Unlock()
}

// SetCountTolerance sets the variance tolerance of an ABC class.
func (c *Catalog) SetCountTolerance(class string, tol float64) {
	c.mu.Lock()
	c.tolerances[class] = tol
	c.mu.Unlock()
}

// CountTolerance returns the variance tolerance of an item's class; ok is
// false for an item without a class (its counts are never held).
func (c *Catalog) CountTolerance(itemID string) (tol float64, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	it, found := c.items[itemID]
	if !found || it.AbcClass == "" {
		return 0, false
	}
	tol, ok = c.tolerances[it.AbcClass]
	return tol, ok
}

// UpsertItem adds or replaces an item.
func (c *Catalog) UpsertItem(it Item) {
	c.mu.Lock()
	c.items[it.ItemID] = it
	c.mu.Unlock()
}

// Doc returns the catalog as a document, sorted by id.
func (c *Catalog) Doc() CatalogDoc {
	c.mu.RLock()
	defer c.mu.RUnlock()
	doc := CatalogDoc{Warehouses: []Warehouse{}, Items: []Item{}}
	for id, locs := range c.warehouses {
		w := Warehouse{WarehouseID: id, Locations: make([]string, 0, len(locs))}
		for l := range locs {
			w.Locations = append(w.Locations, l)
		}
		slices.Sort(w.Locations)
		doc.Warehouses = append(doc.Warehouses, w)
	}
	for _, it := range c.items {
		doc.Items = append(doc.Items, it)
	}
	doc.CountTolerances = maps.Clone(c.tolerances)
	sort.Slice(doc.Warehouses, func(i, j int) bool { return doc.Warehouses[i].WarehouseID < doc.Warehouses[j].WarehouseID })
	sort.Slice(doc.Items, func(i, j int) bool { return doc.Items[i].ItemID < doc.Items[j].ItemID })
	return doc
}

// Size returns the number of warehouses and items.
func (c *Catalog) Size() (warehouses, items int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.warehouses), len(c.items)
}

// Check validates a transaction: its shape, then the catalog ("item exists,
// location valid, quantity reasonable"). It returns nil when the transaction
// may be accepted.
func (c *Catalog) Check(t *Transaction) *Rejection {
	if r := CheckShape(t, c.limits); r != nil {
		return r
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	locs, ok := c.warehouses[t.WarehouseID]
	if !ok {
		return reject(CodeUnknownWarehouse, "warehouse %q is not in the catalog", t.WarehouseID)
	}
	it, ok := c.items[t.ItemID]
	if !ok {
		return reject(CodeUnknownItem, "item %q is not in the catalog", t.ItemID)
	}
	if _, ok := locs[t.LocationID]; !ok {
		return reject(CodeUnknownLocation, "location %q is not a location of warehouse %s", t.LocationID, t.WarehouseID)
	}
	if t.Type == Move {
		if _, ok := locs[t.ToLocationID]; !ok {
			return reject(CodeUnknownLocation, "toLocationId %q is not a location of warehouse %s", t.ToLocationID, t.WarehouseID)
		}
	}
	if it.LotTracked && t.LotNumber == "" {
		return reject(CodeInvalidTransaction, "item %s is lot-tracked: lotNumber is required", t.ItemID)
	}
	if !it.LotTracked && t.LotNumber != "" {
		return reject(CodeInvalidTransaction, "item %s is not lot-tracked: lotNumber must be empty or null, got %q", t.ItemID, t.LotNumber)
	}
	max := it.MaxTransactionQuantity
	if max <= 0 {
		max = c.limits.DefaultMaxQuantity
	}
	if q := abs(t.Quantity); q > max || q < 0 { // q < 0: MinInt64 overflowed
		return reject(CodeUnreasonableQuantity, "quantity %d exceeds the limit of %d for item %s", t.Quantity, max, t.ItemID)
	}
	return nil
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// MaxReportPositions bounds the positions of one cloud report (or page).
const MaxReportPositions = 10000

// CheckReport validates a cloud report against the catalog: the warehouse,
// every item and location known, lots only on lot-tracked items, no record
// twice, versions not negative. It returns nil when it may be compared.
func (c *Catalog) CheckReport(r *CloudReport) *Rejection {
	if msg := checkID(r.ReportID, 200); r.ReportID == "" || msg != "" {
		return reject("INVALID_REPORT", "reportId must be a non-empty printable id of at most 200 bytes")
	}
	if len(r.Positions) > MaxReportPositions {
		return reject("REPORT_TOO_LARGE", "%d positions; a report holds at most %d: send pages, each with its itemFrom..itemTo", len(r.Positions), MaxReportPositions)
	}
	if r.ItemFrom != "" && r.ItemTo != "" && r.ItemFrom > r.ItemTo {
		return reject("INVALID_REPORT", "itemFrom %q is after itemTo %q", r.ItemFrom, r.ItemTo)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	locs, ok := c.warehouses[r.WarehouseID]
	if !ok {
		return reject(CodeUnknownWarehouse, "warehouse %q is not in the catalog", r.WarehouseID)
	}
	seen := map[[3]string]bool{}
	for i, p := range r.Positions {
		it, ok := c.items[p.ItemID]
		if !ok {
			return reject(CodeUnknownItem, "positions[%d]: item %q is not in the catalog", i, p.ItemID)
		}
		if _, ok := locs[p.LocationID]; !ok {
			return reject(CodeUnknownLocation, "positions[%d]: location %q is not a location of warehouse %s", i, p.LocationID, r.WarehouseID)
		}
		if it.LotTracked != (p.LotNumber != "") {
			return reject("INVALID_REPORT", "positions[%d]: item %s is %slot-tracked, lotNumber %q", i, p.ItemID, map[bool]string{true: "", false: "not "}[it.LotTracked], p.LotNumber)
		}
		if p.Version < 0 {
			return reject("INVALID_REPORT", "positions[%d]: version %d is negative", i, p.Version)
		}
		if r.Complete && ((r.ItemFrom != "" && p.ItemID < r.ItemFrom) || (r.ItemTo != "" && p.ItemID > r.ItemTo)) {
			return reject("INVALID_REPORT", "positions[%d]: item %s is outside the page's itemFrom..itemTo", i, p.ItemID)
		}
		k := [3]string{p.ItemID, p.LocationID, p.LotNumber}
		if seen[k] {
			return reject("INVALID_REPORT", "positions[%d]: %s at %s lot %q appears twice", i, p.ItemID, p.LocationID, p.LotNumber)
		}
		seen[k] = true
	}
	return nil
}

// CheckLocationItem validates a count task's target against the catalog.
func (c *Catalog) CheckLocationItem(wh, loc, itemID string) *Rejection {
	if r := c.CheckLocation(wh, loc); r != nil {
		return r
	}
	if itemID == "" {
		return nil
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if _, ok := c.items[itemID]; !ok {
		return reject(CodeUnknownItem, "item %q is not in the catalog", itemID)
	}
	return nil
}
