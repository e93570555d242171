package ingest_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/invsync/invsync/ingest"
)

// TestInFlightBound: while MaxInFlight transactions are accepted and not
// applied, an upload that would pass the bound is refused whole (503
// BACKLOG_FULL, Retry-After) and nothing of it is written; once outcomes
// arrive the same upload is accepted.
func TestInFlightBound(t *testing.T) {
	h := newHarness(t, func(c *ingest.Config) { c.MaxInFlight = 5 })
	var first []any
	for i := range 4 {
		first = append(first, tx(fmt.Sprintf("bp-%d", i)))
	}
	assertStatuses(t, h.upload("", envelope(first...)), "bp-0", "accepted", "bp-1", "accepted", "bp-2", "accepted", "bp-3", "accepted")
	published := len(h.pub.published)

	second := envelope(tx("bp-4"), tx("bp-5"))
	r := h.post("", second)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), `"BACKLOG_FULL"`) ||
		!strings.Contains(string(r.body), "4 accepted transactions are not applied yet (limit 5)") || r.header.Get("Retry-After") == "" {
		t.Fatalf("over the bound: %d %s (Retry-After %q), want 503 BACKLOG_FULL naming 4 of 5 with Retry-After", r.status, r.body, r.header.Get("Retry-After"))
	}
	if got := len(h.pub.published); got != published {
		t.Fatalf("a refused upload wrote %d transactions", got-published)
	}
	// One more fits exactly.
	assertStatuses(t, h.upload("", envelope(tx("bp-4"))), "bp-4", "accepted")

	// The processors catch up: the refused upload now goes through.
	for _, p := range h.pub.published {
		h.outcomes.emit(appliedOutcome(p, 1, 1))
	}
	assertStatuses(t, h.upload("", second), "bp-4", "duplicate", "bp-5", "accepted")
}
