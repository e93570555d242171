package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
)

// CatalogTable keeps a processors.Catalog equal to the compacted catalog
// topic, on every instance, and publishes upserts to it. Safe for
// concurrent use.
type CatalogTable struct {
	cl      *kgo.Client
	topic   string
	codec   *schemas.Set
	catalog *processors.Catalog
	log     *slog.Logger

	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever next moves
	next    int64         // next offset to read of partition 0
	loaded  bool
}

// NewCatalogTable creates the table's client. Run must be running for
// Publish and WaitLoaded to return.
func NewCatalogTable(brokers []string, topic string, codec *schemas.Set, cat *processors.Catalog, log *slog.Logger, opts ...kgo.Opt) (*CatalogTable, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("creating catalog client: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &CatalogTable{cl: cl, topic: topic, codec: codec, catalog: cat, log: log.With("component", "catalog"),
		changed: make(chan struct{})}, nil
}

// Catalog is the table's in-memory catalog.
func (c *CatalogTable) Catalog() *processors.Catalog { return c.catalog }

// Run reads the topic until ctx ends, then closes the client.
func (c *CatalogTable) Run(ctx context.Context) error {
	defer c.cl.Close()
	go c.markLoaded(ctx)
	for {
		fetches := c.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		fetches.EachError(func(_ string, _ int32, err error) {
			c.log.Warn("fetching catalog", "err", err)
		})
		fetches.EachRecord(func(r *kgo.Record) {
			if err := c.apply(r); err != nil {
				c.log.Error("skipping catalog record", "offset", r.Offset, "err", err)
			}
			c.advance(r.Offset + 1)
		})
	}
}

func (c *CatalogTable) apply(r *kgo.Record) error {
	if r.Value == nil {
		return nil // tombstone: entries are never deleted, only replaced
	}
	e, err := c.codec.DecodeCatalogEntry(r.Value)
	if err != nil {
		return err
	}
	switch e.Kind {
	case schemas.CatalogKind("WAREHOUSE"):
		c.catalog.UpsertWarehouse(processors.Warehouse{WarehouseID: e.ID, Locations: e.Locations})
	case schemas.CatalogKind("ITEM"):
		c.catalog.UpsertItem(processors.Item{ItemID: e.ID, Description: e.Description, LotTracked: e.LotTracked,
			MaxTransactionQuantity: e.MaxTransactionQuantity})
	default:
		return fmt.Errorf("unknown catalog kind %q", e.Kind)
	}
	return nil
}

func (c *CatalogTable) advance(next int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if next > c.next {
		c.next = next
		close(c.changed)
		c.changed = make(chan struct{})
	}
}

// waitFor blocks until the table has read up to (not including) offset.
func (c *CatalogTable) waitFor(ctx context.Context, offset int64) error {
	for {
		c.mu.Lock()
		next, ch := c.next, c.changed
		c.mu.Unlock()
		if next >= offset {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the catalog to load: %w", ctx.Err())
		}
	}
}

// markLoaded waits until the table has read everything the topic held when
// it started, then marks it loaded.
func (c *CatalogTable) markLoaded(ctx context.Context) {
	for ctx.Err() == nil {
		end, err := c.endOffset(ctx)
		if err != nil {
			c.log.Warn("listing catalog end offset", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		if c.waitFor(ctx, end) == nil {
			c.mu.Lock()
			c.loaded = true
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
		}
		return
	}
}

func (c *CatalogTable) endOffset(ctx context.Context) (int64, error) {
	ends, err := kadm.NewClient(c.cl).ListEndOffsets(ctx, c.topic)
	if err != nil {
		return 0, err
	}
	o, ok := ends.Lookup(c.topic, 0)
	if !ok {
		return 0, errors.New("catalog partition missing from the offsets response")
	}
	return o.Offset, o.Err
}

// WaitLoaded blocks until the catalog holds everything the topic held at
// start, so validation does not reject items that exist.
func (c *CatalogTable) WaitLoaded(ctx context.Context) error {
	for {
		c.mu.Lock()
		loaded, ch := c.loaded, c.changed
		c.mu.Unlock()
		if loaded {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the catalog to load: %w", ctx.Err())
		}
	}
}

// Loaded reports whether WaitLoaded would return at once.
func (c *CatalogTable) Loaded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loaded
}

// Publish writes every warehouse and item of doc to the topic (acks=all)
// and returns once this instance's catalog reflects them, so a validation
// right after sees the new master data. Other instances see them within
// their fetch interval.
func (c *CatalogTable) Publish(ctx context.Context, doc processors.CatalogDoc) error {
	recs := make([]*kgo.Record, 0, len(doc.Warehouses)+len(doc.Items))
	for _, w := range doc.Warehouses {
		v, err := c.codec.AppendCatalogEntry(nil, &schemas.CatalogEntry{Kind: schemas.CatalogKind("WAREHOUSE"), ID: w.WarehouseID, Locations: append([]string{}, w.Locations...)})
		if err != nil {
			return err
		}
		recs = append(recs, &kgo.Record{Topic: c.topic, Key: []byte("warehouse/" + w.WarehouseID), Value: v})
	}
	for _, it := range doc.Items {
		v, err := c.codec.AppendCatalogEntry(nil, &schemas.CatalogEntry{Kind: schemas.CatalogKind("ITEM"), ID: it.ItemID,
			Locations: []string{}, Description: it.Description, LotTracked: it.LotTracked, MaxTransactionQuantity: it.MaxTransactionQuantity})
		if err != nil {
			return err
		}
		recs = append(recs, &kgo.Record{Topic: c.topic, Key: []byte("item/" + it.ItemID), Value: v})
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
