package pipeline

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/state"
)

// Reconciliation snapshots are published by a job of their own, not in
// the poll's transaction: a partition of a million records takes seconds
// to publish, and its input would wait that long. The poll's transaction
// still decides and records everything (timers.go); the job only
// publishes:
//
//  1. The poll that first sees a slot due takes a point-in-time view of
//     the partition's committed state and starts the job with it.
//  2. The job publishes the partition's part in one Kafka transaction of
//     a producer whose transactional id belongs to the partition
//     (<group>-snapshot-<partition>), the same on every instance.
//     Initialising it fences any earlier holder of the id, a paused former
//     owner included, and aborts what that one left open. Only then does
//     the job look at the end of the topic's partition: if the slot's part
//     is already there, committed, it publishes nothing.
//  3. Once the job has ended, the next poll of the partition (a tick
//     brings one within seconds) records the slot in the partition's
//     state, in its own fenced transaction.
//
// So a part is committed at most once per slot: two jobs of one slot
// cannot both commit, since the later one's initialisation fences the
// earlier, and the later one's check sees a commit made before it. A crash
// between publishing and recording is caught by that same check. A
// read_committed consumer still sees a part whole or not at all.

// snapshotRetry is how long a failed job waits before it is started
// again.
const snapshotRetry = 5 * time.Second

// snapshotJobs runs the snapshot jobs of the partitions this instance
// owns: at most one per partition, and one publishing at a time (they are
// heavy on CPU and memory, and the processors share both).
type snapshotJobs struct {
	p    *Processing
	one  chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	base context.Context
	jobs map[int32]*snapshotJob
	// hook, set only by tests, runs at two stages of a publishing job:
	// "flushed", with the part's records on the broker in the open
	// transaction, and "committed".
	hook func(ctx context.Context, part int32, stage string)
}

type snapshotJob struct {
	slot   time.Time
	cancel context.CancelFunc
	done   chan struct{}
	// Set before done is closed.
	published bool // the slot's part is on the topic, by this job or an earlier one
	ended     time.Time
}

func newSnapshotJobs(p *Processing) *snapshotJobs {
	return &snapshotJobs{p: p, one: make(chan struct{}, 1), base: context.Background(), jobs: map[int32]*snapshotJob{}}
}

// run sets the context jobs run in; stop cancels them and waits.
func (j *snapshotJobs) run(ctx context.Context) {
	j.mu.Lock()
	j.base = ctx
	j.mu.Unlock()
}

func (j *snapshotJobs) stop() {
	j.drop(nil)
	j.wg.Wait()
}

// drop cancels the jobs of parts (all of them when parts is nil): the
// partitions left this instance, and their next owner decides anew.
func (j *snapshotJobs) drop(parts []int32) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for part, job := range j.jobs {
		if parts == nil || slices.Contains(parts, part) {
			job.cancel()
			delete(j.jobs, part)
		}
	}
}

// advance moves partition part's snapshot of slot along, from inside a
// poll's transaction: b is the poll's batch, whose committed state is read
// for a new job. It records the slot in b once a job reports the part
// published.
func (j *snapshotJobs) advance(b *state.Batch, part int32, slot, now time.Time) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	prev := j.jobs[part]
	if prev != nil && prev.slot.Equal(slot) {
		select {
		case <-prev.done:
		default:
			return nil // still publishing
		}
		if prev.published {
			return processors.SetLastSnapshot(b, slot)
		}
		if time.Since(prev.ended) < snapshotRetry {
			return nil
		}
	}
	view, err := j.p.cfg.Store.Snapshot(part)
	if err != nil {
		return err
	}
	if has, err := processors.HasPositions(view); err != nil || !has {
		// Nothing to publish, and nothing recorded: the partition's first
		// stock is published in the same slot.
		view.Close()
		return err
	}
	ctx, cancel := context.WithCancel(j.base)
	job := &snapshotJob{slot: slot, cancel: cancel, done: make(chan struct{})}
	j.jobs[part] = job
	j.wg.Add(1)
	go func() {
		defer j.wg.Done()
		defer close(job.done)
		defer view.Close()
		if prev != nil {
			prev.cancel() // an older slot's job, still publishing: it has been superseded
			<-prev.done
		}
		var err error
		job.published, err = j.publish(ctx, view, slot, now)
		job.ended = time.Now()
		if err != nil && ctx.Err() == nil {
			j.p.log.Warn("publishing a reconciliation snapshot failed; trying again", "partition", part,
				"snapshot", processors.SnapshotID(slot), "err", err, "in", snapshotRetry)
		}
	}()
	return nil
}

// publish publishes view as the partition's part of slot's snapshot unless
// it is on the topic already, and reports whether it is there now.
func (j *snapshotJobs) publish(ctx context.Context, view *state.Snapshot, slot, takenAt time.Time) (bool, error) {
	select {
	case j.one <- struct{}{}:
		defer func() { <-j.one }()
	case <-ctx.Done():
		return false, ctx.Err()
	}
	p, part := j.p, view.Partition()
	txid := p.cfg.Group + "-snapshot-" + strconv.Itoa(int(part))
	cl, err := kgo.NewClient(p.clientOpts(
		kgo.TransactionalID(txid),
		kgo.TransactionTimeout(transactionTimeout),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)...)
	if err != nil {
		return false, fmt.Errorf("creating the snapshot producer: %w", err)
	}
	defer cl.Close()
	// Fence first, then look: see the comment at the top of this file.
	if _, _, err := cl.ProducerID(ctx); err != nil {
		return false, fmt.Errorf("initialising the transactional producer %s: %w", txid, err)
	}
	id := processors.SnapshotID(slot)
	there, err := p.partPublished(ctx, part, slot)
	if err != nil || there {
		if there {
			// After a crash or a fenced job: the part went out once already.
			p.log.Info("snapshot already published", "snapshot", id, "partition", part)
		}
		return there, err
	}
	// Count first, then stream: the header needs the count, and holding a
	// large partition's records to count them would cost as much memory as
	// the partition's state.
	n := 0
	if err := processors.EachPosition(view, func(*processors.Record) error { n++; return nil }); err != nil {
		return false, fmt.Errorf("reading the snapshot of partition %d: %w", part, err)
	}
	headers := []kgo.RecordHeader{{Key: SnapshotRecordsHeader, Value: []byte(strconv.Itoa(n))}}
	if err := cl.BeginTransaction(); err != nil {
		return false, err
	}
	var (
		mu      sync.Mutex
		prodErr error
	)
	sent := 0
	err = processors.EachPosition(view, func(r *processors.Record) error {
		sw := snapshotToWire(r, id, part, takenAt)
		v, err := p.cfg.Codec.AppendPositionSnapshot(nil, &sw)
		if err != nil {
			return fmt.Errorf("encoding snapshot %s: %w", id, err)
		}
		cl.Produce(ctx, &kgo.Record{Topic: p.cfg.Topics.PositionSnapshots, Partition: part,
			Key: []byte(processors.StockKey(r.WarehouseID, r.ItemID)), Value: v, Headers: headers},
			func(_ *kgo.Record, err error) {
				if err != nil {
					mu.Lock()
					prodErr = firstErr(prodErr, err)
					mu.Unlock()
				}
			})
		sent++
		return ctx.Err()
	})
	if err == nil && sent != n {
		err = fmt.Errorf("snapshot %s of partition %d: counted %d stock records, then read %d", id, part, n, sent)
	}
	if err == nil {
		err = cl.Flush(ctx)
	}
	if err == nil && j.hook != nil {
		j.hook(ctx, part, "flushed")
	}
	mu.Lock()
	err = firstErr(err, prodErr)
	mu.Unlock()
	try := kgo.TryCommit
	if err != nil {
		try = kgo.TryAbort
	}
	endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if eerr := cl.EndTransaction(endCtx, try); eerr != nil && err == nil {
		err = fmt.Errorf("committing snapshot %s of partition %d: %w", id, part, eerr)
	}
	if err != nil {
		return false, err
	}
	p.metrics.snapshots.Add(ctx, int64(n))
	p.log.Debug("snapshot published", "snapshot", id, "partition", part, "records", n)
	if j.hook != nil {
		j.hook(ctx, part, "committed")
	}
	return true, nil
}

// firstErr returns the first of two errors that is not nil.
func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// partPublished reports whether the last part committed on partition
// part of the snapshots topic is of slot or a later one. The caller has
// initialised the partition's snapshot producer, which fenced every other
// writer of the partition and waited until their transactions ended, their
// markers written: what stands there is final. A part is one transaction,
// so the partition's stable end is its commit or abort marker, just after
// the part's last record. Jobs go forward slot by slot, so a part aborted
// at the end means the slot asked about is not published. (Not so if the
// instances' clocks disagree by more than a partition takes to move: a
// new owner still in an earlier slot than its predecessor's aborted job
// would publish that slot's part again, taken later; a consumer that
// keeps the last part of each snapshot id and partition is unaffected.)
func (p *Processing) partPublished(ctx context.Context, part int32, slot time.Time) (bool, error) {
	topic := p.cfg.Topics.PositionSnapshots
	ends, err := p.adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return false, fmt.Errorf("listing the end of %s: %w", topic, err)
	}
	end, ok := ends.Lookup(topic, part)
	if !ok || end.Err != nil {
		return false, fmt.Errorf("listing the end of %s partition %d: %v", topic, part, end.Err)
	}
	if end.Offset == 0 {
		return false, nil
	}
	rd, err := kgo.NewClient(p.clientOpts(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {part: kgo.NewOffset().At(max(end.Offset-2, 0))}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return false, err
	}
	defer rd.Close()
	readCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var last, data *kgo.Record
	for last == nil || last.Offset < end.Offset-1 {
		fs := rd.PollFetches(readCtx)
		if err := readCtx.Err(); err != nil {
			return false, fmt.Errorf("reading the end of %s partition %d: %w", topic, part, err)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = firstErr(ferr, err) })
		if ferr != nil {
			return false, fmt.Errorf("reading the end of %s partition %d: %w", topic, part, ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= end.Offset {
				return
			}
			last = r
			if !r.Attrs.IsControl() {
				data = r
			}
		})
	}
	lastData := last
	if last.Attrs.IsControl() {
		if len(last.Key) < 4 {
			return false, fmt.Errorf("%s partition %d: a control record of %d bytes at offset %d", topic, part, len(last.Key), last.Offset)
		}
		if binary.BigEndian.Uint16(last.Key[2:4]) != 1 { // 0 abort, 1 commit
			return false, nil
		}
		if data == nil || data.Offset != last.Offset-1 {
			return false, fmt.Errorf("%s partition %d: no record just before the commit at offset %d", topic, part, last.Offset)
		}
		lastData = data
	}
	s, err := p.cfg.Codec.DecodePositionSnapshot(lastData.Value)
	if err != nil {
		return false, fmt.Errorf("%s partition %d offset %d: %w", topic, part, lastData.Offset, err)
	}
	at, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(s.SnapshotID, "snap-"))
	if err != nil {
		return false, fmt.Errorf("%s partition %d offset %d: snapshot id %q: %w", topic, part, lastData.Offset, s.SnapshotID, err)
	}
	return !at.Before(slot), nil
}
