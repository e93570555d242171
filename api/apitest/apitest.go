// Package apitest is the HTTP API's contract suite: one set of subtests
// that drives a server through the contract (spec "HTTP API") and checks
// every answer's status, code and shape against package api's types. It
// runs against ingest's real server and against every fake of it, so a
// fake cannot drift from the server unnoticed (model: a shared Pub/Sub
// test suite run against every implementation).
//
// A harness declares what its server implements (Capabilities); whatever
// it declares is checked, the rest is skipped. Shapes are checked
// strictly: an answer must decode into its api type without unknown
// fields, and carry every field that type does not mark omitempty (a
// null is not an omitted field).
package apitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/internal/testkit"
)

// Capability is a part of the API a server under test implements.
type Capability string

// The capabilities. Uploads is the core every harness has.
const (
	// Uploads: POST /v1/transactions, accepted, duplicate,
	// IDEMPOTENCY_MISMATCH, 401, 403 SCANNER_MISMATCH, 400
	// INVALID_REQUEST, 413 TOO_MANY_TRANSACTIONS, 404 NOT_FOUND for an
	// unknown endpoint.
	Uploads Capability = "uploads"
	// WaitApplied: ?wait=applied answers each accepted or duplicate
	// transaction with its outcome.
	WaitApplied Capability = "wait-applied"
	// TransactionStatus: GET /v1/transactions/{id}.
	TransactionStatus Capability = "transaction-status"
	// CatalogChecks: uploads are checked against the catalog and the
	// token's warehouses (UNKNOWN_ITEM, WAREHOUSE_NOT_PERMITTED).
	CatalogChecks Capability = "catalog-checks"
	// Me: GET /v1/me.
	Me Capability = "me"
	// Catalog: GET /v1/catalog with an ETag and 304, scoped to the
	// token's warehouses.
	Catalog Capability = "catalog"
	// Positions: GET /v1/positions (WaitApplied too: what was applied
	// shows).
	Positions Capability = "positions"
	// Locks: POST /v1/locks, DELETE /v1/locks/{id}, 409 LOCATION_LOCKED.
	Locks Capability = "locks"
	// Roles: a token whose role may not upload is answered 403 FORBIDDEN.
	Roles Capability = "roles"
	// Versions: a transaction's expectedVersion is checked against its
	// record when it is applied (outcome rejected VERSION_CONFLICT).
	Versions Capability = "versions"
	// Allocations: POST /v1/allocations (with ?wait=decided), GET
	// /v1/allocations/{id} and ?orderId=, with the cloud's token.
	Allocations Capability = "allocations"
)

// Fixture is what the server under test knows when it starts.
type Fixture struct {
	// Warehouse is in the catalog and the scanner tokens' scope;
	// Location and OtherLocation are two of its locations; Item is in
	// the catalog, not lot-tracked, and takes a quantity of 5.
	Warehouse, Location, OtherLocation, Item string
	// OtherWarehouse is in the catalog, outside the scanner tokens' scope
	// (CatalogChecks, Catalog).
	OtherWarehouse string
	// ScannerToken is a scanner's token; it uploads as ScannerID.
	ScannerToken, ScannerID string
	// OtherScannerToken is a second scanner's, OtherScannerID (Locks).
	OtherScannerToken, OtherScannerID string
	// ReaderToken is a token whose role may not upload (Roles).
	ReaderToken string
	// CloudToken is the cloud's token, which allocates stock of
	// Warehouse (Allocations).
	CloudToken string
}

// Harness is a server under test.
type Harness struct {
	Fixture      Fixture
	Capabilities []Capability
	// New starts a server with the fixture and nothing else, and returns
	// its base URL (no trailing slash). It is called once per subtest.
	New func(t *testing.T) string
}

func (h Harness) has(c Capability) bool { return slices.Contains(h.Capabilities, c) }

// Run runs the contract against h.
func Run(t *testing.T, h Harness) {
	if !h.has(Uploads) {
		t.Fatal("every harness implements Uploads")
	}
	for _, c := range []struct {
		name string
		need []Capability
		run  func(t *testing.T, s *session)
	}{
		{"UploadAccepted", nil, uploadAccepted},
		{"UploadDuplicate", nil, uploadDuplicate},
		{"UploadIdempotencyMismatch", nil, uploadMismatch},
		{"Unauthenticated", nil, unauthenticated},
		{"ScannerMismatch", nil, scannerMismatch},
		{"InvalidRequest", nil, invalidRequest},
		{"TooManyTransactions", nil, tooMany},
		{"UnknownEndpoint", nil, unknownEndpoint},
		{"WaitApplied", []Capability{WaitApplied}, waitApplied},
		{"TransactionStatus", []Capability{TransactionStatus, WaitApplied}, transactionStatus},
		{"CatalogChecks", []Capability{CatalogChecks}, catalogChecks},
		{"Me", []Capability{Me}, me},
		{"Catalog", []Capability{Catalog}, catalog},
		{"Positions", []Capability{Positions, WaitApplied}, positions},
		{"Locks", []Capability{Locks}, locks},
		{"Roles", []Capability{Roles}, roles},
		{"VersionConflict", []Capability{Versions, WaitApplied}, versionConflict},
		{"Allocations", []Capability{Allocations, WaitApplied}, allocations},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, need := range c.need {
				if !h.has(need) {
					t.Skipf("the server does not implement %s", need)
				}
			}
			c.run(t, &session{t: t, h: h, f: h.Fixture, url: h.New(t)})
		})
	}
}

// session is one subtest's server.
type session struct {
	t   *testing.T
	h   Harness
	f   Fixture
	url string
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (s *session) do(method, path, token string, body []byte, header ...string) answer {
	s.t.Helper()
	status, rh, data, err := testkit.Send(method, s.url+path, token, testkit.HeaderOf(header...), body)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	return answer{status, rh, data}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tx is a RECEIPT of qty of the fixture's item at its location.
func (s *session) tx(id string, qty int64) api.Transaction {
	return api.Transaction{TransactionID: id, Type: "RECEIPT", Timestamp: api.FormatTime(time.Now().Add(-2 * time.Second)),
		WarehouseID: s.f.Warehouse, ItemID: s.f.Item, LocationID: s.f.Location, Quantity: qty, UserID: "contract"}
}

// upload posts txs as the fixture's scanner and returns the answer.
func (s *session) upload(query, token, scannerID string, txs ...api.Transaction) answer {
	s.t.Helper()
	body := mustJSON(s.t, api.UploadRequest{ScannerID: scannerID, SentAt: api.FormatTime(time.Now()), Transactions: txs})
	return s.do(http.MethodPost, "/v1/transactions"+query, token, body)
}

// results uploads and requires a 200 with one result per transaction.
func (s *session) results(query string, txs ...api.Transaction) []api.Result {
	s.t.Helper()
	a := s.upload(query, s.f.ScannerToken, s.f.ScannerID, txs...)
	var out api.UploadResponse
	s.decode(a, http.StatusOK, &out)
	if len(out.Results) != len(txs) {
		s.t.Fatalf("%d results for %d transactions: %s", len(out.Results), len(txs), a.body)
	}
	for i, r := range out.Results {
		if r.TransactionID != txs[i].TransactionID {
			s.t.Errorf("result %d names %q, want %q (the request's order)", i, r.TransactionID, txs[i].TransactionID)
		}
	}
	return out.Results
}

// decode requires status and an answer of v's shape, and decodes it.
func (s *session) decode(a answer, status int, v any) {
	s.t.Helper()
	if a.status != status {
		s.t.Fatalf("answered %d, want %d: %s", a.status, status, a.body)
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.t.Errorf("Content-Type %q, want application/json", ct)
	}
	if err := CheckShape(a.body, v); err != nil {
		s.t.Fatalf("the %d answer is not a %T: %v\n%s", status, v, err, a.body)
	}
}

// wantError requires an error answer of status and code, in the API's
// error body with a message.
func (s *session) wantError(a answer, status int, code api.ErrorCode) api.Error {
	s.t.Helper()
	var e api.ErrorBody
	s.decode(a, status, &e)
	if e.Error.Code != code {
		s.t.Errorf("code %q, want %q: %s", e.Error.Code, code, a.body)
	}
	if e.Error.Message == "" {
		s.t.Errorf("an error without a message: %s", a.body)
	}
	return e.Error
}

// CheckShape decodes body into v (a pointer to an api type) strictly, and
// checks that every field of v's type that is not omitempty is present in
// body, recursively: a fake that leaves out a null, or adds a field,
// fails.
func CheckShape(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	var raw any
	if err := json.Unmarshal(body, &raw); err != nil {
		return err
	}
	return present(reflect.TypeOf(v).Elem(), raw, "")
}

var timeType = reflect.TypeOf(time.Time{})

func present(t reflect.Type, raw any, at string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case raw == nil:
		return nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8:
		arr, _ := raw.([]any)
		for i, e := range arr {
			if err := present(t.Elem(), e, at+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Struct && t != timeType:
		obj, _ := raw.(map[string]any)
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			v, ok := obj[name]
			if !ok {
				if strings.Contains(opts, "omitempty") {
					continue
				}
				return fmt.Errorf("%s lacks %q (a null is not an omitted field)", orRoot(at), name)
			}
			if err := present(f.Type, v, at+"."+name); err != nil {
				return err
			}
		}
	}
	return nil
}

func orRoot(at string) string {
	if at == "" {
		return "the answer"
	}
	return at
}
