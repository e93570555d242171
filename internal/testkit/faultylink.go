package testkit

import (
	"maps"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// FaultyLink is a loopback TCP proxy between a client and a server that
// drops and delays connections, as WiFi at the edge of a dead zone does.
// Each connection draws one fate from the odds:
//
//   - cut: closed before anything is forwarded (the request never arrives);
//   - lose: the request is forwarded and the connection closed when the
//     answer starts (the server did the work; the client never hears);
//   - stall: the answer is held back for StallFor, past the client's
//     timeout;
//   - slow: every piece of the answer comes SlowBy late (in time);
//   - pass.
//
// With keep-alives off, one connection is one request. It is closed at the
// end of the test.
type FaultyLink struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	rng   *rand.Rand
	odds  LinkOdds
	fates map[string]int

	awaiting atomic.Int64 // requests forwarded whose answer has not been delivered
	wg       sync.WaitGroup
}

// LinkOdds are the chances of each fate of a FaultyLink's connections; the
// rest pass.
type LinkOdds struct {
	Cut, Lose, Stall, Slow float64
	StallFor, SlowBy       time.Duration
}

// NewFaultyLink starts a FaultyLink to target (host:port) whose
// connections draw their fates from rng, so a seed repeats them.
func NewFaultyLink(t testing.TB, target string, rng *rand.Rand, odds LinkOdds) *FaultyLink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &FaultyLink{ln: ln, target: target, rng: rng, odds: odds, fates: map[string]int{}}
	l.wg.Add(1)
	go l.accept()
	t.Cleanup(func() { ln.Close(); l.wg.Wait() })
	return l
}

// URL is the link's http:// address.
func (l *FaultyLink) URL() string { return "http://" + l.ln.Addr().String() }

// Counts returns how many connections met each fate.
func (l *FaultyLink) Counts() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.fates)
}

// Faults returns how many connections met a fate other than pass.
func (l *FaultyLink) Faults() int {
	n := 0
	for fate, c := range l.Counts() {
		if fate != "pass" {
			n += c
		}
	}
	return n
}

// Awaiting returns how many requests went through whose answer has not
// been delivered yet.
func (l *FaultyLink) Awaiting() int64 { return l.awaiting.Load() }

func (l *FaultyLink) accept() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		o, r := l.odds, l.rng.Float64()
		fate := "pass"
		switch {
		case r < o.Cut:
			fate = "cut"
		case r < o.Cut+o.Lose:
			fate = "lose"
		case r < o.Cut+o.Lose+o.Stall:
			fate = "stall"
		case r < o.Cut+o.Lose+o.Stall+o.Slow:
			fate = "slow"
		}
		l.fates[fate]++
		l.mu.Unlock()
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.carry(c, fate, o)
		}()
	}
}

// carry forwards one connection according to its fate.
func (l *FaultyLink) carry(c net.Conn, fate string, o LinkOdds) {
	defer c.Close()
	if fate == "cut" {
		return
	}
	s, err := net.Dial("tcp", l.target)
	if err != nil {
		return
	}
	defer s.Close()
	var pending atomic.Bool // a request went up and its answer has not come down
	defer func() {
		if pending.Swap(false) {
			l.awaiting.Add(-1)
		}
	}()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if !pending.Swap(true) {
					l.awaiting.Add(1)
				}
				if _, werr := s.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				s.(*net.TCPConn).CloseWrite()
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for first := true; ; first = false {
		n, err := s.Read(buf)
		if n > 0 {
			switch {
			case fate == "lose":
				return
			case fate == "stall" && first:
				time.Sleep(o.StallFor)
			case fate == "slow":
				time.Sleep(o.SlowBy)
			}
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
			if pending.Swap(false) {
				l.awaiting.Add(-1)
			}
		}
		if err != nil {
			return
		}
	}
}
