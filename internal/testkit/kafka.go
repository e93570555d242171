package testkit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/pipeline/embedded"
)

// ExternalBrokers is KAFKA_BROKERS split at commas: the real Kafka the
// tests run against (make test-kafka), or nil for the embedded broker.
func ExternalBrokers() []string {
	if v := os.Getenv("KAFKA_BROKERS"); v != "" {
		return strings.Split(v, ",")
	}
	return nil
}

// Brokers returns Kafka brokers a test's instances can share and that
// outlive any one of them: KAFKA_BROKERS when set, else an embedded broker
// (in this process, no fsync) started for the test and closed at its end.
func Brokers(t testing.TB) []string {
	t.Helper()
	if b := ExternalBrokers(); b != nil {
		return b
	}
	b, err := embedded.Start(embedded.Config{Addr: "127.0.0.1:0", DataDir: filepath.Join(t.TempDir(), "kafka"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return []string{b.Addr()}
}

// Admin returns an admin client on brokers; the caller closes it.
func Admin(t testing.TB, brokers []string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	return kadm.NewClient(cl)
}

// SayWhichKafka prints, from a TestMain, which Kafka the tests run on and
// how to run them on the other.
func SayWhichKafka(what string) {
	if b := ExternalBrokers(); b != nil {
		os.Stderr.WriteString(what + ": running against the Kafka at KAFKA_BROKERS=" + strings.Join(b, ",") + "\n")
		return
	}
	os.Stderr.WriteString(what + ": KAFKA_BROKERS is not set, running on the embedded broker (kfake); set it to run the same tests against a real Kafka (make test-kafka)\n")
}
