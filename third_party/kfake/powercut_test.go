package kfake

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// strictFS is a memFS that models a power cut: a file's content survives a
// cut only as of its last Sync, and a file created since the last cut
// survives only once it has been synced (a rename carries the file's state
// along; removals and directories are kept as they are). After cut, every
// operation of the dying broker blocks until thaw and then fails, as a
// machine without power does nothing more: so whatever a client saw
// acknowledged was synced before the cut.
type strictFS struct {
	m *memFS

	mu      sync.RWMutex // held for reading by every operation, for writing by cut
	synced  map[*memFileData][]byte
	isCut   bool
	thaw    chan struct{}
	syncs   atomic.Int64
	cutAt   atomic.Int64 // cut at this many syncs (0: never by itself)
	cutOnce sync.Once
	cutDone chan struct{}
	after   *memFS // the synced state, once cut
}

var errPowerCut = errors.New("power cut")

func newStrictFS(m *memFS, cutAt int64) *strictFS {
	s := &strictFS{m: m, synced: make(map[*memFileData][]byte), thaw: make(chan struct{}), cutDone: make(chan struct{})}
	s.arm(cutAt)
	// What was handed over survived the last cut: it is synced.
	for _, d := range m.files {
		s.synced[d] = append([]byte(nil), d.data...)
	}
	return s
}

// arm makes the power fail at the n-th sync from now (never when n is 0).
func (s *strictFS) arm(n int64) {
	if n == 0 {
		s.cutAt.Store(0)
		return
	}
	s.cutAt.Store(s.syncs.Load() + n)
}

// enter is called at the start of every operation; false once cut (after
// blocking until thaw).
func (s *strictFS) enter() bool {
	s.mu.RLock()
	if !s.isCut {
		return true
	}
	s.mu.RUnlock()
	<-s.thaw
	return false
}

func (s *strictFS) leave() { s.mu.RUnlock() }

// cut takes the synced state and freezes the file system.
func (s *strictFS) cut() {
	s.cutOnce.Do(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.isCut = true
		after := newMemFS()
		s.m.mu.Lock()
		for name, d := range s.m.files {
			data, ok := s.synced[d]
			if !ok {
				continue
			}
			after.files[name] = &memFileData{data: append([]byte(nil), data...), modTime: d.modTime}
		}
		for dir := range s.m.dirs {
			after.dirs[dir] = true
		}
		s.m.mu.Unlock()
		s.after = after
		close(s.cutDone)
	})
}

func (s *strictFS) OpenFile(name string, flag int, perm os.FileMode) (file, error) {
	if !s.enter() {
		return nil, errPowerCut
	}
	defer s.leave()
	f, err := s.m.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &strictFile{s: s, f: f.(*memFile)}, nil
}

func (s *strictFS) Rename(o, n string) error {
	if !s.enter() {
		return errPowerCut
	}
	defer s.leave()
	return s.m.Rename(o, n)
}

func (s *strictFS) Remove(name string) error {
	if !s.enter() {
		return errPowerCut
	}
	defer s.leave()
	return s.m.Remove(name)
}

func (s *strictFS) RemoveAll(path string) error {
	if !s.enter() {
		return errPowerCut
	}
	defer s.leave()
	return s.m.RemoveAll(path)
}

func (s *strictFS) MkdirAll(path string, perm os.FileMode) error {
	if !s.enter() {
		return errPowerCut
	}
	defer s.leave()
	return s.m.MkdirAll(path, perm)
}

func (s *strictFS) ReadDir(name string) ([]os.DirEntry, error) {
	if !s.enter() {
		return nil, errPowerCut
	}
	defer s.leave()
	return s.m.ReadDir(name)
}

func (s *strictFS) ReadFile(name string) ([]byte, error) {
	if !s.enter() {
		return nil, errPowerCut
	}
	defer s.leave()
	return s.m.ReadFile(name)
}

func (s *strictFS) Stat(name string) (os.FileInfo, error) {
	if !s.enter() {
		return nil, errPowerCut
	}
	defer s.leave()
	return s.m.Stat(name)
}

type strictFile struct {
	s *strictFS
	f *memFile
}

func (f *strictFile) Write(b []byte) (int, error) {
	if !f.s.enter() {
		return 0, errPowerCut
	}
	defer f.s.leave()
	return f.f.Write(b)
}

func (f *strictFile) Read(b []byte) (int, error) {
	if !f.s.enter() {
		return 0, errPowerCut
	}
	defer f.s.leave()
	return f.f.Read(b)
}

func (f *strictFile) Seek(off int64, whence int) (int64, error) {
	if !f.s.enter() {
		return 0, errPowerCut
	}
	defer f.s.leave()
	return f.f.Seek(off, whence)
}

func (f *strictFile) Truncate(size int64) error {
	if !f.s.enter() {
		return errPowerCut
	}
	defer f.s.leave()
	return f.f.Truncate(size)
}

func (f *strictFile) Close() error { return nil }

func (f *strictFile) Sync() error {
	if n := f.s.syncs.Add(1); n == f.s.cutAt.Load() {
		f.s.cut() // the power fails before this sync completes
	}
	if !f.s.enter() {
		return errPowerCut
	}
	defer f.s.leave()
	f.s.m.mu.Lock()
	data := append([]byte(nil), f.f.d.data...)
	f.s.m.mu.Unlock()
	// Several goroutines may sync (a group commit); the map is guarded
	// by the memFS lock.
	f.s.m.mu.Lock()
	f.s.synced[f.f.d] = data
	f.s.m.mu.Unlock()
	return nil
}

// powerCutRun drives one seed: transactional producers write records to
// every partition of a topic and commit an offset per transaction; the
// power is cut at a random sync; the broker restarts on what was synced;
// and the guarantees are checked. Then the producers resume (first
// resending, with the same record ids, every unacknowledged transaction
// that did not survive, as a consumer-transform-producer reprocesses its
// input) and the power is cut again.
type powerCutRun struct {
	t         *testing.T
	rng       *rand.Rand
	acked     map[string]bool // transaction id -> EndTxn answered OK
	sent      map[string]bool // every transaction id ever begun
	lastAcked map[int]int     // producer -> highest acknowledged transaction number
	pending   map[int][]int   // producer -> transaction numbers to resend
	next      map[int]int     // producer -> next transaction number
}

const (
	powerCutTopic      = "powercut"
	powerCutInput      = "powercut-input"
	powerCutGroup      = "powercut-group"
	powerCutPartitions = 4
	powerCutProducers  = 3
)

func txnID(producer, n int) string { return fmt.Sprintf("p%d-t%d", producer, n) }

func TestPowerCutTransactions(t *testing.T) {
	seeds := 6
	if s, err := strconv.Atoi(os.Getenv("KFAKE_POWERCUT_SEEDS")); err == nil && s > 0 {
		seeds = s
	}
	base := time.Now().UnixNano()
	if s, err := strconv.ParseInt(os.Getenv("KFAKE_POWERCUT_SEED"), 10, 64); err == nil {
		base = s
	}
	for i := range seeds {
		seed := base + int64(i)
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			r := &powerCutRun{
				t: t, rng: rand.New(rand.NewSource(seed)),
				acked: map[string]bool{}, sent: map[string]bool{}, lastAcked: map[int]int{},
				pending: map[int][]int{}, next: map[int]int{},
			}
			r.run()
		})
	}
}

func (r *powerCutRun) run() {
	t := r.t
	mem := newMemFS()
	for round := range 3 {
		// Now and then the power fails again while the broker
		// recovers; otherwise while the producers write.
		cutAt := int64(20 + r.rng.Intn(400))
		var sfs *strictFS
		if round > 0 && r.rng.Intn(4) == 0 {
			sfs = newStrictFS(mem, int64(1+r.rng.Intn(12)))
		} else {
			sfs = newStrictFS(mem, 0)
		}
		opts := []Opt{NumBrokers(1), DataDir("/data"), withFS(sfs), SyncWrites()}
		if round == 0 {
			opts = append(opts, SeedTopics(powerCutPartitions, powerCutTopic), SeedTopics(powerCutProducers, powerCutInput))
		}
		opts = append(opts, WithLogger(recoveryLogger{t}))
		c, err := r.start(sfs, opts)
		if err != nil {
			t.Fatalf("round %d: starting on the synced state: %v", round, err)
		}
		if c == nil {
			// The power failed again during recovery.
			mem = sfs.after
			t.Logf("round %d: cut during recovery", round)
			continue
		}
		sfs.arm(0)
		restartedAt := time.Now()
		if round > 0 {
			r.verify(c, restartedAt, round)
		}
		sfs.arm(cutAt)
		r.produceUntilCut(c, sfs)
		close(sfs.thaw)
		c.Close()
		mem = sfs.after
		t.Logf("round %d: cut at sync %d; %d transactions acknowledged so far", round, cutAt, len(r.acked))
	}
	c, err := NewCluster(NumBrokers(1), DataDir("/data"), withFS(newStrictFS(mem, 0)), SyncWrites())
	if err != nil {
		t.Fatalf("final restart: %v", err)
	}
	defer c.Close()
	r.verify(c, time.Now(), 3)
}

// start starts a broker on sfs; nil if the power was cut while it
// recovered.
func (r *powerCutRun) start(sfs *strictFS, opts []Opt) (*Cluster, error) {
	type result struct {
		c   *Cluster
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := NewCluster(opts...)
		done <- result{c, err}
	}()
	select {
	case res := <-done:
		return res.c, res.err
	case <-sfs.cutDone:
		close(sfs.thaw)
		if res := <-done; res.c != nil {
			res.c.Close()
		}
		return nil, nil
	}
}

type recoveryLogger struct{ t *testing.T }

func (l recoveryLogger) Logf(level LogLevel, msg string, args ...any) {
	if level == LogLevelError || strings.Contains(msg, "recovery") {
		l.t.Logf(msg, args...)
	}
}

// produceUntilCut runs the producers until the power is cut.
func (r *powerCutRun) produceUntilCut(c *Cluster, sfs *strictFS) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	inputID := r.topicID(c, powerCutInput)
	var clients []*kgo.Client
	for p := range powerCutProducers {
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(c.ListenAddrs()...),
			kgo.TransactionalID(fmt.Sprintf("producer-%d", p)),
			kgo.TransactionTimeout(time.Minute),
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.RequestRetries(2),
			kgo.RetryTimeout(2*time.Second),
			kgo.RecordDeliveryTimeout(3*time.Second),
		)
		if err != nil {
			r.t.Fatal(err)
		}
		clients = append(clients, cl)
		mu.Lock()
		todo := append([]int(nil), r.pending[p]...)
		r.pending[p] = nil
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var n int
				mu.Lock()
				if len(todo) > 0 {
					n, todo = todo[0], todo[1:]
				} else {
					n = r.next[p]
					r.next[p]++
				}
				r.sent[txnID(p, n)] = true
				mu.Unlock()
				err := r.transact(cl, inputID, p, n)
				mu.Lock()
				if err == nil {
					r.acked[txnID(p, n)] = true
					r.lastAcked[p] = max(r.lastAcked[p], n)
				} else {
					r.pending[p] = append(r.pending[p], n)
					r.pending[p] = append(r.pending[p], todo...)
				}
				mu.Unlock()
				if err != nil {
					select {
					case <-sfs.cutDone:
					default:
						r.t.Logf("producer %d: transaction %d failed before the cut: %v", p, n, err)
					}
					return
				}
				select {
				case <-sfs.cutDone:
					return
				default:
				}
			}
		}()
	}
	select {
	case <-sfs.cutDone:
	case <-time.After(20 * time.Second):
		r.t.Fatal("the power cut never came: the producers stopped syncing")
	}
	// The broker is dead: its clients give up what is in flight.
	for _, cl := range clients {
		go cl.Close()
	}
	wg.Wait()
}

// transact writes transaction n of producer p: a record on every partition
// and, as its input position, offset n+1 on the producer's input partition.
func (r *powerCutRun) transact(cl *kgo.Client, inputID [16]byte, p, n int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		return err
	}
	id := txnID(p, n)
	var recs []*kgo.Record
	for part := range powerCutPartitions {
		recs = append(recs, &kgo.Record{Topic: powerCutTopic, Partition: int32(part), Value: []byte(id)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		_ = cl.EndTransaction(ctx, kgo.TryAbort)
		return err
	}
	pid, epoch, err := cl.ProducerID(ctx)
	if err != nil {
		_ = cl.EndTransaction(ctx, kgo.TryAbort)
		return err
	}
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = fmt.Sprintf("producer-%d", p), pid, epoch, powerCutGroup
	addResp, err := add.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(addResp.ErrorCode)
	}
	if err != nil {
		_ = cl.EndTransaction(ctx, kgo.TryAbort)
		return err
	}
	commit := kmsg.NewPtrTxnOffsetCommitRequest()
	commit.TransactionalID, commit.Group, commit.ProducerID, commit.ProducerEpoch = add.TransactionalID, powerCutGroup, pid, epoch
	commit.Generation = -1
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic, rt.TopicID = powerCutInput, inputID
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.LeaderEpoch = int32(p), int64(n+1), -1
	rt.Partitions = append(rt.Partitions, rp)
	commit.Topics = append(commit.Topics, rt)
	commitResp, err := commit.RequestWith(ctx, cl)
	if err == nil {
		for _, t := range commitResp.Topics {
			for _, p := range t.Partitions {
				err = errors.Join(err, kerr.ErrorForCode(p.ErrorCode))
			}
		}
	}
	if err != nil {
		_ = cl.EndTransaction(ctx, kgo.TryAbort)
		return err
	}
	return cl.EndTransaction(ctx, kgo.TryCommit)
}

// verify checks the three guarantees on a broker restarted after a cut:
// every acknowledged transaction is there, whole; no record is read twice;
// a read_committed reader reaches the end of every partition within 10 s.
// It also checks that each producer's committed input position is exactly
// the one of its last transaction that survived, and queues for resending
// every unacknowledged transaction that did not survive.
func (r *powerCutRun) verify(c *Cluster, restartedAt time.Time, round int) {
	t := r.t
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	adm := kadm.NewClient(admin)
	// A plain record at the end of every partition: a read_committed
	// reader that reads it has read everything before it.
	end := fmt.Sprintf("end-%d", round)
	var marks []*kgo.Record
	for part := range powerCutPartitions {
		marks = append(marks, &kgo.Record{Topic: powerCutTopic, Partition: int32(part), Value: []byte(end)})
	}
	pcl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	if err := pcl.ProduceSync(ctx, marks...).FirstErr(); err != nil {
		t.Fatalf("round %d: producing the end marks: %v", round, err)
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.ConsumeTopics(powerCutTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[string]map[int32]int{} // txn id -> partition -> copies
	reached := map[int32]bool{}
	deadline := restartedAt.Add(10 * time.Second)
	for len(reached) < powerCutPartitions {
		if time.Now().After(deadline) {
			lso, _ := adm.ListCommittedOffsets(ctx, powerCutTopic)
			hwm, _ := adm.ListEndOffsets(ctx, powerCutTopic)
			var diag []string
			hwm.Each(func(o kadm.ListedOffset) {
				l, _ := lso.Lookup(powerCutTopic, o.Partition)
				diag = append(diag, fmt.Sprintf("p%d: hwm %d lso %d reached %v", o.Partition, o.Offset, l.Offset, reached[o.Partition]))
			})
			t.Fatalf("round %d: a read_committed reader did not reach the end within 10 s of the restart: %s", round, strings.Join(diag, "; "))
		}
		pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		fs := cl.PollFetches(pctx)
		pcancel()
		fs.EachRecord(func(rec *kgo.Record) {
			id := string(rec.Value)
			if id == end {
				reached[rec.Partition] = true
			}
			if strings.HasPrefix(id, "end-") {
				return
			}
			if seen[id] == nil {
				seen[id] = map[int32]int{}
			}
			seen[id][rec.Partition]++
		})
	}
	for id, parts := range seen {
		if !r.sent[id] {
			t.Errorf("round %d: read %q, which was never sent", round, id)
		}
		if len(parts) != powerCutPartitions {
			t.Errorf("round %d: transaction %s is torn: visible on %d of %d partitions", round, id, len(parts), powerCutPartitions)
		}
		for p, n := range parts {
			if n > 1 {
				t.Errorf("round %d: transaction %s read %d times on partition %d", round, id, n, p)
			}
		}
	}
	for id := range r.acked {
		if seen[id] == nil {
			t.Errorf("round %d: acknowledged transaction %s lost", round, id)
		}
	}
	// The input position of each producer is that of its last visible
	// transaction (positions advance by one per transaction).
	offs, err := adm.FetchOffsets(ctx, powerCutGroup)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		t.Fatal(err)
	}
	for p := range powerCutProducers {
		last := -1
		for n := range r.next[p] {
			if seen[txnID(p, n)] != nil {
				last = max(last, n)
			}
		}
		got := int64(0)
		if o, ok := offs.Lookup(powerCutInput, int32(p)); ok {
			got = o.At
		}
		if got != int64(last+1) {
			t.Errorf("round %d: producer %d's committed position is %d, its last visible transaction says %d", round, p, got, last+1)
		}
	}
	// Resend what did not survive.
	for p, ns := range r.pending {
		var keep []int
		for _, n := range ns {
			if seen[txnID(p, n)] == nil {
				keep = append(keep, n)
			}
		}
		r.pending[p] = keep
	}
	if t.Failed() {
		t.FailNow()
	}
}

func (r *powerCutRun) topicID(c *Cluster, topic string) [16]byte {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		r.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ts, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		r.t.Fatal(err)
	}
	return ts[topic].ID
}

// TestCrashAbortedTxnDoesNotHideLaterCommits: a transaction left open by a
// crash is aborted on restart; the same producer's next transaction on
// the partition, committed after the restart, must be readable with
// read_committed. Before, the abort existed only in memory: the fetch
// response listed the aborted range without an abort marker after it, so
// the client dropped every later batch of the producer in that response.
func TestCrashAbortedTxnDoesNotHideLaterCommits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const topic = "crash-aborted-hides"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	txnClient := func(c *Cluster) *kgo.Client {
		return newPlainClient(t, c,
			kgo.TransactionalID("crash-aborted-hides"),
			kgo.TransactionTimeout(time.Minute),
			kgo.DefaultProduceTopic(topic),
		)
	}
	commit := func(cl *kgo.Client, v string) {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
	{
		c := newCluster(t, DataDir(dir), SyncWrites(), NumBrokers(1), SeedTopics(1, topic))
		cl := txnClient(c)
		commit(cl, "before")
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("open at the crash")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		// The crash: neither the transaction nor the broker ends.
	}
	c := newCluster(t, DataDir(dir), SyncWrites(), NumBrokers(1))
	commit(txnClient(c), "after")

	cl := newPlainClient(t, c,
		kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	var got []string
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < 2 && time.Now().Before(deadline) {
		pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
		pcancel()
	}
	if !slices.Equal(got, []string{"before", "after"}) {
		t.Fatalf("read_committed read %q, want [before after]", got)
	}
}

// TestPowerCutTornIndexEntry: with group commit a partition's index is not
// synced, so a power cut can leave an entry torn (here: zeroed, as a file
// system that made the length durable before the data leaves it). The
// entry of a transaction open at the cut must be rebuilt from its batch,
// not read as a plain batch: read_committed must not see the transaction
// that recovery aborted.
func TestPowerCutTornIndexEntry(t *testing.T) {
	t.Parallel()
	const topic = "torn-index"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	txnClient := func(c *Cluster) *kgo.Client {
		return newPlainClient(t, c,
			kgo.TransactionalID("torn-index"),
			kgo.TransactionTimeout(time.Minute),
			kgo.DefaultProduceTopic(topic),
		)
	}
	commit := func(cl *kgo.Client, v string) {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}

	sfs := newStrictFS(newMemFS(), 0)
	c := newCluster(t, DataDir("/data"), withFS(sfs), SyncWrites(), NumBrokers(1), SeedTopics(1, topic))
	cl := txnClient(c)
	commit(cl, "before")
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("open at the cut")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	sfs.cut()
	after := sfs.after
	close(sfs.thaw)
	cl.Close()
	c.Close()

	// The segment holds every acknowledged batch: "before", its commit
	// marker, "open at the cut". Tear the open batch's index entry
	// (zeroed), and zero any entry the index lacks before it.
	var seg, idx *memFileData
	for name, d := range after.files {
		switch {
		case strings.Contains(name, topic) && strings.HasSuffix(name, ".dat"):
			seg = d
		case strings.Contains(name, topic) && strings.HasSuffix(name, ".idx"):
			idx = d
		}
	}
	if seg == nil {
		t.Fatal("no segment survived the cut")
	}
	if _, _, _, ok := decodeIndexEntry(make([]byte, indexEntrySize)); ok {
		t.Fatal("a zeroed index entry passes its checksum; the test needs a torn entry")
	}
	if idx == nil {
		idx = &memFileData{}
		for name := range after.files {
			if strings.HasSuffix(name, ".dat") && strings.Contains(name, topic) {
				after.files[strings.TrimSuffix(name, ".dat")+".idx"] = idx
			}
		}
	}
	for len(idx.data) < 3*indexEntrySize {
		idx.data = append(idx.data, make([]byte, indexEntrySize)...)
	}
	clear(idx.data[2*indexEntrySize : 3*indexEntrySize])

	c2 := newCluster(t, DataDir("/data"), withFS(after), SyncWrites(), NumBrokers(1))
	commit(txnClient(c2), "after")
	rc := newPlainClient(t, c2,
		kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	var got []string
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Contains(got, "after") && time.Now().Before(deadline) {
		pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		rc.PollFetches(pctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
		pcancel()
	}
	if !slices.Equal(got, []string{"before", "after"}) {
		t.Fatalf("read_committed read %q, want [before after]", got)
	}
}
