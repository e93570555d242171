package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/server"
)

// The end-to-end tests run on the embedded broker, or on a real Kafka when
// KAFKA_BROKERS is set (CI sets it to an Apache Kafka 4.x broker started by
// scripts/kafka.sh). Each test uses its own topic prefix and group, so runs
// never see each other's records.
func externalBrokers() []string { return testkit.ExternalBrokers() }

func TestMain(m *testing.M) {
	testkit.SayWhichKafka("end-to-end tests")
	os.Exit(m.Run())
}

func randomName(prefix string) string { return testkit.RandomName(prefix) }

// testInstance is one in-process invsync server.
type testInstance struct {
	t   *testing.T
	cfg server.Options
	srv *server.Server
	url string
	// done receives Run's error once it returns.
	done    chan error
	stopped bool
}

// testConfig returns the options of a fresh deployment: its own data dir,
// topic prefix and group, loopback ports chosen by the OS, the embedded
// broker in this process (or KAFKA_BROKERS), no snapshots.
func testConfig(t *testing.T) server.Options {
	t.Helper()
	o := server.DefaultOptions()
	o.DataDir, o.HTTPAddr, o.Brokers = t.TempDir(), "127.0.0.1:0", externalBrokers()
	o.EmbeddedKafkaAddr, o.EmbeddedInProcess = "127.0.0.1:0", true
	o.Partitions, o.TopicPrefix, o.Group = 4, randomName("t")+".", randomName("g")
	o.SessionTimeout, o.LedgerWindow, o.MaxScanAge, o.SnapshotInterval = 6*time.Second, 7*24*time.Hour, 30*24*time.Hour, 0
	o.LogLevel, o.AdminToken, o.RateLimit = "warn", testAdminToken, 0
	return o
}

// testAdminToken is the admin token of every instance the tests start.
const testAdminToken = "test-admin-token-0123456789abcdef0123456789"

// sharedBrokers returns brokers that several instances of one test can
// share and that outlive any one of them: KAFKA_BROKERS when set, else an
// embedded broker started for the test.
func sharedBrokers(t *testing.T) []string { return testkit.Brokers(t) }

// sharedConfig is testConfig on sharedBrokers, for a test that runs
// several instances on one broker or reaches the broker between them.
func sharedConfig(t *testing.T) server.Options {
	t.Helper()
	cfg := testConfig(t)
	cfg.Brokers = sharedBrokers(t)
	return cfg
}

// testLogger logs through t at cfg's level (warn unless set).
func testLogger(t *testing.T, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: lv}))
}

// newInstance creates an instance of cfg and runs it, without waiting for
// it to be ready; it is stopped at the end of the test.
func newInstance(t *testing.T, cfg server.Options) *testInstance {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t, cfg.LogLevel)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatalf("starting invsync: %v", err)
	}
	in := &testInstance{t: t, cfg: cfg, srv: srv, url: srv.URL(), done: make(chan error, 1)}
	go func() { in.done <- srv.Run(context.Background()) }()
	t.Cleanup(in.stop)
	return in
}

// startInstance starts cfg and waits until it is ready (/readyz 200).
func startInstance(t *testing.T, cfg server.Options) *testInstance {
	t.Helper()
	in := newInstance(t, cfg)
	in.waitReady(60 * time.Second)
	return in
}

// stop shuts the instance down and checks it stopped cleanly.
func (in *testInstance) stop() {
	if in.stopped {
		return
	}
	in.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := in.srv.Shutdown(ctx); err != nil {
		in.t.Errorf("invsync did not stop within 60s: %v", err)
		return
	}
	if err := <-in.done; err != nil {
		in.t.Errorf("invsync stopped with: %v", err)
	}
}

func (in *testInstance) brokers() []string {
	in.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := in.srv.Brokers(ctx)
	if err != nil {
		in.t.Fatalf("instance not up: %v", err)
	}
	return b
}

// waitReady waits until the instance is ready now (/readyz 200: the API
// open and every partition it owns restored), which it may stop being
// for a while after a rebalance.
func (in *testInstance) waitReady(timeout time.Duration) {
	in.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := in.srv.WaitReady(ctx); err != nil {
		in.t.Fatalf("not ready: %v", err)
	}
	testkit.Eventually(in.t, timeout, testkit.Ready(nil, in.url), "invsync at %s", in.url)
}

// do sends a JSON request with the admin token and decodes a JSON answer
// into out (if non-nil), returning the status.
func do(t *testing.T, method, url string, body any, out any) int {
	t.Helper()
	return testkit.Do(t, method, url, testAdminToken, body, out)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func ptr[T any](v T) *T { return &v }

// putCatalog replaces the catalog of in, failing the test unless it is
// taken.
func putCatalog(t *testing.T, in *testInstance, catalog any) {
	t.Helper()
	if code := do(t, "PUT", in.url+"/v1/catalog", catalog, nil); code != 200 {
		t.Fatalf("PUT /v1/catalog: %d", code)
	}
}

// startWithCatalog starts cfg, waits until it is ready and gives it
// catalog.
func startWithCatalog(t *testing.T, cfg server.Options, catalog any) *testInstance {
	t.Helper()
	in := startInstance(t, cfg)
	putCatalog(t, in, catalog)
	return in
}

// startTestDeployment starts a fresh deployment (testConfig) with
// testCatalog and returns it with its options, for topic names and
// restarts.
func startTestDeployment(t *testing.T) (*testInstance, server.Options) {
	t.Helper()
	cfg := testConfig(t)
	return startWithCatalog(t, cfg, testCatalog), cfg
}

// newToken creates a token through the API of base with the admin
// credential, as an administrator does, failing the test unless it is
// created; expiresAt nil means until revoked.
func newToken(t *testing.T, base, name, role string, warehouses []string, expiresAt *time.Time) api.Token {
	t.Helper()
	req := api.TokenRequest{Name: &name, Role: &role, Warehouses: warehouses}
	if expiresAt != nil {
		req.ExpiresAt = ptr(expiresAt.UTC())
	}
	var out api.Token
	status, _, data := testkit.Call(t, "POST", base+"/v1/tokens", testAdminToken, req)
	if status != 201 || json.Unmarshal(data, &out) != nil || out.Token == "" {
		t.Fatalf("creating the %s token %s: %d %s", role, name, status, data)
	}
	return out
}

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

// produce writes one record of key for each of values to topic, as the
// cloud does, failing the test unless every one is written.
func produce(t *testing.T, brokers []string, topic, key string, values ...[]byte) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Key: []byte(key), Value: v}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
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

// reverseProxy is a reverse proxy to the server at target, for a test to
// put in front of it.
func reverseProxy(t *testing.T, target string) *httputil.ReverseProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	return httputil.NewSingleHostReverseProxy(u)
}

// invsync runs the built command with args and returns its exit code and
// output, as a user at a shell would.
func invsync(t *testing.T, args []string, stdout, stderr io.Writer) int {
	t.Helper()
	cmd := exec.Command(buildBinary(t), args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		t.Fatalf("running invsync %v: %v", args, err)
	}
	return 0
}
