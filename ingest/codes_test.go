package ingest_test

import (
	"testing"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/ingest"
	"github.com/invsync/invsync/processors"
)

// TestProcessorCodesAreTheAPIs: the codes and outcome statuses the
// processors decide reach the wire as they are, so each must be the API's
// constant of that name.
func TestProcessorCodesAreTheAPIs(t *testing.T) {
	for _, c := range []struct {
		processors, api string
	}{
		{processors.CodeInvalidTransaction, string(api.CodeInvalidTransaction)},
		{processors.CodeUnknownItem, string(api.CodeUnknownItem)},
		{processors.CodeUnknownLocation, string(api.CodeUnknownLocation)},
		{processors.CodeUnknownWarehouse, string(api.CodeUnknownWarehouse)},
		{processors.CodeUnreasonableQuantity, string(api.CodeUnreasonableQuantity)},
		{processors.CodeIdempotencyMismatch, string(api.CodeIdempotencyMismatch)},
		{processors.CodeVersionConflict, string(api.CodeVersionConflict)},
		{processors.CodeLocationLocked, string(api.CodeLocationLocked)},
		{processors.CodeCountOutsideWindow, string(api.CodeCountOutsideWindow)},
		{processors.CodeVarianceReview, string(api.CodeVarianceReview)},
		{processors.CodeCountRejected, string(api.CodeCountRejected)},
		{processors.CodeCountSuperseded, string(api.CodeCountSuperseded)},
		{processors.CodeCountNotHeld, string(api.CodeCountNotHeld)},
		{processors.CodeDiscrepancyNotFound, string(api.CodeDiscrepancyNotFound)},
		{processors.CodeInvalidTransition, string(api.CodeInvalidTransition)},
		{ingest.CodeWarehouseNotPermitted, string(api.CodeWarehouseNotPermitted)},
		{processors.StatusApplied, string(api.OutcomeApplied)},
		{processors.StatusRejected, string(api.OutcomeRejected)},
		{processors.StatusHeld, string(api.OutcomeHeld)},
	} {
		if c.processors != c.api {
			t.Errorf("processors has %q where the API has %q", c.processors, c.api)
		}
	}
}
