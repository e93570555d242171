package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/mirror"
	"github.com/invsync/invsync/schemas"
)

// CatchUpConfig configures MirrorCatchUp. Zero fields take the defaults
// shown.
type CatchUpConfig struct {
	// Database is where the mirror writes, as MirrorConfig.Database
	// (default "sqlite": a file in a temporary directory).
	Database string
	// Brokers is a Kafka cluster to use (topics are created under a fresh
	// prefix and deleted afterwards); empty starts an in-process broker
	// on loopback.
	Brokers   []string
	KafkaOpts []kgo.Opt
	// Events is the number of inventory events to apply (default 100,000),
	// over StockRecords distinct positions (default 10,000), on
	// Partitions partitions (default 12).
	Events       int
	StockRecords int
	Partitions   int32
	// Workers and BatchRecords are passed to the mirror (defaults as in
	// mirror.Config).
	Workers      int
	BatchRecords int
	Logger       *slog.Logger
}

// CatchUpResult is what MirrorCatchUp measured, with the configuration it
// ran.
type CatchUpResult struct {
	Database        string  `json:"database"` // sqlite or postgres
	Broker          string  `json:"broker"`   // embedded or external
	Events          int     `json:"events"`
	StockRecords    int     `json:"stock_records"`
	Partitions      int32   `json:"partitions"`
	Workers         int     `json:"workers"`
	BatchRecords    int     `json:"batch_records"`
	GOMAXPROCS      int     `json:"gomaxprocs"`
	ProduceSeconds  float64 `json:"produce_seconds"`
	ApplySeconds    float64 `json:"apply_seconds"`
	EventsPerSecond float64 `json:"events_per_second"`
	Rows            int     `json:"rows"`
}

// MirrorCatchUp measures how fast a mirror applies a backlog of inventory
// events into a database: it produces Events Avro events in Kafka
// transactions (as the processors do), then times a fresh mirror from its
// start until it has caught up, and checks the positions table holds one
// row per stock record. (MirrorWatch measures the mirror under load
// instead.)
func MirrorCatchUp(ctx context.Context, cfg CatchUpConfig) (CatchUpResult, error) {
	cfg.Database = cmp.Or(cfg.Database, "sqlite")
	if cfg.Events <= 0 {
		cfg.Events = 100_000
	}
	if cfg.StockRecords <= 0 {
		cfg.StockRecords = 10_000
	}
	cfg.StockRecords = min(cfg.StockRecords, cfg.Events)
	if cfg.Partitions <= 0 {
		cfg.Partitions = 12
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	res := CatchUpResult{Events: cfg.Events, StockRecords: cfg.StockRecords, Partitions: cfg.Partitions,
		GOMAXPROCS: runtime.GOMAXPROCS(0), Broker: "external"}

	brokers := cfg.Brokers
	if len(brokers) == 0 {
		c, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			return res, fmt.Errorf("starting the in-process broker: %w", err)
		}
		defer c.Close()
		brokers, res.Broker = c.ListenAddrs(), "embedded"
	}
	db, err := openMirrorDB(ctx, cfg.Database)
	if err != nil {
		return res, err
	}
	defer db.close()
	res.Database = db.name

	id := randomID()
	prefix := "bench-" + id + "."
	topics := schemas.NewTopics(prefix)
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.TransactionalID("invsync-mirror-bench-" + id),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(5 * time.Millisecond)}, cfg.KafkaOpts...)...)
	if err != nil {
		return res, fmt.Errorf("creating the producer: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for _, t := range []string{topics.InventoryEvents, topics.AllocationDecisions} {
		if _, err := adm.CreateTopic(ctx, cfg.Partitions, -1, nil, t); err != nil {
			return res, fmt.Errorf("creating topic %s: %w", t, err)
		}
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(dctx, topics.InventoryEvents, topics.AllocationDecisions)
	}()

	start := time.Now()
	if err := produceBacklog(ctx, cl, prefix, topics.InventoryEvents, cfg); err != nil {
		return res, err
	}
	res.ProduceSeconds = time.Since(start).Seconds()

	m, err := mirror.New(mirror.Config{Brokers: brokers, KafkaOpts: cfg.KafkaOpts, TopicPrefix: prefix, SQLURL: db.url,
		Workers: cfg.Workers, BatchRecords: cfg.BatchRecords, Logger: cfg.Logger, ProgressInterval: time.Second})
	if err != nil {
		return res, err
	}
	defer m.Close()
	res.Workers, res.BatchRecords = m.Config().Workers, m.Config().BatchRecords
	runCtx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	start = time.Now()
	go func() { errc <- m.Run(runCtx) }()
	select {
	case <-m.CaughtUp():
		res.ApplySeconds = time.Since(start).Seconds()
		cancel()
		if err := <-errc; err != nil {
			return res, err
		}
	case err := <-errc:
		cancel()
		return res, errors.Join(errors.New("the mirror stopped before catching up"), err)
	case <-ctx.Done():
		cancel()
		<-errc
		return res, ctx.Err()
	}
	res.EventsPerSecond = float64(cfg.Events) / res.ApplySeconds
	if err := db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM positions`).Scan(&res.Rows); err != nil {
		return res, fmt.Errorf("counting positions: %w", err)
	}
	if res.Rows != cfg.StockRecords {
		return res, fmt.Errorf("positions holds %d rows, want %d", res.Rows, cfg.StockRecords)
	}
	return res, nil
}

// produceBacklog writes cfg.Events events, each stock record's versions in
// order, 5,000 to a Kafka transaction.
func produceBacklog(ctx context.Context, cl *kgo.Client, prefix, topic string, cfg CatchUpConfig) error {
	codec, err := schemas.New(ctx, schemas.Config{TopicPrefix: prefix})
	if err != nil {
		return err
	}
	version := make([]int64, cfg.StockRecords)
	base := time.Now().UTC()
	var (
		mu      sync.Mutex
		prodErr error
	)
	const perTx = 5000
	for start := 0; start < cfg.Events; start += perTx {
		if err := cl.BeginTransaction(); err != nil {
			return fmt.Errorf("beginning a transaction: %w", err)
		}
		for i := start; i < min(start+perTx, cfg.Events); i++ {
			r := i % cfg.StockRecords
			version[r]++
			wh, item := fmt.Sprintf("WH-%03d", r%8), fmt.Sprintf("ITEM-%06d", r/8/4)
			e := schemas.InventoryEvent{EventID: fmt.Sprintf("evt-bench-%d-1", i), Timestamp: base.Add(time.Duration(i) * time.Microsecond),
				EventType: schemas.EventInventoryReceipt, ItemID: item, WarehouseID: wh, LocationID: fmt.Sprintf("L-%02d", r/8%4),
				QuantityChange: 1, ResultingOnHand: version[r], TransactionID: fmt.Sprintf("tx-%d", i), ScannerID: "SCANNER-01",
				UserID: "bench", Version: version[r], Available: version[r], DeviceTimestamp: base, CorrectedTimestamp: base}
			v, err := codec.AppendInventoryEvent(nil, &e)
			if err != nil {
				return err
			}
			key := wh + "/" + item
			h := fnv.New32a()
			h.Write([]byte(key))
			cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: int32(h.Sum32() % uint32(cfg.Partitions)), Key: []byte(key), Value: v},
				func(_ *kgo.Record, err error) {
					if err != nil {
						mu.Lock()
						prodErr = cmp.Or(prodErr, err)
						mu.Unlock()
					}
				})
		}
		if err := cl.Flush(ctx); err != nil {
			return fmt.Errorf("producing: %w", err)
		}
		mu.Lock()
		failed := prodErr
		mu.Unlock()
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(failed == nil)); err != nil {
			return fmt.Errorf("ending a transaction: %w", err)
		}
		if failed != nil {
			return fmt.Errorf("producing: %w", failed)
		}
	}
	return nil
}
