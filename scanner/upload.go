package scanner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/invsync/invsync/api"
)

// maxAnswerBytes bounds what is read of an answer (1000 results with
// outcomes are well under it).
const maxAnswerBytes = 8 << 20

// envelope builds an upload body around transactions already encoded: the
// stored bytes go out unchanged; only sentAt is new on each request.
func envelope(scannerID string, sentAt time.Time, txs [][]byte) []byte {
	id, _ := json.Marshal(scannerID)
	n := envelopeOverhead(len(id))
	for _, t := range txs {
		n += len(t) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"scannerId":`...)
	b = append(b, id...)
	b = append(b, `,"sentAt":"`...)
	b = append(b, api.FormatTime(sentAt)...)
	b = append(b, `","transactions":[`...)
	for i, t := range txs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, t...)
	}
	return append(b, "]}"...)
}

// envelopeOverhead is the size of an envelope with no transactions.
func envelopeOverhead(scannerIDJSONLen int) int {
	return len(`{"scannerId":,"sentAt":"","transactions":[]}`) + scannerIDJSONLen + len(api.TimeLayout) + len(`,"device":`) + maxDeviceJSON
}

// call makes one HTTP request to the server and classifies the answer.
// It returns the body of a 2xx answer; any other outcome is an
// *UploadError (or parent's error when parent ended, which says nothing
// about the server). Whether a connection was made tells "offline" (none)
// from "unanswered" (the server was reached, then the request failed).
func (d *Device) call(parent context.Context, method, path string, body []byte) ([]byte, *http.Response, error) {
	ctx, cancel := context.WithTimeout(parent, d.cfg.RequestTimeout)
	defer cancel()
	var connected atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { connected.Store(true) }})
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.cfg.URL+path, rd)
	if err != nil {
		return nil, nil, fmt.Errorf("building request: %w", err)
	}
	d.mu.Lock()
	token := d.token
	d.mu.Unlock()
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "invsync-scanner")
	setTraceparent(parent, req.Header)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.cfg.HTTPClient.Do(req)
	if err != nil {
		if parent.Err() != nil {
			return nil, nil, parent.Err()
		}
		kind := ErrOffline
		if connected.Load() {
			kind = ErrUnanswered
		}
		return nil, nil, &UploadError{Kind: kind, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		if parent.Err() != nil {
			return nil, nil, parent.Err()
		}
		return nil, resp, &UploadError{Kind: ErrUnanswered, StatusCode: resp.StatusCode, Err: fmt.Errorf("reading answer: %w", err)}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return data, resp, nil
	}
	e := &UploadError{StatusCode: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), d.cfg.Now())}
	var eb struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &eb) == nil {
		e.Code, e.Message = eb.Error.Code, eb.Error.Message
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		e.Kind = ErrTokenRefused
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		e.Kind = ErrUnanswered
	case resp.StatusCode >= 400:
		e.Kind = ErrRequestRefused
	default:
		e.Kind = ErrUnanswered
	}
	return nil, resp, e
}

// upload posts one batch and decodes the per-transaction results. A 200
// whose body is not a results list is an unanswered request: nothing in it
// is assumed accepted.
func (d *Device) upload(ctx context.Context, body []byte) ([]api.Result, error) {
	data, resp, err := d.call(ctx, http.MethodPost, "/v1/transactions?wait=applied", body)
	if err != nil {
		return nil, err
	}
	var ans struct {
		Results *[]api.Result `json:"results"`
	}
	if err := json.Unmarshal(data, &ans); err != nil || ans.Results == nil {
		if err == nil {
			err = errors.New(`no "results" in the answer`)
		}
		return nil, &UploadError{Kind: ErrUnanswered, StatusCode: resp.StatusCode, Err: fmt.Errorf("decoding answer: %w", err)}
	}
	return *ans.Results, nil
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
