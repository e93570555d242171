package pipeline

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
)

// CatalogTable keeps a processors.Catalog equal to the compacted catalog
// topic, on every instance, and publishes upserts to it. Safe for
// concurrent use.
type CatalogTable struct {
	*topicTable[schemas.CatalogEntry]
	catalog *processors.Catalog
}

// NewCatalogTable creates the table's client. Run must be running for
// Publish and WaitLoaded to return.
func NewCatalogTable(brokers []string, topic string, codec *schemas.Set, cat *processors.Catalog, log *slog.Logger, opts ...kgo.Opt) (*CatalogTable, error) {
	c := &CatalogTable{catalog: cat}
	// Entries are never deleted, only replaced.
	return openTable(c, &c.topicTable, brokers, topic, "catalog", log, codec.DecodeCatalogEntry, codec.AppendCatalogEntry, ignoreTombstones(c.apply), opts...)
}

// Catalog is the table's in-memory catalog.
func (c *CatalogTable) Catalog() *processors.Catalog { return c.catalog }

func (c *CatalogTable) apply(e *schemas.CatalogEntry) error {
	switch e.Kind {
	case schemas.KindWarehouse:
		c.catalog.UpsertWarehouse(processors.Warehouse{WarehouseID: e.ID, Locations: e.Locations})
	case schemas.KindItem:
		c.catalog.UpsertItem(processors.Item{ItemID: e.ID, Description: e.Description, LotTracked: e.LotTracked,
			MaxTransactionQuantity: e.MaxTransactionQuantity, AbcClass: deref(e.AbcClass)})
	case schemas.KindClass:
		if e.CountTolerance == nil {
			return fmt.Errorf("class %q without a count tolerance", e.ID)
		}
		c.catalog.SetCountTolerance(e.ID, *e.CountTolerance)
	default:
		return fmt.Errorf("unknown catalog kind %q", e.Kind)
	}
	return nil
}

// Publish writes every warehouse and item of doc to the topic (acks=all)
// and returns once this instance's catalog reflects them, so a validation
// right after sees the new master data. Other instances see them within
// their fetch interval.
func (c *CatalogTable) Publish(ctx context.Context, doc processors.CatalogDoc) error {
	type keyed struct {
		key   string
		entry schemas.CatalogEntry
	}
	entries := make([]keyed, 0, len(doc.Warehouses)+len(doc.Items)+len(doc.CountTolerances))
	for _, w := range doc.Warehouses {
		entries = append(entries, keyed{"warehouse/" + w.WarehouseID,
			schemas.CatalogEntry{Kind: schemas.KindWarehouse, ID: w.WarehouseID, Locations: append([]string{}, w.Locations...)}})
	}
	for _, it := range doc.Items {
		entries = append(entries, keyed{"item/" + it.ItemID, schemas.CatalogEntry{Kind: schemas.KindItem, ID: it.ItemID,
			Locations: []string{}, Description: it.Description, LotTracked: it.LotTracked, MaxTransactionQuantity: it.MaxTransactionQuantity,
			AbcClass: optString(it.AbcClass)}})
	}
	for class, tol := range doc.CountTolerances {
		entries = append(entries, keyed{"class/" + class,
			schemas.CatalogEntry{Kind: schemas.KindClass, ID: class, Locations: []string{}, CountTolerance: &tol}})
	}
	if len(entries) == 0 {
		return nil
	}
	recs := make([]*kgo.Record, len(entries))
	for i := range entries {
		r, err := c.record(entries[i].key, &entries[i].entry)
		if err != nil {
			return err
		}
		recs[i] = r
	}
	return c.publish(ctx, "publishing catalog", recs...)
}
