package web

import (
	"testing"

	"github.com/invsync/invsync/api/apitest"
)

// TestFakeAPIContract holds the scanner app's fake of the API to the
// contract suite the real server (package ingest) runs: for what the fake
// implements, it answers as the server does.
func TestFakeAPIContract(t *testing.T) {
	apitest.Run(t, apitest.Harness{
		Fixture: apitest.Fixture{Warehouse: "WH-001", Location: "A-01-01", OtherLocation: "B-01-01", Item: "ITEM-100",
			OtherWarehouse: "WH-002", ScannerToken: "tok-s1", ScannerID: "SCANNER-1", OtherScannerToken: "tok-s2", OtherScannerID: "SCANNER-2"},
		Capabilities: []apitest.Capability{apitest.Uploads, apitest.WaitApplied, apitest.CatalogChecks, apitest.Me,
			apitest.Catalog, apitest.Positions, apitest.Locks, apitest.Versions},
		New: func(t *testing.T) string {
			f := newFakeAPI(t)
			f.addToken("tok-s1", "SCANNER-1", "WH-001")
			f.addToken("tok-s2", "SCANNER-2", "WH-001")
			return f.serve().URL
		},
	})
}
