package mirror

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// metrics are the mirror's OpenTelemetry instruments.
type metrics struct {
	records  metric.Int64Counter     // by topic and outcome (applied, dead_letter)
	batches  metric.Float64Histogram // seconds per committed SQL transaction
	failures metric.Int64Counter     // consumption stops, by cause (database, kafka)
	reports  metric.Int64Counter     // report requests by outcome
	// eventToRow and scanToRow: from an event's produce, and from its
	// scan's corrected time, to the commit of its row.
	eventToRow metric.Float64Histogram
	scanToRow  metric.Float64Histogram
}

func newMetrics(m metric.Meter, p *progress, topics []string) *metrics {
	var x metrics
	x.records, _ = m.Int64Counter("invsync.mirror.records",
		metric.WithDescription("Records committed into the SQL mirror, by topic and outcome (applied, dead_letter)."))
	x.batches, _ = m.Float64Histogram("invsync.mirror.batch.duration", metric.WithUnit("s"),
		metric.WithDescription("Time to write and commit one SQL transaction of records and offsets."))
	x.failures, _ = m.Int64Counter("invsync.mirror.failures",
		metric.WithDescription("Times consumption stopped to be retried, by cause (database, kafka)."))
	x.reports, _ = m.Int64Counter("invsync.mirror.reports",
		metric.WithDescription("Reconciliation report requests sent, by outcome (ok, error)."))
	x.eventToRow, _ = m.Float64Histogram("invsync.mirror.event_to_row", metric.WithUnit("s"),
		metric.WithDescription("From an inventory event's produce to the commit of its row in the SQL mirror."),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600))
	x.scanToRow, _ = m.Float64Histogram("invsync.mirror.scan_to_row", metric.WithUnit("s"),
		metric.WithDescription("From the scan (the device's corrected time) to the commit of its row in the SQL mirror."),
		metric.WithExplicitBucketBoundaries(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 4*3600, 24*3600))
	_, _ = m.Int64ObservableGauge("invsync.mirror.lag",
		metric.WithDescription("Records in the mirrored topics not yet applied to SQL, per topic."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			_, _, _, byTopic := p.snapshot()
			// Every mirrored topic, 0 included: a caught-up mirror is
			// a value, not a missing series.
			for _, t := range topics {
				if _, ok := byTopic[t]; !ok {
					byTopic[t] = 0
				}
			}
			for t, l := range byTopic {
				o.Observe(l, metric.WithAttributes(attribute.String("topic", t)))
			}
			return nil
		}))
	_, _ = m.Int64ObservableGauge("invsync.mirror.caught_up",
		metric.WithDescription("1 once the mirror has applied everything that was in the topics when it started, else 0."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			_, caught, _, _ := p.snapshot()
			v := int64(0)
			if caught {
				v = 1
			}
			o.Observe(v)
			return nil
		}))
	return &x
}

func (x *metrics) committed(ctx context.Context, b *batch, seconds float64) {
	dead := map[string]int64{}
	for _, d := range b.deadLetters {
		dead[d.Topic]++
	}
	for topic, n := range b.records {
		if ok := int64(n) - dead[topic]; ok > 0 {
			x.records.Add(ctx, ok, metric.WithAttributes(attribute.String("topic", topic), attribute.String("outcome", "applied")))
		}
		if dead[topic] > 0 {
			x.records.Add(ctx, dead[topic], metric.WithAttributes(attribute.String("topic", topic), attribute.String("outcome", "dead_letter")))
		}
	}
	x.batches.Record(ctx, seconds)
}

func withCause(cause string) metric.AddOption {
	return metric.WithAttributes(attribute.String("cause", cause))
}
