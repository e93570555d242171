package server

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
)

// swappableHandler serves with the handler set last: the start-up handler
// until the API is built, then the API.
type swappableHandler struct {
	h atomic.Pointer[http.Handler]
}

func (s *swappableHandler) set(h http.Handler) { s.h.Store(&h) }

func (s *swappableHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}

// bootHandler answers while the service starts: /healthz (alive), /readyz
// (503 with what it waits for), /metrics, and 503 STARTING for the rest,
// in the API's error format.
func bootHandler(boot *bootStatus, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, apiError("NOT_READY", boot.get()))
	})
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, apiError("STARTING",
			"invsync is starting ("+boot.get()+"); nothing was accepted, retry shortly"))
	})
	return mux
}

func apiError(code, msg string) map[string]map[string]string {
	return map[string]map[string]string{"error": {"code": code, "message": msg}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// bootStatus is what the service is waiting for while it starts, for
// /readyz.
type bootStatus struct {
	reason atomic.Pointer[string]
}

func newBootStatus() *bootStatus {
	b := &bootStatus{}
	b.set("starting")
	return b
}

func (b *bootStatus) set(reason string) { b.reason.Store(&reason) }

func (b *bootStatus) get() string { return *b.reason.Load() }
