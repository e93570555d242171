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
	*topicTable
	codec   *schemas.Set
	catalog *processors.Catalog
}

// NewCatalogTable creates the table's client. Run must be running for
// Publish and WaitLoaded to return.
func NewCatalogTable(brokers []string, topic string, codec *schemas.Set, cat *processors.Catalog, log *slog.Logger, opts ...kgo.Opt) (*CatalogTable, error) {
	c := &CatalogTable{codec: codec, catalog: cat}
	t, err := newTopicTable(brokers, topic, "catalog", log, c.apply, opts...)
	if err != nil {
		return nil, err
	}
	c.topicTable = t
	return c, nil
}

// Catalog is the table's in-memory catalog.
func (c *CatalogTable) Catalog() *processors.Catalog { return c.catalog }

func (c *CatalogTable) apply(r *kgo.Record) error {
	if r.Value == nil {
		return nil // tombstone: entries are never deleted, only replaced
	}
	e, err := c.codec.DecodeCatalogEntry(r.Value)
	if err != nil {
		return err
	}
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
	recs := make([]*kgo.Record, 0, len(doc.Warehouses)+len(doc.Items)+len(doc.CountTolerances))
	for _, w := range doc.Warehouses {
		v, err := c.codec.AppendCatalogEntry(nil, &schemas.CatalogEntry{Kind: schemas.KindWarehouse, ID: w.WarehouseID, Locations: append([]string{}, w.Locations...)})
		if err != nil {
			return err
		}
		recs = append(recs, &kgo.Record{Topic: c.topic, Key: []byte("warehouse/" + w.WarehouseID), Value: v})
	}
	for _, it := range doc.Items {
		v, err := c.codec.AppendCatalogEntry(nil, &schemas.CatalogEntry{Kind: schemas.KindItem, ID: it.ItemID,
			Locations: []string{}, Description: it.Description, LotTracked: it.LotTracked, MaxTransactionQuantity: it.MaxTransactionQuantity,
			AbcClass: optString(it.AbcClass)})
		if err != nil {
			return err
		}
		recs = append(recs, &kgo.Record{Topic: c.topic, Key: []byte("item/" + it.ItemID), Value: v})
	}
	for class, tol := range doc.CountTolerances {
		v, err := c.codec.AppendCatalogEntry(nil, &schemas.CatalogEntry{Kind: schemas.KindClass, ID: class, Locations: []string{},
			CountTolerance: &tol})
		if err != nil {
			return err
		}
		recs = append(recs, &kgo.Record{Topic: c.topic, Key: []byte("class/" + class), Value: v})
	}
	if len(recs) == 0 {
		return nil
	}
	res := c.cl.ProduceSync(ctx, recs...)
	if err := res.FirstErr(); err != nil {
		return fmt.Errorf("%w: publishing catalog: %w", ErrUnavailable, err)
	}
	var last int64
	for _, r := range res {
		last = max(last, r.Record.Offset)
	}
	return c.waitFor(ctx, last+1)
}
