package fakeapi_test

import (
	"testing"

	"github.com/invsync/invsync/api/apitest"
	"github.com/invsync/invsync/scanner/internal/fakeapi"
)

// TestContract holds the fake to the API's contract suite, which the real
// server (package ingest) runs too: for what the fake implements, it
// answers as the server does.
func TestContract(t *testing.T) {
	apitest.Run(t, apitest.Harness{
		// The fake checks no catalog: any warehouse, location and item
		// are accepted.
		Fixture: apitest.Fixture{Warehouse: "WH-001", Location: "A-01-01", OtherLocation: "B-01-01", Item: "ITEM-100",
			ScannerToken: "tok-1", ScannerID: "SCANNER-1"},
		Capabilities: []apitest.Capability{apitest.Uploads, apitest.WaitApplied, apitest.TransactionStatus},
		New:          func(t *testing.T) string { return fakeapi.New(t).URL() },
	})
}
