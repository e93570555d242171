// Package browsertest drives a real headless Chromium for tests of the
// scanner web app: start and stop the browser with the flags this
// project's closed network needs, type as a keyboard-wedge barcode scanner
// does, take the network away and give it back, reload, kill the browser
// process and relaunch it on the same profile.
//
// It knows nothing of the server under test: point it at any base URL, the
// in-package fake API of package web or a real `invsync serve`.
//
// A Browser is one browser process with one tab. Its methods are not safe
// for concurrent use; run one scenario per Browser.
package browsertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/chromedp/chromedp"
)

// Flags are the command-line switches every browser is started with. The
// machines that run these tests reach nothing but loopback: without them
// Chromium stalls trying to reach its update, sync and QUIC endpoints.
var Flags = []string{
	"headless", "no-sandbox", "disable-gpu", "disable-quic", "no-first-run",
	"disable-background-networking", "disable-component-update", "disable-sync",
}

// Options configure Launch. The zero value is a 360×640 handheld viewport
// on a fresh profile.
type Options struct {
	// ExecPath is the browser binary; empty means FindChromium.
	ExecPath string
	// UserDataDir is the profile directory. Empty makes a fresh one, which
	// Close removes (Kill keeps it, for Relaunch).
	UserDataDir string
	// Width and Height of the viewport in CSS pixels (default 360×640,
	// the handheld's screen).
	Width, Height int
	// Output receives the browser's own stdout and stderr; nil discards.
	Output io.Writer
	// StartTimeout bounds starting the browser and opening its tab
	// (default 30 s).
	StartTimeout time.Duration
}

// Browser is a running Chromium with one tab.
type Browser struct {
	opts    Options
	ownsDir bool

	allocCancel context.CancelFunc
	tabCtx      context.Context
	tabCancel   context.CancelFunc
	proc        *os.Process

	console *consoleLog
	offline bool
	closed  bool
	// parent is the Browser whose process this tab belongs to (NewTab);
	// nil for the first tab, which owns the process.
	parent *Browser
}

// ErrNoTempDir is returned by Launch when it cannot make the browser's
// profile directory under the system's temporary directory (TMPDIR
// unwritable or full).
var ErrNoTempDir = errors.New("no temporary directory for the browser's profile")

// Launch starts Chromium with Flags and a profile directory, opens a tab
// with the configured viewport, and returns it. The browser lives until
// Close or Kill, not until ctx ends: ctx only bounds the start.
func Launch(ctx context.Context, opts Options) (*Browser, error) {
	if opts.ExecPath == "" {
		p, err := FindChromium()
		if err != nil {
			return nil, fmt.Errorf("launching chromium: %w", err)
		}
		opts.ExecPath = p
	}
	if opts.Width <= 0 || opts.Height <= 0 {
		opts.Width, opts.Height = 360, 640
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 30 * time.Second
	}
	if opts.Output == nil {
		opts.Output = io.Discard
	}
	b := &Browser{opts: opts}
	if b.opts.UserDataDir == "" {
		dir, err := os.MkdirTemp("", "browsertest-profile-")
		if err != nil {
			return nil, fmt.Errorf("launching chromium: %w: %w", ErrNoTempDir, err)
		}
		b.opts.UserDataDir, b.ownsDir = dir, true
	}
	if err := b.start(ctx); err != nil {
		if b.ownsDir {
			os.RemoveAll(b.opts.UserDataDir)
		}
		return nil, err
	}
	return b, nil
}

func (b *Browser) start(ctx context.Context) error {
	allocOpts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(b.opts.ExecPath),
		chromedp.UserDataDir(b.opts.UserDataDir),
		chromedp.WindowSize(b.opts.Width, b.opts.Height),
		chromedp.CombinedOutput(b.opts.Output),
		// The browser gets its own process group, so Kill can take every
		// one of its processes down at once, and dies with the test binary.
		chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		}),
	}
	for _, f := range Flags {
		allocOpts = append(allocOpts, chromedp.Flag(f, true))
	}
	allocOpts = append(allocOpts,
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("metrics-recording-only", true),
		// Several tabs (NewTab) all run at full speed, as they do on a
		// device where the operator switches between them.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
	)
	// The browser must outlive ctx (which only bounds the start).
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.WithoutCancel(ctx), allocOpts...)
	tabCtx, tabCancel := chromedp.NewContext(allocCtx)
	b.allocCancel, b.tabCtx, b.tabCancel = allocCancel, tabCtx, tabCancel

	// The first action starts the browser and binds its life to the
	// context it runs with: run it on tabCtx itself, and bound it from
	// outside.
	done := make(chan error, 1)
	go func() {
		done <- chromedp.Do(tabCtx, chromedp.EmulateViewport(int64(b.opts.Width), int64(b.opts.Height)))
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(b.opts.StartTimeout):
		err = fmt.Errorf("no answer within %v", b.opts.StartTimeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		tabCancel()
		allocCancel()
		return fmt.Errorf("launching chromium %s: %w", b.opts.ExecPath, err)
	}
	if c := chromedp.FromContext(tabCtx); c != nil && c.Browser != nil {
		b.proc = c.Browser.Process()
	}
	if b.proc == nil {
		tabCancel()
		allocCancel()
		return errors.New("launching chromium: the browser process is unknown")
	}
	if err := b.listen(); err != nil {
		tabCancel()
		allocCancel()
		return fmt.Errorf("launching chromium: listening to the console: %w", err)
	}
	return nil
}

// Context is the tab's chromedp context, for actions this package does not
// wrap. It ends when the browser is closed or killed.
func (b *Browser) Context() context.Context { return b.tabCtx }

// UserDataDir is the profile directory (kept across Kill and Relaunch).
func (b *Browser) UserDataDir() string { return b.opts.UserDataDir }

// PID is the browser's main process id.
func (b *Browser) PID() int { return b.proc.Pid }

// NewTab opens another tab of the same browser (same profile, same
// origin storage), as a second window of the app on one device. The tab
// has its own viewport, network emulation and console; Close on it closes
// only the tab.
func (b *Browser) NewTab() (*Browser, error) {
	owner := b
	if b.parent != nil {
		owner = b.parent
	}
	ctx, cancel := chromedp.NewContext(owner.tabCtx)
	nb := &Browser{opts: b.opts, tabCtx: ctx, tabCancel: cancel, allocCancel: func() {}, proc: owner.proc, parent: owner}
	// The first action opens the tab and binds it to the context it runs
	// with: run it on the tab's own context, bounded from outside.
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }()
	var err error
	select {
	case err = <-done:
	case <-time.After(ActionTimeout):
		err = fmt.Errorf("no answer within %v", ActionTimeout)
	}
	if err == nil {
		err = nb.do("opening a tab", chromedp.EmulateViewport(int64(b.opts.Width), int64(b.opts.Height)))
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("opening a tab: %w", err)
	}
	if err := nb.listen(); err != nil {
		cancel()
		return nil, fmt.Errorf("opening a tab: listening to the console: %w", err)
	}
	return nb, nil
}

// Close shuts the browser down and removes the profile directory when
// Launch made it. Closing twice, or after Kill, is a no-op but for the
// directory. On a tab from NewTab it closes that tab only.
func (b *Browser) Close() error {
	if b.parent != nil {
		if !b.closed {
			b.closed = true
			b.tabCancel()
		}
		return nil
	}
	if !b.closed {
		b.closed = true
		b.tabCancel()
		b.allocCancel()
		// Whatever the graceful close left behind.
		_ = killGroup(b.proc.Pid, 5*time.Second)
	}
	if b.ownsDir {
		if err := os.RemoveAll(b.opts.UserDataDir); err != nil {
			return fmt.Errorf("closing chromium: removing its profile: %w", err)
		}
	}
	return nil
}

// Kill ends the browser the hard way, SIGKILL to every process of its
// group, as a crash or a battery pull would: nothing is flushed and no page
// gets an unload event. It returns once they are all gone. The profile
// directory stays for Relaunch.
func (b *Browser) Kill() error {
	if b.parent != nil {
		return errors.New("killing chromium: Kill the browser's first tab, not a tab from NewTab")
	}
	if b.closed {
		return errors.New("killing chromium: already closed")
	}
	b.closed = true
	err := killGroup(b.proc.Pid, 10*time.Second)
	b.tabCancel()
	b.allocCancel()
	if err != nil {
		return fmt.Errorf("killing chromium: %w", err)
	}
	return nil
}

// Relaunch starts a new browser on the same profile directory and options,
// after Kill or Close of this one. The new Browser owns the directory if
// this one did.
func (b *Browser) Relaunch(ctx context.Context) (*Browser, error) {
	if b.parent != nil {
		return nil, errors.New("relaunching chromium: Relaunch the browser's first tab, not a tab from NewTab")
	}
	if !b.closed {
		return nil, errors.New("relaunching chromium: the browser still runs; Kill or Close it first")
	}
	nb := &Browser{opts: b.opts, ownsDir: b.ownsDir}
	b.ownsDir = false
	if err := nb.start(ctx); err != nil {
		return nil, err
	}
	return nb, nil
}

// killGroup sends SIGKILL to the process group pgid and waits until no
// live process of it is left (zombies waiting for a reaper do not count).
func killGroup(pgid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Kill(-pgid, syscall.SIGKILL)
		if errors.Is(err, syscall.ESRCH) || (err == nil && liveInGroup(pgid) == 0) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("signalling process group %d: %w", pgid, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("process group %d still has %d live processes after %v", pgid, liveInGroup(pgid), timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// liveInGroup counts the processes of group pgid that are not zombies,
// from /proc/<pid>/stat ("pid (comm) state ppid pgrp ...").
func liveInGroup(pgid int) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, err := strconv.Atoi(f[2]); err == nil && g == pgid {
			n++
		}
	}
	return n
}
