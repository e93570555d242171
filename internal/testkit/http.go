package testkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Do sends a request with a bearer token (none when token is empty) and
// returns the status, decoding a JSON answer into out when out is not nil.
// body is sent as is when it is a string or []byte, else as its JSON. A
// transport error or an answer out cannot hold fails the test.
func Do(t testing.TB, method, url, token string, body, out any) int {
	t.Helper()
	status, _, data := Call(t, method, url, token, body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d: decoding %q: %v", method, url, status, data, err)
		}
	}
	return status
}

// Expect is Do failing the test, with the answer's body, unless the status
// is want.
func Expect(t testing.TB, want int, method, url, token string, body, out any) {
	t.Helper()
	status, _, data := Call(t, method, url, token, body)
	if status != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, url, status, want, bytes.TrimSpace(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decoding %q: %v", method, url, data, err)
		}
	}
}

// Call sends a request as Do does and returns the answer's status, headers
// and body. A token starting with "raw:" is sent as the whole
// Authorization header, for requests with a malformed one.
func Call(t testing.TB, method, url, token string, body any) (int, http.Header, []byte) {
	t.Helper()
	return CallHeader(t, method, url, token, nil, body)
}

// CallHeader is Call sending header's fields too (Origin, Idempotency-Key,
// traceparent and the like).
func CallHeader(t testing.TB, method, url, token string, header http.Header, body any) (int, http.Header, []byte) {
	t.Helper()
	status, h, data, err := Send(method, url, token, header, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return status, h, data
}

// Send sends a request as CallHeader does and returns the answer, or the
// error that kept it from being sent or read. It does not fail the test, so
// requests may be sent from goroutines other than the test's. A body is
// sent as application/json; a nil []byte is none.
func Send(method, url, token string, header http.Header, body any) (int, http.Header, []byte, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		if b != nil {
			rd = bytes.NewReader(b)
		}
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return 0, nil, nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	switch {
	case strings.HasPrefix(token, "raw:"):
		req.Header.Set("Authorization", strings.TrimPrefix(token, "raw:"))
	case token != "":
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, resp.Header, data, fmt.Errorf("reading the answer: %w", err)
	}
	return resp.StatusCode, resp.Header, data, nil
}

// HeaderOf returns the header fields of kv: a name, its value, the next
// name, its value, and so on.
func HeaderOf(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// Ready is a condition for Eventually: GET base/readyz answers 200.
func Ready(client *http.Client, base string) func() error {
	if client == nil {
		client = http.DefaultClient
	}
	return func() error {
		resp, err := client.Get(base + "/readyz")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 500))
		return Not("/readyz: %d %s", resp.StatusCode, bytes.TrimSpace(b))
	}
}
