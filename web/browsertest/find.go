package browsertest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
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
