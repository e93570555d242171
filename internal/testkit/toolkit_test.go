package testkit

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestClockMovesOnlyWhenAdvanced(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	c := NewClock(at)
	if !c.Now().Equal(at) {
		t.Fatalf("a new clock: %v, want %v", c.Now(), at)
	}
	c.Advance(90 * time.Second)
	if want := at.Add(90 * time.Second); !c.Now().Equal(want) {
		t.Fatalf("after Advance: %v, want %v", c.Now(), want)
	}
}

func TestBufferTail(t *testing.T) {
	var b Buffer
	for i := range 5 {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	if got := b.Tail(2); got != "line 3\nline 4" {
		t.Errorf("Tail(2) = %q", got)
	}
	if got := b.Tail(9); got != strings.TrimSuffix(b.String(), "\n") {
		t.Errorf("Tail(9) = %q, want everything", got)
	}
}

func TestReceive(t *testing.T) {
	ch := make(chan int, 1)
	ch <- 7
	if got := Receive(t, ch, time.Second, "a number"); got != 7 {
		t.Errorf("Receive = %d, want 7", got)
	}
}

func TestSendSetsTheHeadersAndReportsFailures(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s|%s|%s|%s", r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.Header.Get("Idempotency-Key"), body)
	}))
	defer srv.Close()
	for _, c := range []struct {
		name, token string
		body        any
		want        string
	}{
		{"no body", "tok", nil, "Bearer tok||k-1|"},
		{"a nil []byte is no body", "", []byte(nil), "||k-1|"},
		{"JSON", "tok", map[string]int{"a": 1}, `Bearer tok|application/json|k-1|{"a":1}`},
		{"raw Authorization", "raw:Basic x", "hi", "Basic x|application/json|k-1|hi"},
	} {
		status, _, data, err := Send("POST", srv.URL, c.token, HeaderOf("Idempotency-Key", "k-1"), c.body)
		if err != nil || status != 200 || string(data) != c.want {
			t.Errorf("%s: %d %q %v, want %q", c.name, status, data, err, c.want)
		}
	}
	srv.Close()
	if _, _, _, err := Send("GET", srv.URL, "", nil, nil); err == nil {
		t.Error("Send to a closed server: no error")
	}
}
