package processors

import (
	"fmt"
	"maps"
)

// DemoCatalog is the built-in master data used when no --catalog is given:
// eight warehouses WH-001…WH-008, each with 320 locations named
// aisle-bay-level (A-01-01 … H-20-02), and 3000 items ITEM-10000…ITEM-12999;
// every fifth item (ITEM-10000, ITEM-10005, …, ITEM-12345, …) is lot-tracked,
// every item allows up to 10000 units in one transaction.
func DemoCatalog() CatalogDoc {
	doc := CatalogDoc{CountTolerances: maps.Clone(DefaultCountTolerances)}
	var locs []string
	for aisle := 'A'; aisle <= 'H'; aisle++ {
		for bay := 1; bay <= 20; bay++ {
			for level := 1; level <= 2; level++ {
				locs = append(locs, fmt.Sprintf("%c-%02d-%02d", aisle, bay, level))
			}
		}
	}
	for w := 1; w <= 8; w++ {
		doc.Warehouses = append(doc.Warehouses, Warehouse{
			WarehouseID: fmt.Sprintf("WH-%03d", w),
			Locations:   append([]string(nil), locs...),
		})
	}
	for i := 10000; i < 13000; i++ {
		doc.Items = append(doc.Items, Item{
			ItemID:                 fmt.Sprintf("ITEM-%d", i),
			Description:            fmt.Sprintf("Demo item %d", i),
			LotTracked:             i%5 == 0,
			MaxTransactionQuantity: 10000,
		})
	}
	return doc
}

// Load upserts every warehouse and item of doc.
func (c *Catalog) Load(doc CatalogDoc) {
	for _, w := range doc.Warehouses {
		c.UpsertWarehouse(w)
	}
	for _, it := range doc.Items {
		c.UpsertItem(it)
	}
	for class, tol := range doc.CountTolerances {
		c.SetCountTolerance(class, tol)
	}
}
