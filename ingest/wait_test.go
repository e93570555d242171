package ingest_test

import (
	"net/http"
	"testing"

	"github.com/invsync/invsync/ingest"
)

// Stand-ins for the reconciliation backends: a request refused for its
// query never reaches them, so a call would panic on the nil interface.
type (
	unusedCommands       struct{ ingest.CommandWriter }
	unusedRecon          struct{ ingest.ReconReader }
	unusedCommandResults struct{ ingest.CommandSubscriber }
)

// TestWaitNamesItsStage: each write that can wait takes ?wait= naming its
// own stage only; another stage's name or anything else is a 400 that says
// which value it takes, before the body is read.
func TestWaitNamesItsStage(t *testing.T) {
	h := newHarness(t, func(cfg *ingest.Config) {
		cfg.Allocator, cfg.Allocations, cfg.Decisions = noAllocator{}, unreadableAllocations{}, noDecisions{}
		cfg.Commands, cfg.Recon, cfg.CommandResults = unusedCommands{}, unusedRecon{}, unusedCommandResults{}
		cfg.Partitions = 1
	})
	for _, c := range []struct{ path, stage, other string }{
		{"/v1/transactions", "applied", "decided"},
		{"/v1/allocations", "decided", "compared"},
		{"/v1/reconciliation/reports", "compared", "applied"},
	} {
		for _, v := range []string{c.other, "bogus", "Applied"} {
			r := h.do(http.MethodPost, c.path+"?wait="+v, []byte(`{}`))
			assertError(t, r, http.StatusBadRequest, "INVALID_REQUEST", `wait must be "`+c.stage+`" or absent, got `+v)
		}
	}
}
