package pipeline

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// phase is how far a newly assigned partition's state has been brought.
type phase int

const (
	// unrestored: assigned, local state not yet caught up.
	unrestored phase = iota
	// restored: caught up to the changelog's stable end as of the
	// assignment; readable. A previous owner's last transaction may
	// still have been open then.
	restored
	// verified: caught up again after the first records were fetched,
	// when the group's offsets (and so the previous owner's
	// transactions) were known stable, and its state agrees with the
	// group's committed input offsets (inputs.go). Only then is it
	// processed.
	verified
)

// owner is which session owns a partition, and how far its state has
// been brought.
type owner struct {
	session int
	phase   phase
}

// ownership tracks the partitions this instance owns, which of its
// sessions (group members) owns each, and how far each one's state has
// been brought. Safe for concurrent use: the group's callbacks, the
// session loops and the readers (Partition, Ready, metrics) all use it.
type ownership struct {
	mu       sync.Mutex
	sessions int          // how many sessions the instance runs
	joined   map[int]bool // the sessions that have an assignment
	owned    map[int32]owner
	// assignedAt: when each owned partition was assigned. A partition
	// that receives no input is verified once a transaction timeout has
	// passed since then: by that time any previous owner's transaction
	// has committed or been aborted by the coordinator.
	assignedAt map[int32]time.Time
	// restoring: changelog records left to replay, and how many there
	// were when the restore began, per partition being restored.
	restoring    map[int32]int64
	restoreTotal map[int32]int64
	lastTick     map[int32]time.Time
	lag          map[int32]int64
	// behind: for each owned partition restored but not yet caught up
	// with its input, what it must apply first (catchup.go).
	behind map[int32]*catchUp
}

func newOwnership(sessions int) *ownership {
	return &ownership{
		sessions:     max(sessions, 1),
		joined:       map[int]bool{},
		owned:        map[int32]owner{},
		assignedAt:   map[int32]time.Time{},
		restoring:    map[int32]int64{},
		restoreTotal: map[int32]int64{},
		lastTick:     map[int32]time.Time{},
		lag:          map[int32]int64{},
		behind:       map[int32]*catchUp{},
	}
}

// reset forgets every partition of session sid, which ended: whoever owns
// them next restores from the changelog. It returns them.
func (o *ownership) reset(sid int) []int32 {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.joined, sid)
	var parts []int32
	for part, ow := range o.owned {
		if ow.session == sid {
			parts = append(parts, part)
		}
	}
	return o.dropLocked(sid, parts)
}

// assign records session sid's assignment, parts, none of them restored
// yet, and returns the partitions sid owned that parts leaves out.
//
// The group is balanced eagerly (every partition is revoked before each
// rebalance), so parts is sid's whole assignment, not an addition to it.
// A partition of sid's that it leaves out was revoked without the revoke
// callback running: the client's transactional session calls it once
// between two ends of a transaction, so a second rebalance before the
// session's next transaction revokes silently. Kept, such a partition
// would be read (positions, outcomes) and snapshotted from state its new
// owner has moved past.
func (o *ownership) assign(sid int, parts []int32, now time.Time) (stale []int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.joined[sid] = true
	for part, ow := range o.owned {
		if ow.session == sid && !slices.Contains(parts, part) {
			stale = append(stale, part)
		}
	}
	slices.Sort(stale)
	o.dropLocked(sid, stale)
	for _, part := range parts {
		o.owned[part] = owner{session: sid, phase: unrestored}
		o.assignedAt[part] = now
	}
	return stale
}

// drop forgets partitions revoked from, or lost by, session sid, and
// returns those it forgot. One that another session owns by now (a late
// callback of a session that lost it) is left alone.
func (o *ownership) drop(sid int, parts []int32) []int32 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.dropLocked(sid, parts)
}

func (o *ownership) dropLocked(sid int, parts []int32) (dropped []int32) {
	for _, part := range parts {
		if ow, ok := o.owned[part]; !ok || ow.session != sid {
			continue
		}
		dropped = append(dropped, part)
		delete(o.owned, part)
		delete(o.assignedAt, part)
		delete(o.lag, part)
		delete(o.lastTick, part)
		delete(o.restoring, part)
		delete(o.restoreTotal, part)
		delete(o.behind, part)
	}
	return dropped
}

// toRestore lists session sid's partitions not yet restored, and those in
// also not yet verified (with the subset of them in also).
func (o *ownership) toRestore(sid int, also map[int32]bool) (parts, verifying []int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for part, ow := range o.owned {
		if ow.session != sid {
			continue
		}
		if ow.phase == unrestored || (also[part] && ow.phase != verified) {
			parts = append(parts, part)
			if also[part] {
				verifying = append(verifying, part)
			}
		}
	}
	return parts, verifying
}

// advance moves parts still owned to restored, or to verified for those in
// also. Those that were unrestored must then catch up with their input up to
// ends (each input topic's end offset per partition, taken before they
// became readable).
func (o *ownership) advance(parts []int32, also map[int32]bool, ends map[int32]map[string]int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, part := range parts {
		ow, ok := o.owned[part]
		if !ok {
			continue
		}
		if ow.phase == unrestored {
			o.behind[part] = &catchUp{ends: ends[part]}
		}
		if also[part] {
			ow.phase = verified
		} else {
			ow.phase = restored
		}
		o.owned[part] = ow
	}
}

// quiet lists session sid's partitions restored but not yet verified whose
// assignment is older than after (see assignedAt).
func (o *ownership) quiet(sid int, now time.Time, after time.Duration) map[int32]bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out map[int32]bool
	for part, ow := range o.owned {
		if ow.phase == restored && ow.session == sid && now.Sub(o.assignedAt[part]) > after {
			if out == nil {
				out = map[int32]bool{}
			}
			out[part] = true
		}
	}
	return out
}

// status reports whether part is owned and readable.
func (o *ownership) status(part int32) PartitionStatus {
	o.mu.Lock()
	defer o.mu.Unlock()
	ow, ok := o.owned[part]
	return PartitionStatus{Owned: ok, Restored: ow.phase >= restored}
}

// catchingUp returns what part must still apply before it is caught up with
// its input, or nil once it is (or when it is not owned and restored).
func (o *ownership) catchingUp(part int32) *catchUp {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.behind[part]
}

// behindSnapshot returns session sid's partitions not yet caught up.
func (o *ownership) behindSnapshot(sid int) map[int32]*catchUp {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[int32]*catchUp, len(o.behind))
	for part, c := range o.behind {
		if o.owned[part].session == sid {
			out[part] = c
		}
	}
	return out
}

// caughtUp records that part has applied what c asked for, unless the
// partition was dropped or assigned again since (c is no longer its own).
func (o *ownership) caughtUp(part int32, c *catchUp) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.behind[part] == c {
		delete(o.behind, part)
	}
}

// ready reports whether every session of the instance joined the group
// and every owned partition is readable, with the reason when not.
func (o *ownership) ready() (bool, string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.joined) < o.sessions {
		return false, "waiting for a partition assignment from the consumer group"
	}
	var pending []int32
	for part, ow := range o.owned {
		if ow.phase == unrestored {
			pending = append(pending, part)
		}
	}
	if len(pending) == 0 {
		return true, ""
	}
	sort.Slice(pending, func(i, j int) bool { return pending[i] < pending[j] })
	descs := make([]string, len(pending))
	for i, part := range pending {
		descs[i] = fmt.Sprint(part)
		if total := o.restoreTotal[part]; total > 0 {
			descs[i] += fmt.Sprintf(" (%d %%)", 100*(total-o.restoring[part])/total)
		}
	}
	return false, "restoring the state of partition " + strings.Join(descs, ", ")
}

// restoreProgress records how many changelog records part has left of
// total; left 0 ends its restore.
func (o *ownership) restoreProgress(part int32, left, total int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.owned[part]; !ok {
		return
	}
	if left <= 0 {
		delete(o.restoring, part)
		delete(o.restoreTotal, part)
		return
	}
	o.restoring[part], o.restoreTotal[part] = left, total
}

// setLag records the consumer lag of partitions just processed.
func (o *ownership) setLag(lag map[int32]int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for part, l := range lag {
		if _, ok := o.owned[part]; ok {
			o.lag[part] = l
		}
	}
}

// tickCandidates lists session sid's restored partitions not ticked
// within every.
func (o *ownership) tickCandidates(sid int, now time.Time, every time.Duration) []int32 {
	o.mu.Lock()
	defer o.mu.Unlock()
	var parts []int32
	for part, ow := range o.owned {
		if ow.phase != unrestored && ow.session == sid && now.Sub(o.lastTick[part]) >= every {
			parts = append(parts, part)
		}
	}
	return parts
}

func (o *ownership) ticked(part int32, now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lastTick[part] = now
}

func (o *ownership) lagSnapshot() map[int32]int64 {
	return o.snapshot(func() map[int32]int64 { return o.lag })
}

// counts returns how many partitions this instance owns whose state is
// being restored (not yet processed), and how many it is processing.
func (o *ownership) counts() (restoring, serving int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, ow := range o.owned {
		if ow.phase == verified {
			serving++
		} else {
			restoring++
		}
	}
	return restoring, serving
}

// restoringSnapshot returns, for every owned partition, the changelog
// records left to replay (0 once restored, so the series exists while the
// partition is owned).
func (o *ownership) restoringSnapshot() map[int32]int64 {
	out := o.snapshot(func() map[int32]int64 { return o.restoring })
	o.mu.Lock()
	defer o.mu.Unlock()
	for part := range o.owned {
		if _, ok := out[part]; !ok {
			out[part] = 0
		}
	}
	return out
}

func (o *ownership) snapshot(m func() map[int32]int64) map[int32]int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[int32]int64, len(m()))
	for k, v := range m() {
		out[k] = v
	}
	return out
}

// PartitionStatus says whether this instance owns a partition and whether
// its state is restored (safe to read).
type PartitionStatus struct {
	Owned, Restored bool
}
