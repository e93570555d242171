package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// SuperviseConfig configures Supervise.
type SuperviseConfig struct {
	// DataDir is the broker's data dir (where its log, lock and state
	// files live). Required.
	DataDir string
	// Addr is where the broker must listen (port 0: any free port). A
	// running broker found on another address is an error.
	Addr string
	// Command is the broker process's command line, which must end up in
	// RunProcess with Supervised set on the same DataDir and Addr
	// (`invsync broker --supervised …`). Required.
	Command []string
	// Env is added to the broker process's environment (secrets are
	// passed this way, never on the command line).
	Env []string
	// StartTimeout bounds the wait for a new broker to listen (default
	// 60 s: a large log takes a while to load).
	StartTimeout time.Duration
	Logger       *slog.Logger
}

// Errors of Supervise.
var (
	// ErrOwned: another process supervises the broker of this data dir.
	ErrOwned = errors.New("another invsync serve is using this data dir's embedded broker")
	// ErrAddrMismatch: the running broker listens elsewhere than asked.
	ErrAddrMismatch = errors.New("the running embedded broker listens on another address")
)

// Process is a broker process supervised by this one. The supervisor holds
// the data dir's owner lock until Stop.
type Process struct {
	dir     string
	addr    string
	pid     int
	reused  bool
	owner   *fileLock
	exited  chan struct{} // closed once a broker this process started exits
	log     *slog.Logger
	stopped bool
}

// Supervise returns the broker process of cfg.DataDir: the one already
// running there (left behind by a supervisor that crashed), or a new one it
// starts in a session of its own, so that signals meant for the supervisor
// (Ctrl-C, kill -9) do not reach it. It returns once the broker listens.
func Supervise(ctx context.Context, cfg SuperviseConfig) (*Process, error) {
	if cfg.DataDir == "" || len(cfg.Command) == 0 {
		return nil, errors.New("supervising the embedded broker: data dir and command are required")
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = time.Minute
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating embedded broker data dir: %w", err)
	}
	owner, err := lockOwner(ctx, filepath.Join(cfg.DataDir, ownerLockFile))
	if err != nil {
		return nil, err
	}
	p := &Process{dir: cfg.DataDir, owner: owner, log: log}
	if err := p.attachOrStart(ctx, cfg); err != nil {
		owner.release()
		return nil, err
	}
	return p, nil
}

// lockOwner takes the owner lock, retrying briefly: a broker checking
// whether it is still supervised holds it shared for an instant.
func lockOwner(ctx context.Context, path string) (*fileLock, error) {
	deadline := time.Now().Add(3 * time.Second)
	for {
		l, err := tryLock(path, false)
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, errLocked) {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w (%s); give each invsync serve its own --data-dir", ErrOwned, filepath.Dir(path))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *Process) attachOrStart(ctx context.Context, cfg SuperviseConfig) error {
	running, err := held(filepath.Join(cfg.DataDir, brokerLockFile))
	if err != nil {
		return err
	}
	if running {
		return p.attach(ctx, cfg)
	}
	return p.start(ctx, cfg)
}

// attach adopts the broker already running on the data dir.
func (p *Process) attach(ctx context.Context, cfg SuperviseConfig) error {
	st, err := p.awaitState(ctx, time.Now().Add(cfg.StartTimeout), 0, nil)
	if err != nil {
		return fmt.Errorf("an embedded broker holds %s but %w", cfg.DataDir, err)
	}
	if !sameAddr(cfg.Addr, st.Addr) {
		return fmt.Errorf("%w: it listens on %s (pid %d), not on --embedded-kafka-addr %s; use that address, or stop it with: invsync broker stop --data-dir %s",
			ErrAddrMismatch, st.Addr, st.PID, cfg.Addr, filepath.Dir(cfg.DataDir))
	}
	p.addr, p.pid, p.reused = st.Addr, st.PID, true
	p.log.Info("reusing the embedded Kafka broker left running", "addr", st.Addr, "pid", st.PID, "since", st.StartedAt)
	return nil
}

// start starts a new broker process and waits until it listens.
func (p *Process) start(ctx context.Context, cfg SuperviseConfig) error {
	// A port in use is the most common failure; say so plainly rather
	// than through the child's log.
	if _, port, _ := net.SplitHostPort(cfg.Addr); port != "0" {
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			return addrError(cfg.Addr, err)
		}
		_ = ln.Close()
	}
	logPath := filepath.Join(cfg.DataDir, LogFile)
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening the embedded broker's log: %w", err)
	}
	defer logf.Close() // the child has its own descriptor
	info, _ := logf.Stat()
	logStart := info.Size()
	cmd := exec.Command(cfg.Command[0], cfg.Command[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), cfg.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the embedded broker process: %w", err)
	}
	p.pid = cmd.Process.Pid
	p.exited = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	st, err := p.awaitState(ctx, time.Now().Add(cfg.StartTimeout), p.pid, p.exited)
	if err != nil {
		_ = cmd.Process.Kill()
		<-p.exited
		if tail := logTail(logPath, logStart); tail != "" {
			return fmt.Errorf("the embedded broker did not start: %s (log: %s)", tail, logPath)
		}
		return fmt.Errorf("the embedded broker did not start: %w (log: %s)", err, logPath)
	}
	p.addr = st.Addr
	p.log.Info("embedded Kafka broker started in its own process", "addr", st.Addr, "pid", p.pid, "log", logPath)
	return nil
}

// awaitState waits until the state file names a listening broker (with pid
// wantPID when non-zero), the broker exits, ctx ends or deadline passes.
func (p *Process) awaitState(ctx context.Context, deadline time.Time, wantPID int, exited <-chan struct{}) (processState, error) {
	for {
		st, err := readState(p.dir)
		if err == nil && (wantPID == 0 || st.PID == wantPID) {
			conn, derr := net.DialTimeout("tcp", st.Addr, time.Second)
			if derr == nil {
				_ = conn.Close()
				return st, nil
			}
		}
		if time.Now().After(deadline) {
			return processState{}, errors.New("it did not start listening in time")
		}
		select {
		case <-ctx.Done():
			return processState{}, ctx.Err()
		case <-exited:
			return processState{}, errors.New("it exited")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Addr is where the broker listens.
func (p *Process) Addr() string { return p.addr }

// PID is the broker process's id.
func (p *Process) PID() int { return p.pid }

// Reused reports whether the broker was found running rather than started.
func (p *Process) Reused() bool { return p.reused }

// Exited is closed when a broker this process started exits; nil for a
// reused one (whose exit shows as Kafka becoming unreachable).
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Stop stops the broker (SIGTERM, so it flushes its log; SIGKILL after
// timeout) and releases the owner lock. Safe to call twice.
func (p *Process) Stop(timeout time.Duration) error {
	if p.stopped {
		return nil
	}
	p.stopped = true
	defer p.owner.release()
	return stopPID(p.dir, p.pid, timeout)
}

// Stop stops the broker process running on dir, if any: for `invsync broker
// stop`. It reports whether one was running.
func Stop(dir string, timeout time.Duration) (bool, error) {
	running, err := held(filepath.Join(dir, brokerLockFile))
	if err != nil || !running {
		return false, err
	}
	st, err := readState(dir)
	if err != nil {
		return true, fmt.Errorf("a broker holds %s but its state is unreadable: %w", dir, err)
	}
	return true, stopPID(dir, st.PID, timeout)
}

func stopPID(dir string, pid int, timeout time.Duration) error {
	if pid <= 0 {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stopping the embedded broker (pid %d): %w", pid, err)
	}
	lock := filepath.Join(dir, brokerLockFile)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if running, err := held(lock); err == nil && !running {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	return fmt.Errorf("the embedded broker (pid %d) did not stop within %s; killed", pid, timeout)
}

// sameAddr compares the configured address with the broker's: port 0
// accepts any port.
func sameAddr(want, got string) bool {
	wh, wp, err1 := net.SplitHostPort(want)
	gh, gp, err2 := net.SplitHostPort(got)
	if err1 != nil || err2 != nil {
		return want == got
	}
	if wp != "0" && wp != gp {
		return false
	}
	return wh == gh || (isLoopback(wh) && isLoopback(gh)) || wh == "" || wh == "0.0.0.0" || wh == "::"
}

// logTail returns the last lines the broker wrote to its log since offset.
func logTail(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) <= offset {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(bytes.ToValidUTF8(b[offset:], nil))), "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return strings.Join(lines, " | ")
}
