package pipeline

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/internal/testkit"
)

// TestSeveralSessionsPerInstance runs instances of three and two sessions
// in one group: each session is a member of its own, the partitions are
// shared out among all of them, and a rebalance onto the second instance,
// the first one's stop and the second's restart on its state lose nothing
// and apply nothing twice.
func TestSeveralSessionsPerInstance(t *testing.T) {
	r := newRig(t)
	sessions := func(n int) func(*ProcessingConfig) { return func(c *ProcessingConfig) { c.Sessions = n } }
	a := r.startWith("a", "", sessions(3), nil)
	txs := r.produce("sessions", 0, 60)
	r.assertExactlyOnce(txs, a)
	r.waitGroup(3)
	if ok, why := a.proc.Ready(); !ok {
		t.Fatalf("a not ready with its partitions applied: %s", why)
	}

	b := r.startWith("b", "", sessions(2), nil)
	r.waitGroup(5)
	txs = append(txs, r.produce("sessions", 60, 120)...)
	r.assertExactlyOnce(txs, a, b)

	a.stop()
	r.waitGroup(2)
	txs = append(txs, r.produce("sessions", 120, 180)...)
	r.assertExactlyOnce(txs, b)

	b.stop()
	b = r.startWith("b", b.dir, sessions(2), nil)
	r.waitGroup(2)
	txs = append(txs, r.produce("sessions", 180, 240)...)
	r.assertExactlyOnce(txs, b)
	for p := range r.partitions {
		if st := b.proc.Partition(p); !st.Owned || !st.Restored {
			t.Errorf("partition %d after b's restart: %+v, want owned and restored", p, st)
		}
	}
}

// TestMembersJoiningAtOnce: two instances join a busy group of three at
// the same moment, which rebalances twice in quick succession. An instance
// that had not ended a transaction between the two (nothing to apply) got
// no revoke callback for the second, kept claiming the partitions that
// moved, and answered reads of them from state their new owners had moved
// past. Every partition must end with exactly one owner, and the
// positions read through the owners must hold every transaction.
func TestMembersJoiningAtOnce(t *testing.T) {
	r := newRig(t)
	a, b, c := r.start("a", ""), r.start("b", ""), r.start("c", "")
	txs := r.produce("join", 0, 60)
	r.assertExactlyOnce(txs, a, b, c)
	r.waitGroup(3)
	d, e := r.start("d", ""), r.start("e", "")
	r.waitGroup(5)
	txs = append(txs, r.produce("join", 60, 120)...)
	members := []*member{a, b, c, d, e}
	r.assertExactlyOnce(txs, members...)
	for p := range r.partitions {
		var owners []string
		for _, m := range members {
			if m.proc.Partition(p).Owned {
				owners = append(owners, m.name)
			}
		}
		if len(owners) != 1 {
			t.Errorf("partition %d is claimed by %v, want exactly one member", p, owners)
		}
	}
}

// waitGroup waits until the group has members members and every partition
// of the transactions topic is assigned to exactly one of them.
func (r *rig) waitGroup(members int) {
	r.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.brokers...))
	if err != nil {
		r.t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	testkit.Eventually(r.t, 60*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		groups, err := adm.DescribeGroups(ctx, r.group)
		if err != nil {
			return err
		}
		g := groups[r.group]
		if g.State != "Stable" || len(g.Members) != members {
			return testkit.Not("group %s with %d members, want Stable with %d", g.State, len(g.Members), members)
		}
		var assigned []int32
		for _, m := range g.Members {
			if c, ok := m.Assigned.AsConsumer(); ok {
				for _, tp := range c.Topics {
					if tp.Topic == r.topics.Transactions {
						assigned = append(assigned, tp.Partitions...)
					}
				}
			}
		}
		slices.Sort(assigned)
		want := make([]int32, r.partitions)
		for i := range want {
			want[i] = int32(i)
		}
		if !slices.Equal(assigned, want) {
			return testkit.Not("partitions assigned %v, want each of %v once", assigned, want)
		}
		return nil
	})
}

// TestOwnershipIsPerSession: a session's end, and a late callback of a
// session that lost a partition, leave the other sessions' partitions
// alone, and the instance is ready only once every session has joined.
func TestOwnershipIsPerSession(t *testing.T) {
	o := newOwnership(2)
	now := time.Now()
	o.assign(0, []int32{0, 1}, now)
	if ok, _ := o.ready(); ok {
		t.Fatal("ready with one of two sessions joined")
	}
	o.assign(1, []int32{2, 3}, now)
	o.advance([]int32{0, 1}, nil, nil)
	o.advance([]int32{2, 3}, nil, nil)
	if ok, why := o.ready(); !ok {
		t.Fatalf("not ready with both sessions joined and every partition restored: %s", why)
	}
	if got, _ := o.toRestore(0, map[int32]bool{0: true, 2: true}); !slices.Equal(got, []int32{0}) {
		t.Errorf("session 0 verifies %v, want [0] (partition 2 is session 1's)", got)
	}

	// Session 0 lost partition 1 and session 1 got it (with its own two:
	// an assignment is the session's whole set) before the lost callback
	// ran.
	o.assign(1, []int32{1, 2, 3}, now)
	o.advance([]int32{2, 3}, nil, nil)
	if dropped := o.drop(0, []int32{1}); len(dropped) != 0 {
		t.Errorf("the late callback dropped %v, want nothing (its snapshot job is the new owner's)", dropped)
	}
	if st := o.status(1); !st.Owned {
		t.Error("partition 1 dropped by the late callback of the session that lost it")
	}
	if dropped := o.drop(1, []int32{1, 0}); !slices.Equal(dropped, []int32{1}) {
		t.Errorf("session 1 revoked [1 0] and dropped %v, want [1] (0 is session 0's)", dropped)
	}
	o.assign(1, []int32{1, 2, 3}, now) // 1 assigned again, not restored yet
	o.advance([]int32{2, 3}, nil, nil)

	dropped := o.reset(0)
	if !slices.Equal(dropped, []int32{0}) {
		t.Errorf("reset of session 0 dropped %v, want [0]", dropped)
	}
	for _, p := range []int32{1, 2, 3} {
		if st := o.status(p); !st.Owned {
			t.Errorf("partition %d of session 1 dropped by session 0's reset", p)
		}
	}
	if ok, _ := o.ready(); ok {
		t.Error("ready after session 0 ended, before it joined again")
	}
	if c := o.tickCandidates(1, now.Add(time.Hour), time.Second); len(c) != 2 {
		t.Errorf("session 1's tick candidates %v, want its two restored partitions (1 is not restored since its new assignment)", c)
	}
}

// TestAssignmentReplacesASessionsPartitions: the group is balanced
// eagerly, so an assignment is a session's whole set; partitions it
// leaves out were revoked even when no revoke callback said so (the
// client's transactional session reports one revocation between two ends
// of a transaction), and are no longer owned, read or snapshotted.
func TestAssignmentReplacesASessionsPartitions(t *testing.T) {
	o := newOwnership(2)
	now := time.Now()
	o.assign(0, []int32{0, 1, 2}, now)
	o.assign(1, []int32{3}, now)
	o.advance([]int32{0, 1, 2, 3}, nil, nil)
	if stale := o.assign(0, []int32{2, 1}, now); !slices.Equal(stale, []int32{0}) {
		t.Errorf("reassigning [2 1] to session 0 reported %v stale, want [0]", stale)
	}
	if st := o.status(0); st.Owned {
		t.Errorf("partition 0 still owned after an assignment without it: %+v", st)
	}
	for _, p := range []int32{1, 2} {
		if st := o.status(p); !st.Owned || st.Restored {
			t.Errorf("partition %d after its reassignment: %+v, want owned and to be restored again", p, st)
		}
	}
	if st := o.status(3); !st.Owned || !st.Restored {
		t.Errorf("session 1's partition 3 after session 0's assignment: %+v, want untouched", st)
	}
	if stale := o.assign(1, nil, now); !slices.Equal(stale, []int32{3}) {
		t.Errorf("an empty assignment of session 1 reported %v stale, want [3]", stale)
	}
}
