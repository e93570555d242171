package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/state"
)

// The tests here inject faults at the Kafka edge with kfake's control
// functions and check the guarantee each time: every input transaction
// yields exactly one committed event, and the state equals the fold of the
// input. Each names the guard it exercises; removing that guard makes it
// fail (noted per test).

// producesTo reports whether a produce request writes to topic (named, or
// by its id in the request versions that use topic ids).
func producesTo(req *kmsg.ProduceRequest, topic string, id [16]byte) bool {
	for _, t := range req.Topics {
		if t.Topic == topic || t.TopicID == id {
			return true
		}
	}
	return false
}

// topicID returns the id of topic.
func (r *rig) topicID(topic string) [16]byte {
	r.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...))
	if err != nil {
		r.t.Fatal(err)
	}
	defer cl.Close()
	td, err := kadm.NewClient(cl).ListTopics(context.Background(), topic)
	if err != nil || td[topic].Err != nil {
		r.t.Fatalf("describing %s: %v %v", topic, err, td[topic].Err)
	}
	return td[topic].ID
}

// failProduce answers req with code on every partition.
func failProduce(req *kmsg.ProduceRequest, code int16) *kmsg.ProduceResponse {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	for _, t := range req.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

// TestProduceErrorInTransactionAborts: a produce inside the processors'
// transaction fails (a non-retriable error on the events topic); the
// transaction is aborted, its state batch discarded, and the input applied
// again. Guard: local state is written only after a commit (txwork.go);
// writing it on the aborted path loses the events of the reapplied input
// (they are taken for duplicates).
func TestProduceErrorInTransactionAborts(t *testing.T) {
	r := newRig(t)
	eventsID := r.topicID(r.topics.InventoryEvents)
	var injected atomic.Int32
	r.cluster.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		pr := req.(*kmsg.ProduceRequest)
		if pr.TransactionID == nil || !producesTo(pr, r.topics.InventoryEvents, eventsID) || injected.Load() > 0 {
			r.cluster.KeepControl()
			return nil, nil, false
		}
		injected.Add(1)
		return failProduce(pr, kerr.InvalidRecord.Code), nil, true
	})
	txs := r.produce("perr", 0, 60)
	m := r.start("a", "")
	r.assertExactlyOnce(txs, m)
	if injected.Load() != 1 {
		t.Fatalf("%d produce requests failed, want 1", injected.Load())
	}
	if r.logs.count("transaction aborted") == 0 && r.logs.count("produce in the transaction failed") == 0 {
		t.Fatal("no abort was logged after the produce failure")
	}
}

// TestEndTxnFailures: the commit (EndTxn) is answered with an error, and
// then its connection is dropped without an answer. The first ends the
// session (the transaction's fate is unknown to the client); the next
// session fences the old producer, aborting the transaction, and applies
// the input again. The second is retried by the client. Either way the
// input is applied once.
func TestEndTxnFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(*kmsg.EndTxnRequest) (kmsg.Response, error)
	}{
		{"error answer", func(req *kmsg.EndTxnRequest) (kmsg.Response, error) {
			resp := req.ResponseKind().(*kmsg.EndTxnResponse)
			resp.ErrorCode = kerr.InvalidTxnState.Code
			return resp, nil
		}},
		{"connection dropped", func(*kmsg.EndTxnRequest) (kmsg.Response, error) {
			return nil, errors.New("connection dropped by the test")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			var injected atomic.Int32
			r.cluster.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
				et := req.(*kmsg.EndTxnRequest)
				if !et.Commit {
					r.cluster.KeepControl()
					return nil, nil, false
				}
				injected.Add(1)
				resp, err := tc.fail(et)
				return resp, err, true
			})
			txs := r.produce("endtxn", 0, 40)
			m := r.start("a", "")
			r.assertExactlyOnce(txs, m)
			if injected.Load() != 1 {
				t.Fatalf("%d commits failed, want 1", injected.Load())
			}
		})
	}
}

// TestFetchErrors: a retriable fetch error is retried within the session;
// a non-retriable one ends the session (fetchErrors), which restarts and
// applies everything once.
func TestFetchErrors(t *testing.T) {
	for _, tc := range []struct {
		name         string
		code         int16
		wantRestarts bool
	}{
		{"retriable", kerr.NotLeaderForPartition.Code, false},
		{"not retriable", kerr.TopicAuthorizationFailed.Code, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			txID := r.topicID(r.topics.Transactions)
			var injected atomic.Int32
			r.cluster.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
				fr := req.(*kmsg.FetchRequest)
				var hit bool
				for _, ft := range fr.Topics {
					hit = hit || ft.Topic == r.topics.Transactions || ft.TopicID == txID
				}
				if !hit || injected.Load() >= 3 {
					r.cluster.KeepControl()
					return nil, nil, false
				}
				injected.Add(1)
				resp := fr.ResponseKind().(*kmsg.FetchResponse)
				for _, ft := range fr.Topics {
					rt := kmsg.NewFetchResponseTopic()
					rt.Topic, rt.TopicID = ft.Topic, ft.TopicID
					for _, fp := range ft.Partitions {
						rp := kmsg.NewFetchResponseTopicPartition()
						rp.Partition, rp.ErrorCode = fp.Partition, tc.code
						rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = -1, -1, -1
						rt.Partitions = append(rt.Partitions, rp)
					}
					resp.Topics = append(resp.Topics, rt)
				}
				r.cluster.KeepControl()
				return resp, nil, true
			})
			txs := r.produce("fetch", 0, 40)
			m := r.start("a", "")
			r.assertExactlyOnce(txs, m)
			if injected.Load() == 0 {
				t.Fatal("no fetch error was injected")
			}
			restarts := r.logs.count("processing session failed")
			if tc.wantRestarts != (restarts > 0) {
				t.Fatalf("%d session restarts after %d injected %s fetch errors", restarts, injected.Load(), tc.name)
			}
		})
	}
}

// TestFencedProducer: another producer takes this instance's transactional
// id (a second process on the same data dir). The fenced session ends; the
// next one fences the intruder back and goes on; nothing is doubled.
func TestFencedProducer(t *testing.T) {
	r := newRig(t)
	first := r.produce("fence", 0, 30)
	m := r.start("a", "")
	r.waitApplied(first, m)
	intruder, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...), kgo.TransactionalID("rig-a"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := intruder.ProducerID(ctx); err != nil {
		t.Fatal(err)
	}
	intruder.Close()
	second := r.produce("fence", 30, 60)
	r.assertExactlyOnce(append(first, second...), m)
	if r.logs.count("processing session failed") == 0 {
		t.Fatal("the fenced session did not end")
	}
}

// TestRebalanceMidTransaction: while member a's commit is held up, member b
// joins and the partitions are shared out. a's transaction either commits
// before its partitions move or is refused (the group generation moved on,
// KIP-447); b restores what was committed and applies the rest.
func TestRebalanceMidTransaction(t *testing.T) {
	r := newRig(t)
	txs := r.produce("rebal", 0, 40)
	held := make(chan struct{})
	var once atomic.Bool
	r.cluster.ControlKey(int16(kmsg.EndTxn), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if !req.(*kmsg.EndTxnRequest).Commit || !once.CompareAndSwap(false, true) {
			r.cluster.KeepControl()
			return nil, nil, false
		}
		close(held)
		// The commit is held for a while on purpose: b joins meanwhile.
		r.cluster.SleepControl(func() { time.Sleep(3 * time.Second) })
		return nil, nil, false
	})
	a := r.start("a", "")
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("member a never committed")
	}
	b := r.start("b", "")
	more := r.produce("rebal", 40, 80)
	owned := func(m *member) (n int) {
		for p := range r.partitions {
			if m.proc.Partition(p).Owned {
				n++
			}
		}
		return n
	}
	testkit.Eventually(t, 60*time.Second, func() error {
		if na, nb := owned(a), owned(b); na == 0 || nb == 0 {
			return testkit.Not("partitions not shared after the rebalance: a owns %d, b owns %d", na, nb)
		}
		return nil
	})
	r.assertExactlyOnce(append(txs, more...), a, b)
}

// commitGroupOffset sets the group's committed offset of topic/part.
func (r *rig) commitGroupOffset(topic string, part int32, at int64) {
	r.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...))
	if err != nil {
		r.t.Fatal(err)
	}
	defer cl.Close()
	var os kadm.Offsets
	os.Add(kadm.Offset{Topic: topic, Partition: part, At: at, LeaderEpoch: -1})
	resp, err := kadm.NewClient(cl).CommitOffsets(context.Background(), r.group, os)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		r.t.Fatalf("committing offset %d of %s/%d: %v", at, topic, part, err)
	}
}

// groupOffset reads the group's committed offset of topic/part.
func (r *rig) groupOffset(topic string, part int32) int64 {
	r.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...))
	if err != nil {
		r.t.Fatal(err)
	}
	defer cl.Close()
	offs, err := kadm.NewClient(cl).FetchOffsets(context.Background(), r.group)
	if err != nil {
		r.t.Fatal(err)
	}
	o, ok := offs.Lookup(topic, part)
	if !ok {
		r.t.Fatalf("no committed offset for %s/%d", topic, part)
	}
	return o.At
}

// busiestPartition is the partition with the most of txs.
func (r *rig) busiestPartition(txs []processors.Transaction) int32 {
	n := map[int32]int{}
	best := int32(0)
	for _, tx := range txs {
		p := r.producer.Partition(tx.StockKey(), r.partitions)
		if n[p]++; n[p] > n[best] {
			best = p
		}
	}
	return best
}

// TestSkippedInputIsRewound: the group's committed offset was moved past
// input the partition's state never applied (an operator's reset, or a
// commit from elsewhere). The partition is rebuilt, found still behind,
// and its input rewound to where its state stopped. Guard: the rewind in
// inputs.go; without it the skipped transactions are never applied.
func TestSkippedInputIsRewound(t *testing.T) {
	r := newRig(t)
	first, m, part, committed := r.appliedAndStopped("skip", 40)
	second := r.produce("skip", 40, 80)
	r.commitGroupOffset(r.topics.Transactions, part, committed+5)
	m2 := r.start("a2", m.dir)
	r.assertExactlyOnce(append(first, second...), m2)
	if r.logs.count("rewinding to apply it") == 0 {
		t.Fatal("the skipped input was not detected")
	}
}

// appliedAndStopped produces n transactions named name, has a member
// apply them and stops it; it returns them, the stopped member, the
// partition most of them went to and the group's committed input offset
// of that partition.
func (r *rig) appliedAndStopped(name string, n int) ([]processors.Transaction, *member, int32, int64) {
	r.t.Helper()
	txs := r.produce(name, 0, n)
	m := r.start("a", "")
	r.waitApplied(txs, m)
	m.stop()
	part := r.busiestPartition(txs)
	return txs, m, part, r.groupOffset(r.topics.Transactions, part)
}

// TestLocalStateAheadIsRebuilt: the local copy of a partition holds the
// effect of input that no committed Kafka transaction holds (a phantom
// transaction and an input offset past the group's). It is dropped and
// rebuilt from the changelog. Guard: the rebuild in inputs.go; trusting the
// local copy keeps the phantom's stock in the positions.
func TestLocalStateAheadIsRebuilt(t *testing.T) {
	r := newRig(t)
	txs, m, part, committed := r.appliedAndStopped("ahead", 40)

	st, err := state.Open(m.dir, state.Options{AbsentPrefix: processors.OutcomePrefix()})
	if err != nil {
		t.Fatal(err)
	}
	var phantom processors.Transaction
	for i := 1000; ; i++ {
		if phantom = rigTx("phantom", i); phantom.Type == processors.Receipt && r.producer.Partition(phantom.StockKey(), r.partitions) == part {
			break
		}
	}
	phantom.Quantity = 100000
	phantom.BodyHash = phantom.Hash()
	b := st.NewBatch(part)
	if _, err := processors.New(processors.Config{}).Apply(b, &phantom, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(inputKey(r.topics.Transactions), binary.BigEndian.AppendUint64(nil, uint64(committed+3))); err != nil {
		t.Fatal(err)
	}
	off, err := st.Offset(part)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(off); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	m2 := r.start("a2", m.dir)
	more := r.produce("ahead", 40, 60) // makes the partition's input flow, so it is verified
	r.assertExactlyOnce(append(txs, more...), m2)
	if _, ok, _ := processors.LookupOutcome(m2.store.Partition(part), phantom.TransactionID); ok {
		t.Fatal("the phantom transaction survived the rebuild")
	}
	if r.logs.count("rebuilding it from the changelog") == 0 {
		t.Fatal("the disagreement was not detected")
	}
}

// TestRestoreSkipsAbortedTransactions: the changelog holds an aborted
// transaction that would set a stock record to a wrong value. A new owner
// restoring the partition reads committed records only. Guard: the
// read_committed isolation of the restore fetch (restore.go).
func TestRestoreSkipsAbortedTransactions(t *testing.T) {
	r := newRig(t)
	txs := r.produce("abort", 0, 40)
	m := r.start("a", "")
	r.waitApplied(txs, m)
	// A state mutation, copied from the real changelog, with a huge
	// onHand: what a crashed owner's uncommitted transaction could hold.
	tx := txs[0]
	part := r.producer.Partition(tx.StockKey(), r.partitions)
	key := processors.RecordKey(tx.WarehouseID, tx.ItemID, tx.LocationID, "")
	good, ok, err := m.store.Partition(part).Get(key)
	if err != nil || !ok {
		t.Fatalf("record of %s not in the state: %v", tx.TransactionID, err)
	}
	m.stop()
	bad := corruptRecord(t, key, good)

	tp, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...), kgo.TransactionalID("rig-intruder"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := tp.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := tp.ProduceSync(ctx, &kgo.Record{Topic: r.topics.Changelog, Partition: part, Key: key, Value: bad}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := tp.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	fresh := r.start("b", "") // a new instance: restores everything from the changelog
	r.assertExactlyOnce(txs, fresh)
}

// corruptRecord returns the encoded record at key with onHand set far off,
// by applying a receipt to a store holding it.
func corruptRecord(t *testing.T, key, value []byte) []byte {
	t.Helper()
	st, err := state.Open(t.TempDir(), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b := st.NewBatch(0)
	if err := b.Set(key, value); err != nil {
		t.Fatal(err)
	}
	// A receipt of a huge quantity at the record's stock key and location.
	var tx processors.Transaction
	for i := 0; ; i++ {
		tx = rigTx("corrupt", i)
		if string(processors.RecordKey(tx.WarehouseID, tx.ItemID, tx.LocationID, "")) == string(key) {
			break
		}
	}
	tx.Type, tx.Quantity = processors.Receipt, 1000000
	tx.BodyHash = tx.Hash()
	if _, err := processors.New(processors.Config{}).Apply(b, &tx, time.Now()); err != nil {
		t.Fatal(err)
	}
	v, _, err := b.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
