package pipeline

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TxnRetryBackoffKey is the Apache Kafka broker setting (4.0 and later)
// that decides how long a transaction's first produce waits when it
// arrives while the previous transaction of the same producer is still
// writing its commit markers: the broker answers its own verification with
// CONCURRENT_TRANSACTIONS and retries after this many milliseconds
// (KAFKA-18654; Kafka's default 20). invsync begins a transaction as soon
// as the last one ended, so under load most transactions arrive in that
// window: BENCHMARKS.md measured the default adding about 20 ms to such
// cycles, and the tail of the scan-to-event latency with it.
const TxnRetryBackoffKey = "add.partitions.to.txn.retry.backoff.ms"

// RecommendedTxnRetryBackoffMs is the value of TxnRetryBackoffKey the
// benchmarks ran with and the README recommends.
const RecommendedTxnRetryBackoffMs = 1

// txnBackoffWarnMs: a TxnRetryBackoffKey at or above this is worth a
// warning (Kafka's default is 20).
const txnBackoffWarnMs = 10

// BrokerTxnTuning is what the brokers say about how they run transactions.
type BrokerTxnTuning struct {
	// TransactionVersion is the cluster's finalized transaction.version
	// feature level: 2 is KIP-890 part 2 (transaction verification on
	// produce, where TxnRetryBackoffKey applies); 0 when not finalized.
	TransactionVersion int16
	// RetryBackoffMs is each broker's TxnRetryBackoffKey; a broker that
	// does not have the setting (older than 4.0, or not Apache Kafka) is
	// absent.
	RetryBackoffMs map[int32]int
}

// ReadBrokerTxnTuning asks brokers (with the client options opts: TLS,
// SASL) for their transaction version and every broker's
// TxnRetryBackoffKey, in one attempt bounded to 10 s.
func ReadBrokerTxnTuning(ctx context.Context, brokers []string, opts ...kgo.Opt) (BrokerTxnTuning, error) {
	t := BrokerTxnTuning{RetryBackoffMs: map[int32]int{}}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		return t, fmt.Errorf("creating a client to read the brokers' settings: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	versions, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		return t, fmt.Errorf("asking the brokers for their versions: %w", err)
	}
	for _, f := range versions.FinalizedFeatures {
		if f.Name == "transaction.version" {
			t.TransactionVersion = f.MaxVersionLevel
		}
	}
	adm := kadm.NewClient(cl)
	listed, err := adm.ListBrokers(ctx)
	if err != nil {
		return t, fmt.Errorf("listing the brokers: %w", err)
	}
	configs, err := adm.DescribeBrokerConfigs(ctx, listed.NodeIDs()...)
	if err != nil {
		return t, fmt.Errorf("describing the brokers' configuration: %w", err)
	}
	for _, rc := range configs {
		if rc.Err != nil {
			return t, fmt.Errorf("describing broker %s's configuration: %w", rc.Name, rc.Err)
		}
		id, err := strconv.ParseInt(rc.Name, 10, 32)
		if err != nil {
			return t, fmt.Errorf("describing broker %q's configuration: not a broker id", rc.Name)
		}
		for _, c := range rc.Configs {
			if c.Key != TxnRetryBackoffKey || c.Value == nil {
				continue
			}
			ms, err := strconv.Atoi(*c.Value)
			if err != nil {
				return t, fmt.Errorf("broker %d's %s %q is not a number", id, TxnRetryBackoffKey, *c.Value)
			}
			t.RetryBackoffMs[int32(id)] = ms
		}
	}
	return t, nil
}

// Advice is what in t costs invsync latency, each a sentence that says
// what to change; empty when nothing does.
func (t BrokerTxnTuning) Advice() []string {
	if t.TransactionVersion < 2 {
		return nil
	}
	var slow []string
	for _, id := range slices.Sorted(maps.Keys(t.RetryBackoffMs)) {
		if ms := t.RetryBackoffMs[id]; ms >= txnBackoffWarnMs {
			slow = append(slow, fmt.Sprintf("broker %d: %d ms", id, ms))
		}
	}
	if len(slow) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("%s is high (%s): a Kafka transaction that begins while the previous one's commit markers are still being written waits that long on the broker, which under load adds as much to most transactions' scan-to-event latency; set it to %d on every broker (README, \"Running against a real Kafka cluster\")",
		TxnRetryBackoffKey, strings.Join(slow, ", "), RecommendedTxnRetryBackoffMs)}
}

// Describe is t in one line, for the bench's disclosed configuration.
func (t BrokerTxnTuning) Describe() string {
	var per []string
	for _, id := range slices.Sorted(maps.Keys(t.RetryBackoffMs)) {
		per = append(per, fmt.Sprintf("broker %d: %d ms", id, t.RetryBackoffMs[id]))
	}
	if len(per) == 0 {
		return fmt.Sprintf("transaction.version %d; %s not reported", t.TransactionVersion, TxnRetryBackoffKey)
	}
	return fmt.Sprintf("transaction.version %d; %s %s", t.TransactionVersion, TxnRetryBackoffKey, strings.Join(per, ", "))
}
