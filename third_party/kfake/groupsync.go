package kfake

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Group commit (with SyncWrites): requests write without syncing and mark
// the files they wrote dirty; their responses wait in groupSync until one
// sync of each dirty file has covered them. Everything that arrives while
// a sync runs is covered by the next one, so concurrent producers share
// their fsyncs instead of queueing one per partition batch.
//
// Within one sync round the files are synced in phases: group offsets,
// then partition segments (not their indexes: see persistBatchToSegment),
// then pids.log. A transaction's offsets are therefore durable before its
// markers and its markers before anything pids.log says after them. A commit decision is written like any
// other entry; its EndTxn waits (after) for the round that syncs it and
// only then writes the markers, on the loop, so decisions share their
// fsyncs too and the loop goes on while they are synced.

// Sync phases of a dirty file.
const (
	syncPhaseGroups = iota
	syncPhaseSegments
	syncPhasePIDs
	syncPhases
)

// pendingResp waits for a round: a response to send, or work (then) to
// hand back to the loop.
type pendingResp struct {
	creq *clientReq
	resp clientResp
	then func()
}

type groupSync struct {
	c    *Cluster
	kick chan struct{}

	mu      sync.Mutex
	files   map[file]int // dirty file -> phase
	pending []pendingResp
	busy    bool // a round is syncing
}

func newGroupSync(c *Cluster) *groupSync {
	g := &groupSync{c: c, kick: make(chan struct{}, 1), files: make(map[file]int)}
	go g.loop()
	return g
}

// deferSync marks f, just written, to be synced before the response of the
// request being handled is sent; false if syncs are not deferred (no group
// commit, or during load), when the caller syncs itself.
func (c *Cluster) deferSync(f file, phase int) bool {
	if c.gsync == nil {
		return false
	}
	if c.dirty == nil {
		c.dirty = make(map[file]int)
	}
	c.dirty[f] = phase
	return true
}

// acksWrites: the response to req tells the client that something it
// wrote is stored. AddPartitionsToTxn, AddOffsetsToTxn and TxnOffsetCommit
// are not among them: they change only the open transaction in memory,
// which nothing stores before its commit decision (EndTxn), so holding
// their responses behind a round would only delay every commit.
func acksWrites(req kmsg.Request) bool {
	switch req.(type) {
	case *kmsg.ProduceRequest, *kmsg.EndTxnRequest, *kmsg.OffsetCommitRequest,
		*kmsg.InitProducerIDRequest, *kmsg.OffsetDeleteRequest, *kmsg.DeleteGroupsRequest:
		return true
	}
	return false
}

// maybeHold hands the response to the group sync if it must wait for a
// sync: the request wrote, or it acknowledges writes while earlier
// responses still wait (an idempotent retry answered from memory must not
// overtake the original). Called from run().
func (g *groupSync) maybeHold(creq *clientReq, kreq kmsg.Request, resp clientResp) bool {
	dirty := g.c.dirty
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(dirty) == 0 && (kreq == nil || !acksWrites(kreq) || (!g.busy && len(g.pending) == 0)) {
		return false
	}
	g.takeDirty()
	g.pending = append(g.pending, pendingResp{creq: creq, resp: resp})
	g.kickLocked()
	return true
}

// after runs fn on the loop once a round has synced every file written so
// far (by the request being handled too). Called from run().
func (g *groupSync) after(fn func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.takeDirty()
	g.pending = append(g.pending, pendingResp{then: fn})
	g.kickLocked()
}

func (g *groupSync) takeDirty() {
	for f, phase := range g.c.dirty {
		if old, ok := g.files[f]; !ok || phase > old {
			g.files[f] = phase
		}
	}
	clear(g.c.dirty)
}

func (g *groupSync) kickLocked() {
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

// reply sends the response to creq, handled by work that after handed back
// to the loop, as run() sends a handler's: held for a sync if it must be.
func (c *Cluster) reply(creq *clientReq, kresp kmsg.Response) {
	c.pids.updateTimer()
	if c.needsGroupsCompact {
		c.compactGroupsLog()
	}
	resp := clientResp{kresp: kresp, corr: creq.corr}
	if c.gsync != nil && c.gsync.maybeHold(creq, creq.kreq, resp) {
		return
	}
	select {
	case creq.cc.respCh <- resp:
	case <-creq.cc.done:
	case <-c.die:
	}
}

func (g *groupSync) loop() {
	for {
		select {
		case <-g.kick:
		case <-g.c.die:
			return
		}
		for {
			g.mu.Lock()
			files, pending := g.files, g.pending
			if len(pending) == 0 && len(files) == 0 {
				g.busy = false
				g.mu.Unlock()
				break
			}
			g.files, g.pending, g.busy = make(map[file]int), nil, true
			g.mu.Unlock()

			if f, err := g.syncAll(files); err != nil {
				g.c.failStop(f, err)
				return
			}
			if g.c.syncFailed() {
				return // a closer's sync of one of the files failed
			}
			for _, p := range pending {
				if p.then != nil {
					select {
					case g.c.groupWorkCh <- p.then:
					case <-g.c.die:
						return
					}
					continue
				}
				select {
				case p.creq.cc.respCh <- p.resp:
				case <-p.creq.cc.done:
				case <-g.c.die:
					return
				}
			}
		}
	}
}

// syncAll syncs the files, phase by phase, each phase's files at once; it
// stops at the first phase in which a sync fails and returns that file and
// error.
func (g *groupSync) syncAll(files map[file]int) (file, error) {
	for phase := range syncPhases {
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			failed  file
			failErr error
		)
		for f, p := range files {
			if p != phase {
				continue
			}
			wg.Go(func() {
				// A file closed since was synced by its closer
				// (segment roll: syncOrStop) or rewritten whole
				// (log compaction).
				if err := f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
					mu.Lock()
					if failErr == nil {
						failed, failErr = f, err
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if failErr != nil {
			return failed, failErr
		}
	}
	return nil, nil
}

// A failed fsync leaves the file's state in the page cache unknown: the
// kernel may have dropped the dirty pages it could not write, and a retried
// fsync can then report success for data that is gone. So the cluster
// stops instead of going on (fail-stop): none of the responses that waited
// for the sync are sent, clients see their connections drop and retry, and
// a restart recovers from what is on disk.

// failStop records that the sync of f failed and stops the cluster: it
// closes the listeners and c.die, on which run(), the group commit and the
// connections stop, without waiting for any of them, so it may be called
// from any goroutine, run() and the group commit's included. Nothing is
// saved: Close, called later or already under way, sees the failure
// (syncFailed) and saves nothing either.
func (c *Cluster) failStop(f file, err error) {
	c.syncMu.Lock()
	first := c.recordSyncErrLocked(f, err)
	c.syncMu.Unlock()
	if first {
		c.haltAfterSync(f, err)
	}
}

// recordSyncErrLocked records the failed sync of f; false if one was
// recorded before. Called with syncMu held.
func (c *Cluster) recordSyncErrLocked(f file, err error) bool {
	if c.syncErr != nil {
		return false
	}
	c.syncErr = fmt.Errorf("fsync of %s failed: %w", fileName(f), err)
	return true
}

func (c *Cluster) haltAfterSync(f file, err error) {
	c.cfg.logger.Logf(LogLevelError, "fsync of %s failed: %v; stopping so nothing unsynced is acknowledged; restart to recover from what is on disk", fileName(f), err)
	if c.dead.Swap(true) {
		return // Close is stopping it
	}
	for _, b := range c.bs {
		b.ln.Close()
	}
	close(c.die)
}

// syncFailed: a sync failed and the cluster stops (or stopped).
func (c *Cluster) syncFailed() bool {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	return c.syncErr != nil
}

// syncOrStop syncs f, which the caller is about to close, and stops the
// cluster if the sync fails (failStop); false then. The group commit takes
// a file closed since it was written as synced by its closer (syncAll), so
// the failure is recorded under syncMu before the lock is released: a round
// that synced f at the same time, and may have been told it succeeded,
// checks under syncMu before it answers, and so sees the failure.
func (c *Cluster) syncOrStop(f file) bool {
	c.syncMu.Lock()
	err := f.Sync()
	first := err != nil && c.recordSyncErrLocked(f, err)
	c.syncMu.Unlock()
	if first {
		c.haltAfterSync(f, err)
	}
	return err == nil
}

// Err is why the cluster stopped itself (a failed sync of its data), or
// nil. Done is closed once it has.
func (c *Cluster) Err() error {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	return c.syncErr
}

// Done is closed once the cluster has stopped: closed, or stopped by itself
// after a failed sync (Err says why).
func (c *Cluster) Done() <-chan struct{} { return c.die }

// fileName names f for a log line.
func fileName(f file) string {
	if n, ok := f.(interface{ Name() string }); ok {
		return n.Name()
	}
	return "a data file"
}
