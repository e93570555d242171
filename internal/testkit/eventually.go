package testkit

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// PollInterval is how often Eventually and Within try their condition.
const PollInterval = 50 * time.Millisecond

// Eventually calls cond until it returns nil, failing the test with cond's
// last error (and msgf, if given) once timeout has passed. cond runs on
// the calling goroutine, at least once.
func Eventually(t testing.TB, timeout time.Duration, cond func() error, msgf ...any) {
	t.Helper()
	if err := Within(timeout, cond); err != nil {
		if len(msgf) > 0 {
			if format, ok := msgf[0].(string); ok {
				t.Fatalf("%s: %v", fmt.Sprintf(format, msgf[1:]...), err)
			}
		}
		t.Fatal(err)
	}
}

// Within calls cond until it returns nil and returns nil, or returns an
// error holding cond's last error once timeout has passed; for helpers
// that report rather than fail, and for goroutines other than the test's.
func Within(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if errors.Is(err, ErrStop) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still not so after %s: %w", timeout, err)
		}
		time.Sleep(PollInterval)
	}
}

// Receive returns what ch delivers within timeout, failing the test,
// saying it waited for what, when nothing comes.
func Receive[T any](t testing.TB, ch <-chan T, timeout time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(timeout):
		t.Fatalf("waited %v for %s", timeout, what)
		var zero T
		return zero
	}
}

// ErrStop, wrapped in cond's error, ends Eventually or Within at once:
// waiting longer cannot help.
var ErrStop = errors.New("giving up")

// Not is a cond's error: format and args say what is not so yet.
func Not(format string, args ...any) error { return fmt.Errorf(format, args...) }

// True adapts a boolean condition: its error is reason while it is false.
func True(cond func() bool, reason string) func() error {
	return func() error {
		if cond() {
			return nil
		}
		return errors.New(reason)
	}
}
