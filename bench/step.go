package bench

import (
	"context"
	"fmt"
	"time"
)

// step runs one open-loop step at rate, judges it, and drains it. The
// transactions are b.mix's (the service's mix by default); b.name, if
// set, leads the step's progress lines.
func (b *bencher) step(ctx context.Context, label string, rate int) (Step, error) {
	d := b.cfg.StepDuration
	batch := min(b.cfg.BatchSize, rate)
	nReq := requestsFor(rate, batch, d)
	p := b.newPhase(label, nReq*batch, batch, rate, time.Duration(b.now())+50*time.Millisecond, true, true)
	users := make([]string, 16)
	for i := range users {
		users[i] = fmt.Sprintf("bench-user-%02d", i+1)
	}
	mix := b.mix
	if mix == nil {
		mix = (*workload).mixed
	}
	p.gen = func(dst []scanTx, req int, at time.Time) []scanTx {
		rng := b.work.rng(p.id, req)
		user := users[req%len(users)]
		for k := range batch {
			dst = mix(b.work, dst, rng, p.id, req*batch+k, at, user)
		}
		return dst
	}
	who := label
	if b.name != "" {
		who = b.name + " " + label
	}
	samples := b.openLoop(ctx, p, nReq, d, who)
	v := judge(rate, d, samples)
	drainFor := max(2*time.Minute, 4*d)
	drained := b.drain(ctx, p, drainFor, who)
	st := Step{
		Name: label, Rate: rate, Seconds: d.Seconds(), Offered: int64(p.expected),
		Accepted: p.acceptedTx.Load(), Rejected: p.rejectedTx.Load(), Failed: p.failedTx.Load(),
		Behind: p.behind.Load(), MaxLateMs: float64(p.maxLateNs.Load()) / 1e6,
		Seen: p.seenTx.Load(), AppliedTPS: v.Applied, EventsPerSec: v.Events, BacklogGrowth: v.Growth,
		Delivered: v.Delivery, Holds: v.Holds, Reason: v.Reason, FirstError: p.error(), Latency: p.latency(),
		DuplicateEvents: p.dupEv.Load(),
	}
	st.Missing = max(st.Accepted-st.Seen, 0)
	fmt.Fprintf(b.out, "[%6.1fs] %s at %d tx/s: applied %.0f tx/s, lag floor %+.0f tx/s, p50 %.1f ms p99 %.1f ms p99.9 %.1f ms: %s\n",
		time.Duration(b.now()).Seconds(), who, rate, v.Applied, v.Growth, st.Latency.P50, st.Latency.P99, st.Latency.P999, holdsWord(st))
	if err := ctx.Err(); err != nil {
		return st, err
	}
	if !drained {
		// What is still in the service would distort what follows.
		return st, fmt.Errorf("%s: %d accepted transactions not applied %s after the step", who, st.Missing, drainFor)
	}
	return st, nil
}

func holdsWord(s Step) string {
	if s.Holds {
		return "holds"
	}
	return "does not hold (" + s.Reason + ")"
}
