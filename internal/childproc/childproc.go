// Package childproc watches a child process that can be signalled,
// waited for and started again with the same command line: the test
// toolkit's processes and the simulator's supervised serve and mirror
// are both one.
package childproc

import (
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Process is one child process at a time, started with Start. Its
// methods are safe for concurrent use; the zero value has no process.
type Process struct {
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts cmd and reaps it when it ends; no earlier process may
// still be running. The error is cmd.Start's, unwrapped.
func (p *Process) Start(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	return nil
}

// PID is the running process's id, 0 when it is not running.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Signal sends sig and waits up to wait for the process to end; it
// reports whether it ended (true when none runs).
func (p *Process) Signal(sig syscall.Signal, wait time.Duration) bool {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return true
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		p.mu.Lock()
		if p.cmd == cmd {
			p.cmd = nil
		}
		p.mu.Unlock()
		return true
	case <-time.After(wait):
		return false
	}
}

// Exited is closed when the running process ends (nil if none was
// started).
func (p *Process) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}
