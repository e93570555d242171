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

// TestSeveralSessionsPerInstance runs an instance of three sessions: each
// session is a member of the group of its own, the partitions are shared
// out among them, and after a clean stop the instance restarted on its
// state loses nothing and applies nothing twice.
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

	a.stop()
	a = r.startWith("a", a.dir, sessions(3), nil)
	r.waitGroup(3)
	txs = append(txs, r.produce("sessions", 60, 120)...)
	r.assertExactlyOnce(txs, a)
	for p := range r.partitions {
		if st := a.proc.Partition(p); !st.Owned || !st.Restored {
			t.Errorf("partition %d after the restart: %+v, want owned and restored", p, st)
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

	// Session 0 lost partition 1 and session 1 got it before the lost
	// callback ran.
	o.assign(1, []int32{1}, now)
	if dropped := o.drop(0, []int32{1}); len(dropped) != 0 {
		t.Errorf("the late callback dropped %v, want nothing (its snapshot job is the new owner's)", dropped)
	}
	if st := o.status(1); !st.Owned {
		t.Error("partition 1 dropped by the late callback of the session that lost it")
	}
	if dropped := o.drop(1, []int32{1, 0}); !slices.Equal(dropped, []int32{1}) {
		t.Errorf("session 1 revoked [1 0] and dropped %v, want [1] (0 is session 0's)", dropped)
	}
	o.assign(1, []int32{1}, now) // assigned again, not restored yet

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
