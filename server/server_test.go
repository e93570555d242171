package server

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invsync/invsync/internal/testkit"
)

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	o := DefaultOptions()
	o.DataDir, o.Partitions, o.HTTPAddr, o.Group, o.LogLevel = "", 0, "nope", "", "loud"
	o.SnapshotInterval, o.MaxInFlight, o.TLSClientCA = 500*time.Millisecond, 1, "ca.pem"
	err := o.Validate()
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"--data-dir", "--partitions", "--http-addr", "--group", "--log-level", "--snapshot-interval", "--max-in-flight", "--tls-client-ca"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %s:\n%v", want, err)
		}
	}
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n < 8 {
		t.Errorf("%d problems reported, want one for each of 8 options at least", n)
	}
	if err := DefaultOptions().Validate(); err != nil {
		t.Errorf("the defaults are invalid: %v", err)
	}
}

func TestNewRefusesInvalidOptions(t *testing.T) {
	o := DefaultOptions()
	o.Partitions = 0
	if _, err := New(o); err == nil || !strings.Contains(err.Error(), "--partitions") {
		t.Fatalf("New with 0 partitions: %v", err)
	}
}

// testOptions is a fresh deployment on the embedded broker in this process
// (or KAFKA_BROKERS), on ports chosen by the OS.
func testOptions(t *testing.T) Options {
	o := DefaultOptions()
	o.DataDir, o.HTTPAddr, o.EmbeddedKafkaAddr, o.EmbeddedInProcess = t.TempDir(), "127.0.0.1:0", "127.0.0.1:0", true
	o.Brokers, o.Partitions, o.SnapshotInterval = testkit.ExternalBrokers(), 2, 0
	o.TopicPrefix, o.Group = testkit.RandomName("t")+".", testkit.RandomName("g")
	return o
}

// TestRunReadyShutdown: /healthz answers from New on, Ready closes once
// /readyz would answer 200, the first start writes an admin token, and
// Shutdown ends Run cleanly and may be called again.
func TestRunReadyShutdown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, done := runReady(ctx, t)
	testkit.Eventually(t, 10*time.Second, testkit.Ready(nil, s.URL()))
	brokers, err := s.Brokers(ctx)
	if err != nil || len(brokers) == 0 {
		t.Fatalf("brokers: %v %v", brokers, err)
	}
	if filepath.Dir(s.AdminTokenPath()) != s.Options().DataDir {
		t.Errorf("admin token path %s is not in the data dir", s.AdminTokenPath())
	}
	token := strings.TrimSpace(string(mustRead(t, s.AdminTokenPath())))
	testkit.Expect(t, http.StatusOK, "GET", s.URL()+"/v1/me", token, nil, nil)
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("Run after Shutdown: %v", err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("a second Shutdown: %v", err)
	}
	if err := s.Run(ctx); err == nil {
		t.Error("a second Run was accepted")
	}
}

// TestShutdownBeforeRun closes the listener of a server never run.
func TestShutdownBeforeRun(t *testing.T) {
	s, err := New(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(s.URL() + "/healthz"); err == nil {
		t.Error("the HTTP port still answers after Shutdown")
	}
	if err := s.WaitReady(context.Background()); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("WaitReady after Shutdown: %v, want an error saying it stopped", err)
	}
}

// runReady creates a server of testOptions, checks that it answers
// /healthz and is not ready before Run (the listener's defaults are set
// before the parts read the server's TLS settings), runs it and waits until
// it is ready. done receives what Run returns.
func runReady(ctx context.Context, t *testing.T) (s *Server, done <-chan error) {
	t.Helper()
	s, err := New(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if code := testkit.Do(t, "GET", s.URL()+"/healthz", "", nil, nil); code != http.StatusOK {
		t.Fatalf("/healthz before Run: %d", code)
	}
	if ok, why := s.Readiness(); ok || why == "" {
		t.Errorf("ready before Run: %v %q", ok, why)
	}
	ran := make(chan error, 1)
	go func() { ran <- s.Run(context.Background()) }()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return s, ran
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRunEndsWhenTheInProcessBrokerStops: the broker in this process
// stopping (it stops by itself after a failed fsync) ends Run with an
// error saying so, as the supervised broker process exiting does; serve
// does not go on without its Kafka.
func TestRunEndsWhenTheInProcessBrokerStops(t *testing.T) {
	if testkit.ExternalBrokers() != nil {
		t.Skip("runs on the in-process embedded broker")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, done := runReady(ctx, t)
	s.brokerIn.Close()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "embedded Kafka broker stopped") {
			t.Errorf("Run after its broker stopped: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Run went on after its in-process broker stopped")
	}
}
