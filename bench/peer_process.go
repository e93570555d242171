package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// peerJarName is the fat jar `mvn package` builds in bench/kstreams/target.
const peerJarName = "invsync-kstreams-peer.jar"

// Lines the peer prints on stdout (bench/kstreams Main).
const (
	peerStateLine   = "KSTREAMS-STATE "
	peerStateRun    = "RUNNING"
	peerStateError  = "ERROR"
	peerStateNotRun = "NOT_RUNNING"
)

// ErrPeerExited is returned when the peer process ends before it is asked to.
var ErrPeerExited = errors.New("kstreams peer exited")

// findPeerProject returns the peer's Maven project directory: dir when
// given, else bench/kstreams next to this file's source (a run from the
// repository), under the working directory, or its parent's.
func findPeerProject(dir string) (string, error) {
	var candidates []string
	if dir != "" {
		candidates = []string{dir}
	} else {
		if _, file, _, ok := runtime.Caller(0); ok {
			candidates = append(candidates, filepath.Join(filepath.Dir(file), "kstreams"))
		}
		candidates = append(candidates, filepath.Join("bench", "kstreams"), "kstreams")
	}
	for _, c := range candidates {
		if _, err := os.Stat(filepath.Join(c, "pom.xml")); err == nil {
			return filepath.Abs(c)
		}
	}
	return "", fmt.Errorf("finding the kstreams peer's Maven project: no pom.xml in %s (set PeerConfig.ProjectDir to bench/kstreams of the repository)", strings.Join(candidates, ", "))
}

// peerSources are the inputs of the jar, relative to the project: a change
// to any of them makes the jar stale. The Avro classes are generated from
// the repository's schemas.
func peerSources(project string) ([]string, error) {
	files := []string{
		filepath.Join(project, "pom.xml"),
		filepath.Join(project, "..", "..", "schemas", "transaction.avsc"),
		filepath.Join(project, "..", "..", "schemas", "inventory_event.avsc"),
	}
	err := filepath.WalkDir(filepath.Join(project, "src", "main"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, path)
		}
		return nil
	})
	return files, err
}

// peerJarStale reports why the jar must be (re)built, or "" when it is up
// to date: missing, or older than one of its sources.
func peerJarStale(project, jar string) (string, error) {
	ji, err := os.Stat(jar)
	if errors.Is(err, fs.ErrNotExist) {
		return "missing", nil
	}
	if err != nil {
		return "", fmt.Errorf("checking %s: %w", jar, err)
	}
	srcs, err := peerSources(project)
	if err != nil {
		return "", fmt.Errorf("listing the peer's sources: %w", err)
	}
	for _, s := range srcs {
		si, err := os.Stat(s)
		if err != nil {
			return "", fmt.Errorf("checking the peer's source %s: %w", s, err)
		}
		if si.ModTime().After(ji.ModTime()) {
			rel, _ := filepath.Rel(project, s)
			return rel + " is newer than the jar", nil
		}
	}
	return "", nil
}

// ensurePeerJar returns the peer's jar, building it with `mvn -q -B
// package` (which also runs the project's unit tests) when it is missing or
// stale.
func ensurePeerJar(ctx context.Context, cfg PeerConfig, out io.Writer) (string, error) {
	project, err := findPeerProject(cfg.ProjectDir)
	if err != nil {
		return "", err
	}
	jar := filepath.Join(project, "target", peerJarName)
	why, err := peerJarStale(project, jar)
	if err != nil || why == "" {
		return jar, err
	}
	if _, err := exec.LookPath(cfg.Maven); err != nil {
		return "", fmt.Errorf("building the kstreams peer (%s): Maven not found: %w", why, err)
	}
	fmt.Fprintf(out, "kstreams peer: building %s (%s): %s -q -B package\n", jar, why, cfg.Maven)
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, cfg.Maven, "-q", "-B", "package")
	cmd.Dir = project
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the kstreams peer in %s: %w; last output:\n%s", project, err, lastLines(log.Bytes(), 40))
	}
	if why, err := peerJarStale(project, jar); err != nil || why != "" {
		return "", fmt.Errorf("building the kstreams peer in %s: the jar is still stale (%s) after mvn package: %v", project, why, err)
	}
	fmt.Fprintf(out, "kstreams peer: built in %.1f s\n", time.Since(t0).Seconds())
	return jar, nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// peerProcess is the running peer JVM. Its stdout is copied to the log file
// line by line, watching for state lines; its stderr goes to the log as is.
type peerProcess struct {
	cmd    *exec.Cmd
	log    *os.File
	exited chan struct{} // closed when the process has been waited for
	waitEr error         // set before exited is closed

	mu      sync.Mutex
	state   string        // the last KafkaStreams state printed
	changed chan struct{} // closed and replaced on every state line
	stopped bool          // stop was called
}

// peerArgs are the peer's command-line arguments (bench/kstreams
// PeerSettings).
func peerArgs(cfg PeerConfig, t peerTopics, txSchemaID, evSchemaID int, stateDir string) []string {
	args := []string{
		"--bootstrap-servers", strings.Join(cfg.Brokers, ","),
		"--input-topic", t.input,
		"--output-topic", t.output,
		"--application-id", t.appID,
		"--state-dir", stateDir,
		"--commit-interval-ms", strconv.FormatInt(cfg.CommitInterval.Milliseconds(), 10),
		"--threads", strconv.Itoa(cfg.StreamThreads),
		"--transaction-schema-id", strconv.Itoa(txSchemaID),
		"--event-schema-id", strconv.Itoa(evSchemaID),
		"--rocksdb-memory-mb", strconv.FormatInt(cfg.RocksDBMemory>>20, 10),
	}
	for k, v := range cfg.StreamsConfig {
		args = append(args, "--config", k+"="+v)
	}
	return args
}

// startPeerProcess starts the peer JVM. The caller must call stop.
func startPeerProcess(ctx context.Context, cfg PeerConfig, jar string, t peerTopics, txID, evID int, stateDir, logPath string) (*peerProcess, error) {
	if _, err := exec.LookPath(cfg.Java); err != nil {
		return nil, fmt.Errorf("starting the kstreams peer: Java not found: %w", err)
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the peer's log: %w", err)
	}
	args := append(append(append([]string{}, cfg.JVMOptions...), "-jar", jar), peerArgs(cfg, t, txID, evID, stateDir)...)
	cmd := exec.Command(cfg.Java, args...) // not CommandContext: stop ends it, gracefully first
	cmd.Stderr = logf
	setDeathSignal(cmd)
	pr, pw, err := os.Pipe()
	if err != nil {
		logf.Close()
		return nil, fmt.Errorf("creating the peer's stdout pipe: %w", err)
	}
	cmd.Stdout = pw
	fmt.Fprintf(logf, "===== %s %s %s\n", time.Now().UTC().Format(time.RFC3339), cfg.Java, strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		logf.Close()
		return nil, fmt.Errorf("starting the kstreams peer: %w", err)
	}
	pw.Close() // the child holds its own copy
	p := &peerProcess{cmd: cmd, log: logf, exited: make(chan struct{}), changed: make(chan struct{})}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		p.copyStdout(pr)
	}()
	go func() {
		err := cmd.Wait()
		<-copied
		pr.Close()
		p.waitEr = err
		close(p.exited)
	}()
	if ctx.Err() != nil {
		_ = p.stop(0)
		return nil, ctx.Err()
	}
	return p, nil
}

// copyStdout copies the peer's stdout to the log, noting state lines.
func (p *peerProcess) copyStdout(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(p.log, line)
		if st, ok := strings.CutPrefix(line, peerStateLine); ok {
			p.mu.Lock()
			p.state = strings.TrimSpace(st)
			close(p.changed)
			p.changed = make(chan struct{})
			p.mu.Unlock()
		}
	}
	_, _ = io.Copy(p.log, r) // a line too long for the scanner: the rest as is
}

func (p *peerProcess) pid() int { return p.cmd.Process.Pid }

// waitRunning waits until the peer reports RUNNING.
func (p *peerProcess) waitRunning(ctx context.Context, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		st, changed := p.state, p.changed
		p.mu.Unlock()
		switch st {
		case peerStateRun:
			return nil
		case peerStateError, peerStateNotRun:
			return fmt.Errorf("kstreams peer: state %s before RUNNING (see %s)", st, p.log.Name())
		}
		select {
		case <-changed:
		case <-p.exited:
			return fmt.Errorf("%w before RUNNING: %v (see %s)", ErrPeerExited, p.waitEr, p.log.Name())
		case <-deadline.C:
			return fmt.Errorf("kstreams peer: not RUNNING after %s (state %q; see %s)", timeout, st, p.log.Name())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// died waits until the process exits without being asked to, and returns
// why, or returns nil once ctx ends or stop is called.
func (p *peerProcess) died(ctx context.Context) error {
	select {
	case <-p.exited:
	case <-ctx.Done():
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return nil
	}
	return fmt.Errorf("%w during the run: %v (see %s)", ErrPeerExited, p.waitEr, p.log.Name())
}

// stop ends the peer: SIGTERM (its shutdown hook closes KafkaStreams),
// then SIGKILL if it has not exited within grace, and waits for it. It
// returns ErrPeerExited if the process had ended on its own before, or an
// error if it did not exit cleanly when asked. Safe to call more than once.
func (p *peerProcess) stop(grace time.Duration) error {
	p.mu.Lock()
	first := !p.stopped
	p.stopped = true
	p.mu.Unlock()
	var early error
	select {
	case <-p.exited:
		if first {
			early = fmt.Errorf("%w during the run: %v (see %s)", ErrPeerExited, p.waitEr, p.log.Name())
		}
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(grace):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	if first {
		fmt.Fprintf(p.log, "===== %s stopped: %v\n", time.Now().UTC().Format(time.RFC3339), p.waitEr)
		p.log.Close()
	}
	return early
}

// rss and peakRSS read the JVM's VmRSS and VmHWM, in bytes (0 once it has
// exited or where /proc is not there).
func (p *peerProcess) rss() int64 { return procStatusBytes(p.pid(), "VmRSS:") }

// peakRSS is the process's peak resident size: VmHWM, or the current size
// when that is larger (the kernel folds its per-CPU RSS counters into the
// high-water mark lazily, so VmHWM can trail VmRSS by a few pages).
func (p *peerProcess) peakRSS() int64 {
	return max(procStatusBytes(p.pid(), "VmHWM:"), p.rss())
}

// cpuSeconds is the CPU time the JVM has used (user + system, all its
// threads), from /proc/<pid>/stat; 0 once it has exited. Linux reports it
// in clock ticks of 1/100 s (USER_HZ) on every architecture Go runs on.
func (p *peerProcess) cpuSeconds() float64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.pid()), "stat"))
	if err != nil {
		return 0
	}
	// The command name (field 2) may contain spaces; the fields after its
	// closing parenthesis are numbers: state is field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return float64(utime+stime) / 100
}

func procStatusBytes(pid int, field string) int64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
