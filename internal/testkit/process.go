package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/invsync/invsync/internal/childproc"
)

var builds sync.Map // package path → *build

type build struct {
	once sync.Once
	path string
	err  error
}

// Build compiles the module's command pkg (e.g. "./cmd/invsync") once per
// test binary and returns the executable's path. The executable lives in a
// temporary directory of its own, left for the OS to clean (tests of the
// same binary share it).
func Build(t testing.TB, pkg string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(pkg, &build{})
	b := v.(*build)
	b.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			b.err = err
			return
		}
		dir, err := os.MkdirTemp("", "invsync-test-bin")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, filepath.Base(pkg))
		cmd := exec.Command("go", "build", "-o", b.path, pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// moduleRoot is the directory of the go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Process is a child process a test can start, kill -9, stop and restart
// with the same command line. Its output is appended to Log.
type Process struct {
	Bin  string
	Args []string
	// Env is added to this process's environment.
	Env []string
	// Log is the file the output is appended to.
	Log string

	proc childproc.Process
}

// Start starts the process; it must not be running.
func (p *Process) Start(t testing.TB) {
	t.Helper()
	if err := p.StartErr(); err != nil {
		t.Fatal(err)
	}
}

// StartErr is Start for goroutines other than the test's.
func (p *Process) StartErr() error {
	f, err := os.OpenFile(p.Log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command(p.Bin, p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := p.proc.Start(cmd); err != nil {
		return fmt.Errorf("starting %s: %w", p.Bin, err)
	}
	return nil
}

// PID is the running process's id, 0 when it is not running.
func (p *Process) PID() int { return p.proc.PID() }

// Signal sends sig and waits up to wait for the process to end; it
// reports whether it ended.
func (p *Process) Signal(sig syscall.Signal, wait time.Duration) bool {
	return p.proc.Signal(sig, wait)
}

// Kill kill -9s the process and waits for it.
func (p *Process) Kill() { p.Signal(syscall.SIGKILL, time.Hour) }

// Stop ends the process cleanly (SIGTERM), killing it after 30 s.
func (p *Process) Stop() {
	if !p.Signal(syscall.SIGTERM, 30*time.Second) {
		p.Kill()
	}
}

// Exited is closed when the running process ends (nil if none runs).
func (p *Process) Exited() <-chan struct{} { return p.proc.Exited() }

// Tail is the last n lines of the process's log.
func (p *Process) Tail(n int) string { return TailFile(p.Log, n) }

// Alive reports whether pid runs: not gone, and not a zombie (a process
// that is not this one's child may never be reaped by its parent).
func Alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses: "pid (comm) S ...".
	if i := strings.LastIndexByte(string(data), ')'); i >= 0 && i+2 < len(data) {
		return data[i+2] != 'Z' && data[i+2] != 'X'
	}
	return true
}
