package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/pipeline/embedded"
)

// The pipeline tests run on the embedded broker, or on a real Kafka when
// KAFKA_BROKERS is set (CI sets it to an Apache Kafka 4.x broker started by
// scripts/kafka.sh). Each test uses its own topic prefix and group, so runs
// never see each other's records.
func externalBrokers() []string {
	if v := os.Getenv("KAFKA_BROKERS"); v != "" {
		return strings.Split(v, ",")
	}
	return nil
}

func TestMain(m *testing.M) {
	if b := externalBrokers(); b != nil {
		fmt.Fprintf(os.Stderr, "pipeline tests: running against the Kafka at KAFKA_BROKERS=%s\n", strings.Join(b, ","))
	} else {
		fmt.Fprintln(os.Stderr, "pipeline tests: KAFKA_BROKERS is not set, running on the embedded broker (kfake); set it to run the same tests against a real Kafka (make test-kafka)")
	}
	os.Exit(m.Run())
}

func randomName(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// testInstance is one in-process `invsync serve`.
type testInstance struct {
	t      *testing.T
	cfg    serveConfig
	srv    *server
	url    string
	cancel context.CancelFunc
	done   chan error
}

// testConfig returns a serve configuration for a fresh deployment: its own
// data dir, topic prefix and group, loopback ports chosen by the OS.
func testConfig(t *testing.T) serveConfig {
	t.Helper()
	return serveConfig{
		DataDir:           t.TempDir(),
		HTTPAddr:          "127.0.0.1:0",
		Brokers:           externalBrokers(),
		EmbeddedKafkaAddr: "127.0.0.1:0",
		EmbeddedInProcess: true,
		Partitions:        4,
		TopicPrefix:       randomName("t") + ".",
		Group:             randomName("g"),
		SessionTimeout:    6 * time.Second,
		LedgerWindow:      7 * 24 * time.Hour,
		MaxScanAge:        30 * 24 * time.Hour,
		LogLevel:          "warn",
		LogFormat:         "text",
		AdminToken:        testAdminToken,
		RateLimit:         0,
	}
}

// testAdminToken is the --admin-token of every instance the tests start.
const testAdminToken = "test-admin-token-0123456789abcdef0123456789"

// sharedBrokers returns brokers that several instances of one test can
// share and that outlive any one of them: KAFKA_BROKERS when set, else an
// embedded broker started for the test.
func sharedBrokers(t *testing.T) []string {
	t.Helper()
	if brokers := externalBrokers(); brokers != nil {
		return brokers
	}
	b, err := embedded.Start(embedded.Config{Addr: "127.0.0.1:0", DataDir: filepath.Join(t.TempDir(), "kafka"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return []string{b.Addr()}
}

// startInstance starts cfg and waits until /readyz answers 200.
func startInstance(t *testing.T, cfg serveConfig) *testInstance {
	t.Helper()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := start(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatalf("starting invsync: %v", err)
	}
	in := &testInstance{t: t, cfg: cfg, srv: srv, url: "http://" + srv.httpLn.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- srv.run(ctx) }()
	t.Cleanup(in.stop)
	in.waitReady(60 * time.Second)
	if err := in.srv.waitUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	return in
}

func (in *testInstance) stop() {
	if in.cancel == nil {
		return
	}
	in.cancel()
	select {
	case err := <-in.done:
		if err != nil {
			in.t.Errorf("invsync stopped with: %v", err)
		}
	case <-time.After(60 * time.Second):
		in.t.Errorf("invsync did not stop within 60s")
	}
	in.cancel = nil
}

func (in *testInstance) brokers() []string {
	in.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := in.srv.waitUp(ctx); err != nil {
		in.t.Fatalf("instance not up: %v", err)
	}
	return in.srv.brokers
}

func (in *testInstance) waitReady(timeout time.Duration) {
	in.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(in.url + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
			last = string(b)
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	in.t.Fatalf("not ready after %s: %s", timeout, last)
}

// do sends a JSON request and decodes a JSON answer into out (if non-nil),
// returning the status.
func do(t *testing.T, method, url string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decoding %q: %v", method, url, data, err)
		}
	}
	return resp.StatusCode
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Types of the API's JSON, as a client would declare them.
type (
	txIn struct {
		TransactionID   string  `json:"transactionId"`
		Type            string  `json:"type"`
		Timestamp       string  `json:"timestamp"`
		WarehouseID     string  `json:"warehouseId"`
		ItemID          string  `json:"itemId"`
		LocationID      string  `json:"locationId"`
		LotNumber       *string `json:"lotNumber,omitempty"`
		Quantity        int64   `json:"quantity"`
		ToLocationID    *string `json:"toLocationId,omitempty"`
		ExpectedVersion *int64  `json:"expectedVersion,omitempty"`
		AllocationID    *string `json:"allocationId,omitempty"`
		UserID          string  `json:"userId,omitempty"`
	}
	upload struct {
		ScannerID    string `json:"scannerId"`
		SentAt       string `json:"sentAt"`
		Transactions []txIn `json:"transactions"`
	}
	outcomeOut struct {
		TransactionID   string   `json:"transactionId"`
		Status          string   `json:"status"`
		Code            *string  `json:"code"`
		ResultingOnHand *int64   `json:"resultingOnHand"`
		Version         *int64   `json:"version"`
		Warnings        []string `json:"warnings"`
	}
	resultOut struct {
		TransactionID string      `json:"transactionId"`
		Status        string      `json:"status"`
		Code          *string     `json:"code"`
		Message       *string     `json:"message"`
		Outcome       *outcomeOut `json:"outcome"`
	}
	uploadOut struct {
		Results []resultOut `json:"results"`
	}
	positionOut struct {
		WarehouseID string `json:"warehouseId"`
		ItemID      string `json:"itemId"`
		LocationID  string `json:"locationId"`
		LotNumber   string `json:"lotNumber"`
		OnHand      int64  `json:"onHand"`
		Allocated   int64  `json:"allocated"`
		Available   int64  `json:"available"`
		Version     int64  `json:"version"`
	}
	positionsOut struct {
		Positions []positionOut `json:"positions"`
		Totals    struct {
			OnHand    int64 `json:"onHand"`
			Allocated int64 `json:"allocated"`
			Available int64 `json:"available"`
		} `json:"totals"`
	}
	errorOut struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
)

func strp(s string) *string { return &s }

// committedReader reads topic from the start, read_committed; the caller
// closes it.
func committedReader(t *testing.T, brokers []string, topic string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// consumeAll reads every committed record of topic from the start until
// want records arrived or the timeout passed.
func consumeAll(t *testing.T, brokers []string, topic string, want int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	cl := committedReader(t, brokers, topic)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want && ctx.Err() == nil {
		f := cl.PollFetches(ctx)
		f.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	// Give stragglers (duplicates, if any) a moment to show up.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel2()
	f := cl.PollFetches(ctx2)
	f.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	return out
}
