package mirror

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/invsync/invsync/internal/testkit"
)

func TestValidateReportsEveryProblem(t *testing.T) {
	err := Config{
		Brokers:        []string{"no-port"},
		TopicPrefix:    "bad prefix!",
		SQLURL:         "mysql://x",
		Workers:        100,
		URL:            "ftp://x",
		ReportInterval: time.Millisecond,
	}.Validate()
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Validate: %v, want ErrInvalidConfig", err)
	}
	for _, want := range []string{"Brokers:", "TopicPrefix:", "SQLURL:", "Workers:", "Token:", "ReportInterval:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate does not report %s:\n%v", want, err)
		}
	}
	if err := (Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "no Kafka seed brokers") {
		t.Errorf("an empty config: %v", err)
	}
	if err := (Config{Brokers: []string{"127.0.0.1:9092"}, Token: "t"}).Validate(); err == nil || !strings.Contains(err.Error(), "URL:") {
		t.Errorf("a token without a URL: %v", err)
	}
	if err := (Config{Brokers: []string{"127.0.0.1:9092"}, SQLURL: "postgres://u:secret@db:5432/x", URL: "https://invsync", Token: "t"}).Validate(); err != nil {
		t.Errorf("a good config: %v", err)
	}
	if err := (Config{Brokers: []string{"127.0.0.1:9092"}, SQLURL: "postgres://u:secret@db:54x32/x"}).Validate(); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("a bad PostgreSQL URL: %v (and no password in the message)", err)
	}
	if got := redactURL("postgres://u:secret@db/x?sslmode=disable&password=secret2"); strings.Contains(got, "secret") {
		t.Errorf("redacted: %s", got)
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{Brokers: []string{"127.0.0.1:9092"}, DataDir: "/var/lib/invsync"}.withDefaults()
	if c.SQLURL != "sqlite:///var/lib/invsync/mirror.db" || c.Workers != 1 || c.TopicPrefix != "invsync." ||
		c.ReportInterval != 15*time.Minute || c.BatchRecords != 5000 {
		t.Fatalf("defaults: %+v", c)
	}
	if c := (Config{SQLURL: "postgres://db/x"}).withDefaults(); c.Workers != DefaultPostgresWorkers {
		t.Fatalf("PostgreSQL workers default to %d", c.Workers)
	}
}

// TestRunAndCloseAndMetrics: Close stops a running mirror and is
// idempotent; the metrics count what was applied, and the lag is 0 once
// caught up.
func TestRunAndCloseAndMetrics(t *testing.T) {
	d := newSQLiteDB(t)
	k, w, prod := newTestWorld(t, 21, 2, 1, 5, 2)
	w.round(t, prod, 400, 100, 0, 5)
	reader := sdkmetric.NewManualReader()
	meter := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test")
	m, err := New(Config{Brokers: k.brokers, TopicPrefix: k.prefix, SQLURL: d.url, Meter: meter, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- m.Run(context.Background()) }()
	waitCaughtUp(t, m, 30*time.Second)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	applied, dead := int64(0), int64(0)
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			switch mt.Name {
			case "invsync.mirror.records":
				for _, dp := range mt.Data.(metricdata.Sum[int64]).DataPoints {
					if v, _ := dp.Attributes.Value(attribute.Key("outcome")); v.AsString() == "applied" {
						applied += dp.Value
					} else {
						dead += dp.Value
					}
				}
			case "invsync.mirror.lag":
				for _, dp := range mt.Data.(metricdata.Gauge[int64]).DataPoints {
					if dp.Value != 0 {
						t.Errorf("lag %d after catching up", dp.Value)
					}
				}
			}
		}
	}
	wantDead := int64(len(w.expectedDeadLetters(nil)))
	if applied+dead != 400 || dead != wantDead {
		t.Fatalf("metrics: %d applied + %d dead letters, want %d + %d", applied, dead, 400-wantDead, wantDead)
	}

	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := testkit.Receive(t, errc, 10*time.Second, "Close to stop Run"); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := m.Run(context.Background()); !errors.Is(err, errClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
}
