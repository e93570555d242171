package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	wire "github.com/invsync/invsync/api"
)

// api is the simulator's client of the invsync HTTP API (as admin,
// supervisor and cloud), in the API's own types (package api, imported as
// wire beside this type's name). Requests the server cannot take now (no answer,
// 5xx, 429) are retried until retryFor has passed, so a server restarted
// by a fault is waited for.
type api struct {
	base     string
	hc       *http.Client
	retryFor time.Duration
}

// StatusError is an answer the API refused, with its code.
type StatusError struct {
	Method, Path string
	Status       int
	Code, Msg    string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d %s: %s", e.Method, e.Path, e.Status, e.Code, e.Msg)
}

func newAPI(base string, timeout, retryFor time.Duration) *api {
	return &api{base: strings.TrimRight(base, "/"), retryFor: retryFor,
		hc: &http.Client{Timeout: timeout, Transport: &http.Transport{MaxIdleConnsPerHost: 32, IdleConnTimeout: 30 * time.Second}}}
}

// call sends a JSON request with token and decodes a 2xx answer into out
// (if non-nil).
func (a *api) call(ctx context.Context, method, path, token string, body, out any) error {
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			return fmt.Errorf("encoding %s %s: %w", method, path, err)
		}
	}
	deadline := time.Now().Add(a.retryFor)
	wait := 200 * time.Millisecond
	for {
		status, answer, retryAfter, err := a.once(ctx, method, path, token, data)
		retry := err != nil || status >= 500 || status == http.StatusTooManyRequests
		if !retry {
			if status/100 != 2 {
				var e wire.ErrorBody
				_ = json.Unmarshal(answer, &e)
				return &StatusError{Method: method, Path: path, Status: status, Code: string(e.Error.Code), Msg: e.Error.Message}
			}
			if out != nil {
				if err := json.Unmarshal(answer, out); err != nil {
					return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
				}
			}
			return nil
		}
		if err == nil {
			err = fmt.Errorf("HTTP %d: %s", status, firstLine(answer))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s %s: no usable answer for %s: %w", method, path, a.retryFor, err)
		}
		if retryAfter > 0 {
			wait = retryAfter
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

func (a *api) once(ctx context.Context, method, path, token string, body []byte) (int, []byte, time.Duration, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, nil, 0, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, nil, 0, err
	}
	ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	return resp.StatusCode, answer, time.Duration(ra) * time.Second, nil
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// isStatus reports whether err is an API refusal with that HTTP status.
func isStatus(err error, status int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == status
}

// createToken creates a token and returns its secret.
func (a *api) createToken(ctx context.Context, admin, name, role string, warehouses []string) (string, error) {
	var out wire.Token
	err := a.call(ctx, http.MethodPost, "/v1/tokens", admin,
		wire.TokenRequest{Name: &name, Role: &role, Warehouses: warehouses}, &out)
	if err == nil && out.Token == "" {
		err = errors.New("POST /v1/tokens answered no token")
	}
	return out.Token, err
}

// CreateToken creates an API token (admin) and returns its secret: for
// the command that starts a mirror before the simulation.
func CreateToken(ctx context.Context, baseURL, adminToken, name, role string, warehouses []string) (string, error) {
	return newAPI(baseURL, 30*time.Second, 2*time.Minute).createToken(ctx, adminToken, name, role, warehouses)
}

func (a *api) positions(ctx context.Context, token, wh, item string) ([]wire.Position, error) {
	var out wire.Positions
	q := url.Values{"warehouseId": {wh}, "itemId": {item}}
	err := a.call(ctx, http.MethodGet, "/v1/positions?"+q.Encode(), token, nil, &out)
	return out.Positions, err
}

func (a *api) heldCounts(ctx context.Context, token, wh string) ([]wire.HeldCount, error) {
	var out wire.HeldCountList
	q := url.Values{"warehouseId": {wh}, "status": {"held"}}
	err := a.call(ctx, http.MethodGet, "/v1/counts?"+q.Encode(), token, nil, &out)
	return out.Counts, err
}

func (a *api) discrepancies(ctx context.Context, token, wh string) ([]wire.Discrepancy, error) {
	var out wire.DiscrepancyList
	err := a.call(ctx, http.MethodGet, "/v1/discrepancies?"+url.Values{"warehouseId": {wh}}.Encode(), token, nil, &out)
	return out.Discrepancies, err
}

// txStatus is the server's status of a transaction ("" when it never
// accepted it).
func (a *api) txStatus(ctx context.Context, token, id string) (string, error) {
	var out wire.Outcome
	err := a.call(ctx, http.MethodGet, "/v1/transactions/"+url.PathEscape(id), token, nil, &out)
	if isStatus(err, http.StatusNotFound) {
		return "", nil
	}
	return string(out.Status), err
}
