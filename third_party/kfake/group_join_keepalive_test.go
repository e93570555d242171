package kfake

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A member waiting for its JoinGroup answer cannot heartbeat, so, as in
// Kafka (a member awaiting join is kept alive), its session timer must not
// remove it while the rebalance is open: a rebalance held open by a member
// that heartbeats but does not rejoin would otherwise drop every member
// that did rejoin once its session timeout passed, and their joins would
// never be answered. The rebalance's own deadline decides.
func TestClassicMemberWaitingInJoinIsKeptAlive(t *testing.T) {
	t.Parallel()
	const (
		groupID          = "g-classic-join-keepalive"
		sessionTimeout   = 1000 // ms
		rebalanceTimeout = 4000 // ms
	)
	c := newCluster(t, NumBrokers(1), GroupMinSessionTimeout(500*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// One client per member: a JoinGroup waiting on a connection holds the
	// requests behind it.
	clA, clB, clC := newPlainClient(t, c), newPlainClient(t, c), newPlainClient(t, c)

	join := func(ctx context.Context, cl *kgo.Client, memberID string) (*kmsg.JoinGroupResponse, error) {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group = groupID
		req.MemberID = memberID
		req.SessionTimeoutMillis = sessionTimeout
		req.RebalanceTimeoutMillis = rebalanceTimeout
		req.ProtocolType = "consumer"
		proto := kmsg.NewJoinGroupRequestProtocol()
		proto.Name = "range"
		proto.Metadata = []byte{0, 0, 0, 0, 0, 0, 0, 0}
		req.Protocols = append(req.Protocols, proto)
		resp, err := req.RequestWith(ctx, cl)
		if err == nil && resp.ErrorCode == kerr.MemberIDRequired.Code {
			req.MemberID = resp.MemberID
			resp, err = req.RequestWith(ctx, cl)
		}
		if err == nil && resp.ErrorCode != 0 {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		return resp, err
	}
	sync := func(cl *kgo.Client, j *kmsg.JoinGroupResponse) {
		t.Helper()
		req := kmsg.NewPtrSyncGroupRequest()
		req.Group = groupID
		req.MemberID = j.MemberID
		req.Generation = j.Generation
		req.ProtocolType, req.Protocol = kmsg.StringPtr("consumer"), j.Protocol
		if j.LeaderID == j.MemberID {
			for _, m := range j.Members {
				a := kmsg.NewSyncGroupRequestGroupAssignment()
				a.MemberID = m.MemberID
				req.GroupAssignment = append(req.GroupAssignment, a)
			}
		}
		resp, err := req.RequestWith(ctx, cl)
		if err == nil && resp.ErrorCode != 0 {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if err != nil {
			t.Fatalf("sync of %s: %v", j.MemberID, err)
		}
	}

	// Generation 1: A alone. Generation 2: A and B, both synced.
	a1, err := join(ctx, clA, "")
	if err != nil {
		t.Fatalf("A joins: %v", err)
	}
	sync(clA, a1)
	bJoined := make(chan *kmsg.JoinGroupResponse, 1)
	go func() {
		b, err := join(ctx, clB, "")
		if err != nil {
			t.Errorf("B joins: %v", err)
		}
		bJoined <- b
	}()
	time.Sleep(100 * time.Millisecond) // B's join opens the rebalance
	a2, err := join(ctx, clA, a1.MemberID)
	if err != nil {
		t.Fatalf("A rejoins: %v", err)
	}
	b2 := <-bJoined
	if b2 == nil {
		t.FailNow()
	}
	sync(clA, a2)
	sync(clB, b2)

	// C's join opens a rebalance. B rejoins at once and waits; A only
	// heartbeats (REBALANCE_IN_PROGRESS), which holds the rebalance open
	// until its 4 s deadline, well past B's 1 s session timeout.
	stopA := make(chan struct{})
	defer close(stopA)
	go func() {
		for {
			select {
			case <-stopA:
				return
			case <-time.After(200 * time.Millisecond):
			}
			hb := kmsg.NewPtrHeartbeatRequest()
			hb.Group, hb.MemberID, hb.Generation = groupID, a2.MemberID, a2.Generation
			_, _ = hb.RequestWith(ctx, clA)
		}
	}()
	go func() { _, _ = join(ctx, clC, "") }()
	time.Sleep(100 * time.Millisecond)
	began := time.Now()
	bctx, bcancel := context.WithTimeout(ctx, 10*time.Second)
	defer bcancel()
	b3, err := join(bctx, clB, b2.MemberID)
	if err != nil {
		t.Fatalf("B's rejoin, waiting past its session timeout for the rebalance: %v after %s (dropped while waiting)", err, time.Since(began).Round(time.Millisecond))
	}
	if b3.Generation <= b2.Generation {
		t.Errorf("B's rejoin answered generation %d, want past %d", b3.Generation, b2.Generation)
	}
	in := false
	for _, m := range b3.Members {
		in = in || m.MemberID == b2.MemberID
	}
	if b3.LeaderID == b2.MemberID && !in {
		t.Errorf("B leads generation %d without being among its members %v", b3.Generation, b3.Members)
	}
}
