package pipeline

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/schemas"
	"github.com/invsync/invsync/state"
)

// snapshotClock is a domain clock the test moves from slot to slot.
type snapshotClock struct{ ns atomic.Int64 }

func (c *snapshotClock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *snapshotClock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *snapshotClock) add(d time.Duration) { c.ns.Add(int64(d)) }
func withSnapshots(c *snapshotClock) func(*ProcessingConfig) {
	return func(pc *ProcessingConfig) { pc.Now, pc.SnapshotInterval = c.now, time.Hour }
}

// snapshotPart is one partition's part of one snapshot as a read_committed
// consumer sees it.
type snapshotPart struct {
	header int              // the snapshot-records header
	onHand map[string]int64 // item|location -> onHand
	seen   map[string]int   // item|location -> records
}

// readSnapshots reads the snapshot topic (read_committed) until it has
// been quiet for a second, and returns the parts by snapshot id and
// partition.
func (r *rig) readSnapshots() map[string]map[int32]*snapshotPart {
	r.t.Helper()
	cl := r.committedReader(r.topics.PositionSnapshots)
	defer cl.Close()
	out := map[string]map[int32]*snapshotPart{}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		if fs.NumRecords() == 0 {
			return out
		}
		fs.EachRecord(func(rec *kgo.Record) {
			s, err := r.codec.DecodePositionSnapshot(rec.Value)
			if err != nil {
				r.t.Fatalf("undecodable snapshot record at %d/%d: %v", rec.Partition, rec.Offset, err)
			}
			if out[s.SnapshotID] == nil {
				out[s.SnapshotID] = map[int32]*snapshotPart{}
			}
			p := out[s.SnapshotID][rec.Partition]
			if p == nil {
				p = &snapshotPart{onHand: map[string]int64{}, seen: map[string]int{}}
				out[s.SnapshotID][rec.Partition] = p
			}
			for _, h := range rec.Headers {
				if h.Key == SnapshotRecordsHeader {
					p.header, _ = strconv.Atoi(string(h.Value))
				}
			}
			k := s.ItemID + "|" + s.LocationID
			p.onHand[k] = s.OnHand
			p.seen[k]++
		})
	}
}

// checkSnapshot checks that each partition's part of snapshot id has
// every record once and as many as its header says and, unless want is
// nil, that the parts hold exactly the records of want with their onHand.
func (r *rig) checkSnapshot(parts map[int32]*snapshotPart, id string, want map[string]int64) {
	r.t.Helper()
	total := 0
	for part, p := range parts {
		n := 0
		for k, c := range p.seen {
			n += c
			if c != 1 {
				r.t.Errorf("%s partition %d: %s published %d times", id, part, k, c)
			}
			if want != nil && p.onHand[k] != want[k] {
				r.t.Errorf("%s partition %d: %s onHand %d, want %d", id, part, k, p.onHand[k], want[k])
			}
		}
		if n != p.header {
			r.t.Errorf("%s partition %d: %d records, header says %d", id, part, n, p.header)
		}
		total += len(p.seen)
	}
	if len(parts) == 0 || want != nil && total != len(want) {
		r.t.Errorf("%s: %d records over %d partitions, want %d", id, total, len(parts), len(want))
	}
}

// awaitSlotRecorded waits until every partition with stock has recorded
// slot as its last snapshot in the member's committed state.
func (r *rig) awaitSlotRecorded(m *member, slot time.Time, parts map[int32]bool) {
	r.t.Helper()
	testkit.Eventually(r.t, 30*time.Second, func() error {
		for part := range parts {
			last, ok, err := processors.LastSnapshot(m.store.Partition(part))
			if err != nil {
				r.t.Fatal(err)
			}
			if !ok || last.Before(slot) {
				return testkit.Not("partition %d has not recorded the snapshot of %v (last %v %v)", part, slot, last, ok)
			}
		}
		return nil
	})
}

func (r *rig) stockPartitions(txs []processors.Transaction) map[int32]bool {
	parts := map[int32]bool{}
	for _, tx := range txs {
		parts[r.producer.Partition(processors.StockKey("WH-R", tx.ItemID), r.partitions)] = true
	}
	return parts
}

// TestSnapshotDoesNotHoldInput: while a partition's snapshot is in an
// open transaction, not yet committed, the partition's input is applied
// and committed; the snapshot, once committed, is the state as of the
// moment it was taken, and its slot is recorded.
func TestSnapshotDoesNotHoldInput(t *testing.T) {
	r := newRig(t)
	h := r.holdNextSlot("", "flushed") // the next slot's jobs held in their open transactions
	second := r.produce("two", 60, 120)
	r.waitApplied(second, h.m) // applied and committed while a snapshot is open
	for part := range h.parts {
		if last, _, _ := processors.LastSnapshot(h.m.store.Partition(part)); !last.Before(h.slot) {
			t.Errorf("partition %d recorded %v before its snapshot was committed", part, last)
		}
	}
	close(h.hold.release)
	r.awaitSlotRecorded(h.m, h.slot, h.parts)

	snaps := r.readSnapshots()
	// The first slot was taken at the first commit with stock, while the
	// first workload was still being applied.
	r.checkSnapshot(snaps[processors.SnapshotID(h.first)], "first", nil)
	// The second slot was taken before the second workload: it has the
	// first's positions, none of the second's.
	r.checkSnapshot(snaps[processors.SnapshotID(h.slot)], "second", expected(h.work))
	if len(snaps) != 2 {
		t.Errorf("%d snapshots published, want 2", len(snaps))
	}
	r.assertExactlyOnce(append(h.work, second...), h.m)
}

// holdAt arms a hook that holds the first job reaching stage until ctx
// ends or release is closed, and reports the job's partition on held.
type holdAt struct {
	stage   string
	armed   atomic.Bool
	once    atomic.Bool
	held    chan int32
	release chan struct{}
}

func newHoldAt(stage string) *holdAt {
	return &holdAt{stage: stage, held: make(chan int32, 1), release: make(chan struct{})}
}

func (h *holdAt) install(p *Processing) {
	p.snaps.hook = func(ctx context.Context, part int32, stage string) {
		if stage != h.stage || !h.armed.Load() || !h.once.CompareAndSwap(false, true) {
			return
		}
		h.held <- part
		select {
		case <-h.release:
		case <-ctx.Done():
		}
	}
}

func (h *holdAt) wait(t *testing.T) int32 {
	t.Helper()
	select {
	case part := <-h.held:
		return part
	case <-time.After(30 * time.Second):
		t.Fatalf("no snapshot job reached %q", h.stage)
		return 0
	}
}

// heldSlot is a member whose first snapshot slot is published and
// recorded, and whose next slot's first job is held at a stage (the
// others wait for it: jobs publish one at a time).
type heldSlot struct {
	m           *member
	hold        *holdAt
	clock       *snapshotClock
	work        []processors.Transaction // applied before the slots
	parts       map[int32]bool           // the partitions with stock
	first, slot time.Time                // the recorded slot and the held one
	part        int32                    // the held job's partition
}

// holdNextSlot starts member "a" on dir ("" for new) with hourly
// snapshots, applies a workload, waits until its first slot is recorded,
// then moves the clock to the next slot and waits until a job of it is
// held at stage.
func (r *rig) holdNextSlot(dir, stage string) *heldSlot {
	r.t.Helper()
	h := &heldSlot{hold: newHoldAt(stage), clock: &snapshotClock{}}
	h.clock.set(processors.SnapshotSlot(time.Now(), time.Hour).Add(time.Minute))
	h.m = r.startWith("a", dir, withSnapshots(h.clock), h.hold.install)
	h.work = r.produce("one", 0, 60)
	r.waitApplied(h.work, h.m)
	h.parts = r.stockPartitions(h.work)
	h.first = processors.SnapshotSlot(h.clock.now(), time.Hour)
	r.awaitSlotRecorded(h.m, h.first, h.parts)

	h.hold.armed.Store(true)
	h.clock.add(time.Hour)
	h.slot = processors.SnapshotSlot(h.clock.now(), time.Hour)
	h.part = h.hold.wait(r.t)
	return h
}

// TestSnapshotCommittedThenCrashIsNotRepeated: an instance stops after a
// part of the slot is committed and before the slot is recorded; the
// restarted instance finds the part on the topic and records the slot
// without publishing it again.
func TestSnapshotCommittedThenCrashIsNotRepeated(t *testing.T) {
	r := newRig(t)
	dir := t.TempDir()
	h := r.holdNextSlot(dir, "committed")
	if last, _, _ := processors.LastSnapshot(h.m.store.Partition(h.part)); !last.Before(h.slot) {
		t.Fatalf("partition %d recorded the slot while its job was held", h.part)
	}
	h.m.stop() // the part is committed, the slot not recorded

	m := r.startWith("a", dir, withSnapshots(h.clock), nil)
	r.awaitSlotRecorded(m, h.slot, h.parts)
	r.checkSnapshot(r.readSnapshots()[processors.SnapshotID(h.slot)], "after the restart", expected(h.work))
	if r.logs.count("snapshot already published") == 0 {
		t.Error("the restarted instance did not find the committed part")
	}
}

// TestSnapshotJobIsFenced: while an owner's job holds the slot's part in
// an open transaction, another instance's job of the same partition and
// slot publishes it. The first job is fenced: its records are never
// visible and its commit fails, and its retry finds the part published.
func TestSnapshotJobIsFenced(t *testing.T) {
	r := newRig(t)
	h := r.holdNextSlot("", "flushed")
	m, clock, slot, part := h.m, h.clock, h.slot, h.part

	// The other instance: same group, so same snapshot producer.
	other, err := NewProcessing(ProcessingConfig{Brokers: r.brokers, Group: r.group, TransactionalID: "rig-other",
		Topics: r.topics, Store: m.store, Processor: processors.New(processors.Config{}), Codec: r.codec,
		Notifier: NewOutcomeNotifier(), Logger: r.log.With("member", "other"), Now: clock.now, SnapshotInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	adm, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	other.adm = kadm.NewClient(adm)
	view, err := m.store.Snapshot(part)
	if err != nil {
		t.Fatal(err)
	}
	defer view.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if published, err := other.snaps.publish(ctx, view, slot, clock.now()); err != nil || !published {
		t.Fatalf("the other instance's job: published %v, %v", published, err)
	}
	if published, err := other.snaps.publish(ctx, view, slot, clock.now()); err != nil || !published {
		t.Fatalf("the other instance's job, again: published %v, %v", published, err)
	}

	close(h.hold.release)
	r.awaitSlotRecorded(m, slot, h.parts)
	r.checkSnapshot(r.readSnapshots()[processors.SnapshotID(slot)], "fenced", expected(h.work))
	if r.logs.count("publishing a reconciliation snapshot failed") == 0 {
		t.Error("the fenced job did not fail")
	}
	if r.logs.count("snapshot already published") < 2 {
		t.Error("the second and the retried job did not find the part published")
	}
}

// TestSnapshotTailCheck: the check a job makes after fencing, on the
// embedded broker or on KAFKA_BROKERS: nothing published, a committed
// part, a part aborted by a fence, and the part published after it.
func TestSnapshotTailCheck(t *testing.T) {
	brokers := lockBrokers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prefix := fmt.Sprintf("tail%d.", time.Now().UnixNano())
	topics := schemas.NewTopics(prefix)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if err := EnsureTopics(ctx, adm, topics, 2, 1); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		listed, err := adm.ListTopics(context.Background())
		if err != nil {
			return
		}
		var mine []string
		for _, name := range listed.Names() {
			if strings.HasPrefix(name, prefix) {
				mine = append(mine, name)
			}
		}
		_, _ = adm.DeleteTopics(context.Background(), mine...)
	})
	codec, err := schemas.New(ctx, schemas.Config{TopicPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(t.TempDir(), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	proc := processors.New(processors.Config{})
	var txs []processors.Transaction
	b := st.NewBatch(1)
	for i := range 5 {
		tx := rigTx("tail", i)
		if _, err := proc.Apply(b, &tx, time.Now()); err != nil {
			t.Fatal(err)
		}
		txs = append(txs, tx)
	}
	if err := b.Commit(1); err != nil {
		t.Fatal(err)
	}
	p, err := NewProcessing(ProcessingConfig{Brokers: brokers, Group: prefix + "group", TransactionalID: prefix + "tx",
		Topics: topics, Store: st, Processor: proc, Codec: codec, Notifier: NewOutcomeNotifier(), SnapshotInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	p.adm = adm
	view, err := st.Snapshot(1)
	if err != nil {
		t.Fatal(err)
	}
	defer view.Close()

	slot1 := processors.SnapshotSlot(time.Now(), time.Hour)
	slot2 := slot1.Add(time.Hour)
	// fence does what a job does first, and what makes the check's answer
	// final: initialise the partition's snapshot producer (on Apache Kafka
	// this also waits until the last transaction's markers are written).
	fence := func(ctx context.Context) {
		other, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(p.cfg.Group+"-snapshot-1"),
			kgo.TransactionTimeout(transactionTimeout))
		if err != nil {
			t.Error(err)
			return
		}
		defer other.Close()
		if _, _, err := other.ProducerID(ctx); err != nil {
			t.Error(err)
		}
	}
	published := func(slot time.Time, want bool, when string) {
		t.Helper()
		fence(ctx)
		got, err := p.partPublished(ctx, 1, slot)
		if err != nil || got != want {
			t.Fatalf("%s: the part of %v published: %v, %v; want %v", when, slot, got, err, want)
		}
	}
	published(slot1, false, "an empty topic")
	if ok, err := p.snaps.publish(ctx, view, slot1, time.Now()); err != nil || !ok {
		t.Fatalf("publishing: %v %v", ok, err)
	}
	published(slot1, true, "after publishing")
	published(slot2, false, "the next slot, after publishing")

	// The next slot's job is fenced by another instance's producer while
	// its part is in an open transaction.
	p.snaps.hook = func(ctx context.Context, part int32, stage string) {
		if stage == "flushed" {
			fence(ctx)
		}
	}
	if ok, err := p.snaps.publish(ctx, view, slot2, time.Now()); err == nil || ok {
		t.Fatalf("a fenced job: %v %v, want an error", ok, err)
	}
	p.snaps.hook = nil
	published(slot2, false, "after the fenced job")
	if ok, err := p.snaps.publish(ctx, view, slot2, time.Now()); err != nil || !ok {
		t.Fatalf("publishing after the fence: %v %v", ok, err)
	}
	published(slot2, true, "after publishing after the fence")
	if ok, err := p.snaps.publish(ctx, view, slot2, time.Now()); err != nil || !ok {
		t.Fatalf("publishing again: %v %v", ok, err)
	}

	// A read_committed consumer sees each slot's part once.
	rd, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics.PositionSnapshots),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	perSlot := map[string]int{}
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		fs := rd.PollFetches(pctx)
		pcancel()
		if fs.NumRecords() == 0 {
			break
		}
		fs.EachRecord(func(rec *kgo.Record) {
			s, err := codec.DecodePositionSnapshot(rec.Value)
			if err != nil {
				t.Fatal(err)
			}
			perSlot[s.SnapshotID]++
		})
	}
	want := len(expected(txs))
	if perSlot[processors.SnapshotID(slot1)] != want || perSlot[processors.SnapshotID(slot2)] != want || len(perSlot) != 2 {
		t.Errorf("records per snapshot: %v, want %d of each of two", perSlot, want)
	}
}
