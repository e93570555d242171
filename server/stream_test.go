package server

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/invsync/invsync/pipeline"
	"github.com/invsync/invsync/processors"
)

// The console stream finds its sources by these methods: renaming one
// would silence a kind of event, so it is checked here.
var (
	_ interface{ OnChange(func(string)) } = (*pipeline.FleetTable)(nil)
	_ interface{ OnChange(func(string)) } = (*pipeline.LockTable)(nil)
	_ interface{ OnChange(func(string)) } = (*pipeline.TokenTable)(nil)
	_ interface{ OnChange(func(string)) } = (*pipeline.CountTaskTable)(nil)
	_ interface {
		OnOutcome(func(processors.CommandResult))
	} = pipeline.NewCommandNotifier()
)

// TestShutdownEndsConsoleStreams: an open console stream neither holds up
// Shutdown (it waits for open requests, up to 10 s) nor outlives it.
func TestShutdownEndsConsoleStreams(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, done := runReady(ctx, t)
	token := strings.TrimSpace(string(mustRead(t, s.AdminTokenPath())))
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/v1/console/stream", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	rd := bufio.NewReader(res.Body)
	if line, err := rd.ReadString('\n'); err != nil || !strings.HasPrefix(line, "retry:") {
		t.Fatalf("first line %q: %v", line, err)
	}
	ended := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, rd)
		ended <- err
	}()
	start := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("Shutdown took %v with a stream open", took)
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Error("the stream outlived Shutdown")
	}
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}
