package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	wire "github.com/invsync/invsync/api"
)

// errDeadZone is what a device's request meets in a dead zone: the
// connection cannot be made, so the device counts itself offline.
var errDeadZone = errors.New("dial tcp: connect: network is unreachable (simulated dead zone)")

// errAnswerLost and errTimedOut are the network faults the devices see:
// the answer of a request that did reach the server is lost, or a request
// seems to time out (its copy arrives later, after the device's resend).
var (
	errAnswerLost = errors.New("read tcp: connection reset by peer (simulated: the answer was lost)")
	errTimedOut   = errors.New("context deadline exceeded (simulated: the request is still in the network)")
)

// network is the radio between the devices and the server: dead zones,
// lost answers, stale copies, and the tap on every answered upload that
// feeds the accounting and the last-write-wins system.
type network struct {
	base  http.RoundTripper
	clock *clock
	rates Rates
	speed float64
	rec   *recorder

	mu  sync.Mutex
	rng *rand.Rand

	ctx   context.Context // ends stale deliveries still waiting
	stale sync.WaitGroup
}

func newNetwork(ctx context.Context, cfg Config, clk *clock, rec *recorder) *network {
	return &network{base: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
		clock: clk, rates: cfg.Rates, speed: cfg.Speed, rec: rec, ctx: ctx,
		rng: rand.New(rand.NewPCG(cfg.Seed, 0x5eed_0003))}
}

// client is the HTTP client of one device.
func (n *network) client(sc *Scanner) *http.Client {
	return &http.Client{Transport: &deviceLink{n: n, sc: sc}}
}

// deviceLink is one device's connection.
type deviceLink struct {
	n  *network
	sc *Scanner
}

func (l *deviceLink) RoundTrip(req *http.Request) (*http.Response, error) {
	n := l.n
	if req.Body != nil {
		defer req.Body.Close()
	}
	if !n.rec.dayOver() && l.sc.offline(n.clock.now()) {
		return nil, errDeadZone
	}
	if req.Method != http.MethodPost || !strings.HasSuffix(req.URL.Path, "/v1/transactions") {
		return n.base.RoundTrip(req)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	dice := n.rng.Float64()
	delay := time.Duration(float64(time.Minute) * (1 + 29*n.rng.Float64()))
	n.mu.Unlock()
	if n.rec.dayOver() {
		dice = 1 // the end-of-day drain is fault-free: everything must arrive
	}
	switch {
	case dice < n.rates.StaleCopies:
		// The request is stuck in the network: the device gives up on it
		// and resends; this copy arrives 1 to 30 simulated minutes later.
		n.stale.Add(1)
		go n.deliverLate(req, body, time.Duration(float64(delay)/n.speed))
		n.rec.count(func(c *netCounts) { c.staleCopies++ })
		return nil, errTimedOut
	case dice < n.rates.StaleCopies+n.rates.LostAnswers:
		resp, err := n.send(req.Context(), req, body)
		if err == nil {
			resp.Body.Close()
			n.rec.count(func(c *netCounts) { c.lostAnswers++ })
			return nil, errAnswerLost
		}
		return nil, err
	}
	return n.send(req.Context(), req, body)
}

// send forwards one upload and records what it carried and what the
// server answered.
func (n *network) send(ctx context.Context, req *http.Request, body []byte) (*http.Response, error) {
	out := req.Clone(ctx)
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	resp, err := n.base.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK {
		n.rec.answered(body, answer)
	}
	resp.Body = io.NopCloser(bytes.NewReader(answer))
	return resp, nil
}

// deliverLate sends a stuck request's copy after wait (real time).
func (n *network) deliverLate(req *http.Request, body []byte, wait time.Duration) {
	defer n.stale.Done()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-n.ctx.Done():
		return
	case <-t.C:
	}
	ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
	defer cancel()
	if resp, err := n.send(ctx, req, body); err == nil {
		resp.Body.Close()
	}
}

// decodeUpload pairs an upload's transactions with their answers.
func decodeUpload(body, answer []byte) ([]wire.Transaction, []string, []string, bool) {
	var b wire.UploadRequest
	var a wire.UploadResponse
	if json.Unmarshal(body, &b) != nil || json.Unmarshal(answer, &a) != nil || len(a.Results) != len(b.Transactions) {
		return nil, nil, nil, false
	}
	status := make([]string, len(a.Results))
	outcome := make([]string, len(a.Results))
	for i, r := range a.Results {
		status[i] = string(r.Status)
		if r.Outcome != nil {
			outcome[i] = string(r.Outcome.Status)
		}
	}
	return b.Transactions, status, outcome, true
}
