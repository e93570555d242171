package pipeline

import (
	"context"
	"os"
	"strings"
	"testing"
)

func TestBrokerTxnTuningAdvice(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    BrokerTxnTuning
		want string // a substring of the one piece of advice; "" for none
	}{
		{"Kafka's default under transaction version 2", BrokerTxnTuning{2, map[int32]int{1: 20, 2: 20}}, "(broker 1: 20 ms, broker 2: 20 ms)"},
		{"one broker of three left at the default", BrokerTxnTuning{2, map[int32]int{1: 1, 2: 20, 3: 1}}, "(broker 2: 20 ms)"},
		{"the recommended value", BrokerTxnTuning{2, map[int32]int{1: 1}}, ""},
		{"just under the warning", BrokerTxnTuning{2, map[int32]int{1: 9}}, ""},
		{"transaction version 1: the client adds partitions itself", BrokerTxnTuning{1, map[int32]int{1: 20}}, ""},
		{"a broker without the setting", BrokerTxnTuning{2, map[int32]int{}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.t.Advice()
			if tc.want == "" {
				if len(got) != 0 {
					t.Errorf("advice %q; want none", got)
				}
				return
			}
			if len(got) != 1 || !strings.Contains(got[0], tc.want) || !strings.Contains(got[0], "set it to 1 on every broker") {
				t.Errorf("advice %q; want one naming %s and saying what to set", got, tc.want)
			}
		})
	}
}

// TestReadBrokerTxnTuning reads the brokers' settings: on Apache Kafka
// (KAFKA_BROKERS, scripts/kafka.sh's broker) transaction version 2 and the
// backoff the script sets; on the embedded broker, which has no such
// setting, nothing to advise.
func TestReadBrokerTxnTuning(t *testing.T) {
	got, err := ReadBrokerTxnTuning(context.Background(), lockBrokers(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Log(got.Describe())
	if os.Getenv("KAFKA_BROKERS") == "" {
		if len(got.RetryBackoffMs) != 0 || len(got.Advice()) != 0 {
			t.Errorf("embedded broker: %+v, advice %q; want no setting and no advice", got, got.Advice())
		}
		return
	}
	if got.TransactionVersion < 2 || len(got.RetryBackoffMs) == 0 {
		t.Fatalf("Apache Kafka: %s; want transaction version 2 and every broker's %s", got.Describe(), TxnRetryBackoffKey)
	}
	for id, ms := range got.RetryBackoffMs {
		if ms != RecommendedTxnRetryBackoffMs {
			t.Errorf("broker %d: %s %d; scripts/kafka.sh sets %d", id, TxnRetryBackoffKey, ms, RecommendedTxnRetryBackoffMs)
		}
	}
	if a := got.Advice(); len(a) != 0 {
		t.Errorf("advice %q for the recommended setting", a)
	}
}
