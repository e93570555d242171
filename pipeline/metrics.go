package pipeline

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// processingMetrics are the processors' OpenTelemetry instruments.
type processingMetrics struct {
	applied    metric.Int64Counter
	duplicates metric.Int64Counter
	deadLetter metric.Int64Counter
	latency    metric.Float64Histogram
	// scanToEvent and uploadToEvent: from the corrected scan time and
	// from the upload's acceptance to the commit of the transaction's
	// events (the story's scan-to-cloud figure, less the cloud's read).
	scanToEvent   metric.Float64Histogram
	uploadToEvent metric.Float64Histogram
	restored      metric.Int64Counter
	aborts        metric.Int64Counter
	snapshots     metric.Int64Counter
	// cycle is the time of each phase of a poll's transaction: apply
	// (the records and timers, to the batches), flush (events and
	// changelog produced and acknowledged), end (offsets and EndTxn).
	// Their sum is what a transaction waits for behind the poll ahead of
	// it, and then again for its own.
	cycle metric.Float64Histogram
}

// EndToEndBuckets are the bucket bounds, in seconds, of the scan-to-event
// and scan-to-row histograms: a scan may wait in a device's queue for
// minutes or hours before it is uploaded, so they reach past a day.
var EndToEndBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600}

// Attributes of invsync.transaction.phase.
var (
	phaseApply = metric.WithAttributes(attribute.String("phase", "apply"))
	phaseFlush = metric.WithAttributes(attribute.String("phase", "flush"))
	phaseEnd   = metric.WithAttributes(attribute.String("phase", "end"))
)

// newProcessingMetrics creates the instruments on m, and the gauges that
// observe p's per-partition lag and restore progress.
func newProcessingMetrics(m metric.Meter, p *Processing) processingMetrics {
	var pm processingMetrics
	pm.applied, _ = m.Int64Counter("invsync.transactions.applied", metric.WithDescription("Transactions applied or rejected by the processors, by type and status."))
	pm.duplicates, _ = m.Int64Counter("invsync.transactions.redelivered", metric.WithDescription("Input records whose transactionId already had an outcome (no effect)."))
	pm.deadLetter, _ = m.Int64Counter("invsync.records.dead_lettered", metric.WithDescription("Input records that could not be decoded, sent to the dead-letter topic."))
	pm.latency, _ = m.Float64Histogram("invsync.apply.latency", metric.WithUnit("s"),
		metric.WithDescription("From HTTP acceptance to the commit of the transaction that applied it."),
		metric.WithExplicitBucketBoundaries(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
	pm.scanToEvent, _ = m.Float64Histogram("invsync.scan_to_event", metric.WithUnit("s"),
		metric.WithDescription("From the scan (the device's time, corrected for its clock) to the commit of the event it caused."),
		metric.WithExplicitBucketBoundaries(EndToEndBuckets...))
	pm.uploadToEvent, _ = m.Float64Histogram("invsync.upload_to_event", metric.WithUnit("s"),
		metric.WithDescription("From the upload's acceptance to the commit of the event it caused."),
		metric.WithExplicitBucketBoundaries(EndToEndBuckets...))
	pm.restored, _ = m.Int64Counter("invsync.restore.records", metric.WithDescription("Changelog records replayed into local state."))
	pm.aborts, _ = m.Int64Counter("invsync.transactions.aborted", metric.WithDescription("Kafka transactions aborted (rebalance, fencing, errors); their input is reprocessed."))
	pm.snapshots, _ = m.Int64Counter("invsync.snapshot.records", metric.WithDescription("Stock records published in reconciliation snapshots."))
	pm.cycle, _ = m.Float64Histogram("invsync.transaction.phase", metric.WithUnit("s"),
		metric.WithDescription("Time of each phase of a poll's Kafka transaction: apply, flush (outputs acknowledged), end (offsets and EndTxn)."),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
	gauge := func(name, desc string, read func() map[int32]int64) {
		_, _ = m.Int64ObservableGauge(name, metric.WithDescription(desc),
			metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
				for part, v := range read() {
					o.Observe(v, metric.WithAttributes(attribute.Int("partition", int(part))))
				}
				return nil
			}))
	}
	gauge("invsync.consumer.lag", "Records of the transactions topic not yet processed, per owned partition.", p.own.lagSnapshot)
	gauge("invsync.restore.remaining", "Changelog records left to replay before a partition is served, per owned partition (0 once restored).", p.own.restoringSnapshot)
	// Both states are always observed, 0 included, so "none owned" is a
	// value an alert can see rather than a missing series.
	_, _ = m.Int64ObservableGauge("invsync.partitions.owned",
		metric.WithDescription("Partitions of the transactions topic this instance owns, by state: restoring (state not yet caught up) or serving."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			restoring, serving := p.own.counts()
			o.Observe(restoring, metric.WithAttributes(attribute.String("state", "restoring")))
			o.Observe(serving, metric.WithAttributes(attribute.String("state", "serving")))
			return nil
		}))
	if n := p.cfg.Partitions; n > 0 {
		_, _ = m.Int64ObservableGauge("invsync.partitions.total",
			metric.WithDescription("Partitions of the transactions topic, as configured: the sum of invsync.partitions.owned over the instances should equal it."),
			metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
				o.Observe(int64(n))
				return nil
			}))
	}
	// Counters of rare things start at 0, so their series exist (and a
	// rate or an increase sees the first one) before the first happens.
	pm.deadLetter.Add(context.Background(), 0)
	pm.restored.Add(context.Background(), 0)
	pm.aborts.Add(context.Background(), 0)
	return pm
}
