package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/ingest"
	"github.com/invsync/invsync/processors"
)

// fakeLocker grants locks the way pipeline.LockTable does, without Kafka:
// each request is applied to a processors.LockTable at once.
type fakeLocker struct {
	mu    sync.Mutex
	table *processors.LockTable
	err   error
}

func (f *fakeLocker) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeLocker) Acquire(_ context.Context, l processors.Lock) (processors.Lock, bool, processors.Lock, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return processors.Lock{}, false, processors.Lock{}, f.err
	}
	f.table.Apply(l)
	if got, ok := f.table.Get(l.LockID); ok {
		return got, true, processors.Lock{}, nil
	}
	h, _ := f.table.Refused(l.LockID)
	return processors.Lock{}, false, h, nil
}

func (f *fakeLocker) Release(_ context.Context, id string, at time.Time) (processors.Lock, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return processors.Lock{}, false, f.err
	}
	l, ok := f.table.Get(id)
	if !ok {
		return processors.Lock{}, false, nil
	}
	if at.Before(l.End()) {
		l.ReleasedAt = &at
		f.table.Apply(l)
	}
	l, _ = f.table.Get(id)
	return l, true, nil
}

func (f *fakeLocker) Get(id string) (processors.Lock, bool) { return f.table.Get(id) }

func (f *fakeLocker) Active(wh string, at time.Time) []processors.Lock { return f.table.Active(wh, at) }

func newLockHarness(t *testing.T) (*harness, *fakeLocker) {
	t.Helper()
	f := &fakeLocker{table: processors.NewLockTable()}
	return newHarness(t, func(c *ingest.Config) { c.Locks = f }), f
}

func decodeInto[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	return v
}

func lockBody(loc, scanner string, extra string) []byte {
	return []byte(fmt.Sprintf(`{"warehouseId": %q, "locationId": %q, "scannerId": %q%s}`, wh1, loc, scanner, extra))
}

func TestLockLifecycle(t *testing.T) {
	h, _ := newLockHarness(t)
	r := h.do("POST", "/v1/locks", lockBody(locA, "SCANNER-03", ""))
	if r.status != 201 {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	l := decodeInto[api.Lock](t, r)
	if !strings.HasPrefix(l.LockID, "lock-") || l.ScannerID != "SCANNER-03" || l.LocationID != locA || l.WarehouseID != wh1 ||
		!l.AcquiredAt.Equal(serverNow) || !l.ExpiresAt.Equal(serverNow.Add(30*time.Minute)) || l.ReleasedAt != nil || l.Status != "ACTIVE" {
		t.Errorf("lock %+v", l)
	}

	// Another scanner: 409 naming the holder.
	r = h.do("POST", "/v1/locks", lockBody(locA, "SCANNER-04", `, "ttlSeconds": 60`))
	var conflict api.ErrorBody
	if err := json.Unmarshal(r.body, &conflict); err != nil || r.status != 409 {
		t.Fatalf("second scanner: %d %s", r.status, r.body)
	}
	if e := conflict.Error; e.Code != "LOCATION_LOCKED" || e.Holder != "SCANNER-03" || e.LockID != l.LockID ||
		e.ExpiresAt == nil || !e.ExpiresAt.Equal(l.ExpiresAt) || !strings.Contains(e.Message, "SCANNER-03") {
		t.Errorf("409 body %s", r.body)
	}

	// The same scanner again: a new lock.
	r = h.do("POST", "/v1/locks", lockBody(locA, "SCANNER-03", `, "ttlSeconds": 86400`))
	l2 := decodeInto[api.Lock](t, r)
	if r.status != 201 || l2.LockID == l.LockID || !l2.ExpiresAt.Equal(serverNow.Add(24*time.Hour)) {
		t.Errorf("re-lock: %d %s", r.status, r.body)
	}
	// Another location is free.
	if r := h.do("POST", "/v1/locks", lockBody(locB, "SCANNER-04", "")); r.status != 201 {
		t.Errorf("other location: %d %s", r.status, r.body)
	}

	r = h.do("GET", "/v1/locks/"+l.LockID, nil)
	if got := decodeInto[api.Lock](t, r); r.status != 200 || got.LockID != l.LockID {
		t.Errorf("GET lock: %d %s", r.status, r.body)
	}
	r = h.do("GET", "/v1/locks?warehouseId="+wh1, nil)
	list := decodeInto[api.LockList](t, r)
	if r.status != 200 || len(list.Locks) != 3 {
		t.Errorf("list: %d %s", r.status, r.body)
	}

	// Release, and release again.
	for i := range 2 {
		r = h.do("DELETE", "/v1/locks/"+l.LockID, nil)
		got := decodeInto[api.Lock](t, r)
		if r.status != 200 || got.LockID != l.LockID || got.ReleasedAt == nil || !got.ReleasedAt.Equal(serverNow) || got.Status != "RELEASED" {
			t.Errorf("DELETE #%d: %d %s", i+1, r.status, r.body)
		}
	}
	r = h.do("GET", "/v1/locks?warehouseId="+wh1, nil)
	list = decodeInto[api.LockList](t, r)
	for _, got := range list.Locks {
		if got.LockID == l.LockID {
			t.Errorf("a released lock is listed: %s", r.body)
		}
	}
	if len(list.Locks) != 2 {
		t.Errorf("list after DELETE: %s", r.body)
	}
	if r := h.do("GET", "/v1/locks?warehouseId="+wh2, nil); r.status != 200 || !strings.Contains(string(r.body), `"locks":[]`) {
		t.Errorf("empty list: %d %s", r.status, r.body)
	}
}

func TestLockRequestValidation(t *testing.T) {
	h, _ := newLockHarness(t)
	for _, c := range []struct {
		body string
		code api.ErrorCode
	}{
		{`{"warehouseId": "WH-001", "locationId": "A-05-02"}`, "INVALID_LOCK"},
		{`{"warehouseId": "WH-001", "scannerId": "S"}`, "INVALID_LOCK"},
		{`{"warehouseId": "WH-001", "locationId": "A-05-02", "scannerId": ""}`, "INVALID_LOCK"},
		{`{"warehouseId": "WH-001", "locationId": "A-05-02", "scannerId": "S", "ttlSeconds": 0}`, "INVALID_LOCK"},
		{`{"warehouseId": "WH-001", "locationId": "A-05-02", "scannerId": "S", "ttlSeconds": 86401}`, "INVALID_LOCK"},
		{`{"warehouseId": "WH-001", "locationId": "A-05-02", "scannerId": "S", "ttlSeconds": 1.5}`, "INVALID_LOCK"},
		{`{"warehouseId": "WH-001", "locationId": "A-05-02", "scannerId": "S", "ttlSeconds": "60"}`, "INVALID_LOCK"},
		{`{"warehouseId": "WH-001", "locationId": "A-05-02", "scannerId": "S", "owner": "x"}`, "INVALID_LOCK"},
		{`{"warehouseId": "WH-001", "locationId": "A-05-02", "scannerId": "S"`, "INVALID_LOCK"},
		{`[]`, "INVALID_LOCK"},
		{``, "INVALID_LOCK"},
		{`{"warehouseId": "WH-404", "locationId": "A-05-02", "scannerId": "S"}`, "UNKNOWN_WAREHOUSE"},
		{`{"warehouseId": "WH-001", "locationId": "C-01-01", "scannerId": "S"}`, "UNKNOWN_LOCATION"},
	} {
		r := h.do("POST", "/v1/locks", []byte(c.body))
		e := decodeInto[api.ErrorBody](t, r)
		if r.status != 400 || e.Error.Code != c.code || e.Error.Message == "" {
			t.Errorf("%s: %d %s, want 400 %s", c.body, r.status, r.body, c.code)
		}
	}
	if r := h.do("POST", "/v1/locks", lockBody(locA, "S", `, "ttlSeconds": 1`)); r.status != 201 {
		t.Errorf("ttlSeconds 1: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/v1/locks", nil); r.status != 400 {
		t.Errorf("list without warehouseId: %d %s", r.status, r.body)
	}
	r := h.do("DELETE", "/v1/locks/lock-never", nil)
	if e := decodeInto[api.ErrorBody](t, r); r.status != 404 || e.Error.Code != "LOCK_NOT_FOUND" {
		t.Errorf("DELETE unknown: %d %s", r.status, r.body)
	}
	if r := h.do("GET", "/v1/locks/lock-never", nil); r.status != 404 {
		t.Errorf("GET unknown: %d %s", r.status, r.body)
	}
}

func TestLocksUnavailableAndStarting(t *testing.T) {
	h, f := newLockHarness(t)
	f.fail(fmt.Errorf("%w: broker gone", errKafkaUnavailable))
	r := h.do("POST", "/v1/locks", lockBody(locA, "S", ""))
	if e := decodeInto[api.ErrorBody](t, r); r.status != 503 || e.Error.Code != "KAFKA_UNAVAILABLE" {
		t.Errorf("Kafka down: %d %s", r.status, r.body)
	}
	f.fail(errors.New("context deadline exceeded"))
	if r := h.do("DELETE", "/v1/locks/x", nil); r.status != 503 {
		t.Errorf("DELETE with Kafka down: %d %s", r.status, r.body)
	}

	f = &fakeLocker{table: processors.NewLockTable()}
	closed := newHarnessOpen(t, false, func(c *ingest.Config) { c.Locks = f })
	for _, req := range []struct{ method, path string }{
		{"POST", "/v1/locks"}, {"DELETE", "/v1/locks/x"}, {"GET", "/v1/locks?warehouseId=" + wh1}, {"GET", "/v1/locks/x"},
	} {
		r := closed.do(req.method, req.path, lockBody(locA, "S", ""))
		if e := decodeInto[api.ErrorBody](t, r); r.status != 503 || e.Error.Code != "STARTING" {
			t.Errorf("%s %s while starting: %d %s", req.method, req.path, r.status, r.body)
		}
	}

	// Without a Locker there are no lock endpoints.
	plain := newHarness(t)
	if r := plain.do("POST", "/v1/locks", lockBody(locA, "S", "")); r.status != 404 {
		t.Errorf("no Locker: %d %s", r.status, r.body)
	}
}
