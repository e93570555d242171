package scanner

import (
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faultProxy is a loopback TCP proxy in front of a server that, per
// connection, drops it before forwarding anything, forwards the request but
// drops the connection before the answer (the server did the work), holds
// the answer back past the client's timeout, or passes it. Used with
// keep-alives off, one connection is one request.
type faultProxy struct {
	ln     net.Listener
	target string

	mu  sync.Mutex
	rng *rand.Rand
	// chance of each fault, the rest pass.
	dropBefore, dropAfter, delay float64
	delayBy                      time.Duration
	faults                       atomic.Int64
	wg                           sync.WaitGroup
}

func newFaultProxy(t *testing.T, target string, seed uint64) *faultProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target, rng: rand.New(rand.NewPCG(seed, 1))}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *faultProxy) addr() string { return p.ln.Addr().String() }

func (p *faultProxy) set(dropBefore, dropAfter, delay float64, delayBy time.Duration) {
	p.mu.Lock()
	p.dropBefore, p.dropAfter, p.delay, p.delayBy = dropBefore, dropAfter, delay, delayBy
	p.mu.Unlock()
}

func (p *faultProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		r := p.rng.Float64()
		mode := "pass"
		switch {
		case r < p.dropBefore:
			mode = "drop-before"
		case r < p.dropBefore+p.dropAfter:
			mode = "drop-after"
		case r < p.dropBefore+p.dropAfter+p.delay:
			mode = "delay"
		}
		delayBy := p.delayBy
		p.mu.Unlock()
		if mode != "pass" {
			p.faults.Add(1)
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c, mode, delayBy)
		}()
	}
}

func (p *faultProxy) handle(c net.Conn, mode string, delayBy time.Duration) {
	defer c.Close()
	if mode == "drop-before" {
		return
	}
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer s.Close()
	go func() {
		io.Copy(s, c)
		s.(*net.TCPConn).CloseWrite()
	}()
	// Wait for the server's first answer byte: by then it has done the
	// work the request asked for.
	first := make([]byte, 1)
	if _, err := io.ReadFull(s, first); err != nil {
		return
	}
	switch mode {
	case "drop-after":
		return
	case "delay":
		time.Sleep(delayBy)
	}
	if _, err := c.Write(first); err != nil {
		return
	}
	io.Copy(c, s)
}
