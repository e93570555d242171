package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

// ErrNoChromium is returned by FindChromium when no browser binary is found.
var ErrNoChromium = errors.New("no Chromium found")

// candidates are searched in order after CHROMIUM_BIN.
var candidates = []string{
	"/usr/bin/chromium",
	"/usr/bin/chromium-browser",
	"/usr/bin/google-chrome",
	"/usr/bin/google-chrome-stable",
}

// FindChromium returns the browser to drive: $CHROMIUM_BIN when set (an
// error if it is not executable), else the first of /usr/bin/chromium,
// chromium-browser, google-chrome, google-chrome-stable, else "chromium" on
// $PATH. It returns ErrNoChromium when there is none.
func FindChromium() (string, error) {
	if p := os.Getenv("CHROMIUM_BIN"); p != "" {
		if isExecutable(p) {
			return p, nil
		}
		return "", fmt.Errorf("finding chromium: CHROMIUM_BIN=%s is not an executable file: %w", p, ErrNoChromium)
	}
	for _, c := range candidates {
		if isExecutable(c) {
			return c, nil
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, nil
	}
	return "", ErrNoChromium
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

// RequireChromium returns the browser binary, or skips the test loudly,
// saying why and how to install one. Browser tests call it first.
func RequireChromium(t testing.TB) string {
	t.Helper()
	p, err := FindChromium()
	if err != nil {
		t.Skipf("SKIPPING browser test: %v. Run `bash scripts/chromium.sh ensure` (as root) or set CHROMIUM_BIN.", err)
	}
	return p
}

// Start launches a browser for t with opts (ExecPath, when empty, from
// RequireChromium) and closes it when t ends. Like RequireChromium it skips
// the test loudly, saying why, where a browser test cannot run here: no
// Chromium, or no temporary directory for its profile (ErrNoTempDir). Any
// other failure to launch fails t.
func Start(t testing.TB, opts Options) *Browser {
	t.Helper()
	if opts.ExecPath == "" {
		opts.ExecPath = RequireChromium(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := Launch(ctx, opts)
	if errors.Is(err, ErrNoTempDir) {
		t.Skipf("SKIPPING browser test: %v. Point TMPDIR at a writable directory with free space.", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}
