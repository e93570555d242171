package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/internal/testkit"
	"github.com/invsync/invsync/schemas"
	"github.com/invsync/invsync/server"
)

// The security negative suite, organised by the OWASP API Security Top 10
// (2023) categories that apply to invsync. Every refusal is checked for its
// status and error code, and for having written nothing: the end offsets of
// every topic a request can write (transactions, allocation requests,
// locks, tokens, catalog) are the same after it as before.

// secRig is one instance with a second warehouse and a token of each role
// scoped to WH-T1.
type secRig struct {
	t      *testing.T
	in     *testInstance
	tokens map[string]string // role (or a name) -> secret
	ids    map[string]string // role -> tokenId
}

const secCatalog = `{
  "warehouses": [{"warehouseId": "WH-T1", "locations": ["L1", "L2"]}, {"warehouseId": "WH-T2", "locations": ["M1"]}],
  "items": [{"itemId": "IT-A"}, {"itemId": "IT-B", "lotTracked": true}]
}`

func newSecRig(t *testing.T, cfg server.Options) *secRig {
	t.Helper()
	in := startWithCatalog(t, cfg, secCatalog)
	r := &secRig{t: t, in: in, tokens: map[string]string{"admin": testAdminToken}, ids: map[string]string{}}
	for _, role := range []string{"supervisor", "scanner", "cloud", "reader"} {
		name := role + "-1"
		if role == "scanner" {
			name = "SCANNER-1"
		}
		r.tokens[role], r.ids[role] = r.createToken(name, role, []string{"WH-T1"}, nil)
	}
	return r
}

// createToken makes a token with the admin credential.
func (r *secRig) createToken(name, role string, whs []string, expiresAt *time.Time) (secret, id string) {
	r.t.Helper()
	tok := newToken(r.t, r.in.url, name, role, whs, expiresAt)
	return tok.Token, tok.TokenID
}

// writes is the sum of the end offsets of every topic a request can write.
func (r *secRig) writes() int64 {
	r.t.Helper()
	adm := testkit.Admin(r.t, r.in.brokers())
	defer adm.Close()
	tp := schemas.NewTopics(r.in.cfg.TopicPrefix)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, tp.Transactions, tp.AllocationRequests, tp.Locks, tp.Tokens, tp.Catalog)
	if err != nil {
		r.t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// refused sends a request that must be refused with status and code, and
// checks that it wrote nothing.
func (r *secRig) refused(name string, status int, code api.ErrorCode, method, path, token string, body any) {
	r.t.Helper()
	before := r.writes()
	got, hdr, data := testkit.Call(r.t, method, r.in.url+path, token, body)
	var e api.ErrorBody
	_ = json.Unmarshal(data, &e)
	if got != status || e.Error.Code != code {
		r.t.Errorf("%s: %s %s answered %d %s, want %d %s (%.300s)", name, method, path, got, e.Error.Code, status, code, data)
	}
	if status == 401 && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
		r.t.Errorf("%s: a 401 without WWW-Authenticate: Bearer", name)
	}
	if e.Error.Message == "" {
		r.t.Errorf("%s: refusal without a message saying what to do: %.300s", name, data)
	}
	if after := r.writes(); after != before {
		r.t.Errorf("%s: refused, but %d records were written", name, after-before)
	}
}

func secUpload(scanner, wh string, ids ...string) map[string]any {
	txs := []map[string]any{}
	for _, id := range ids {
		txs = append(txs, map[string]any{"transactionId": id, "type": "RECEIPT", "timestamp": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano),
			"warehouseId": wh, "itemId": "IT-A", "locationId": map[string]string{"WH-T1": "L1", "WH-T2": "M1"}[wh], "quantity": 5})
	}
	return map[string]any{"scannerId": scanner, "sentAt": time.Now().UTC().Format(time.RFC3339Nano), "transactions": txs}
}

// TestSecurityFunctionLevelAuthorization (OWASP API5): every role against
// every endpoint. An allowed call is never 401/403; a forbidden one is 403
// FORBIDDEN and writes nothing.
func TestSecurityFunctionLevelAuthorization(t *testing.T) {
	r := newSecRig(t, testConfig(t))
	// Objects to act on, made by the admin.
	if status, _, data := testkit.Call(t, "POST", r.in.url+"/v1/transactions?wait=applied", testAdminToken, secUpload("SCANNER-1", "WH-T1", "fl-seed")); status != 200 {
		t.Fatalf("seed upload: %d %s", status, data)
	}
	alloc := map[string]any{"allocationId": "FL-ALLOC", "orderId": "SO-FL", "warehouseId": "WH-T1", "itemId": "IT-A", "quantity": 1}
	if status, _, data := testkit.Call(t, "POST", r.in.url+"/v1/allocations?wait=decided", testAdminToken, alloc); status != 200 {
		t.Fatalf("seed allocation: %d %s", status, data)
	}
	type endpoint struct {
		method, path string
		body         func(role string) any
		allowed      []string
	}
	lockBody := func(role string) any {
		scanner := "SCANNER-" + role // a supervisor or admin locks for any scanner
		if role == "scanner" {
			scanner = "SCANNER-1" // a scanner only for itself
		}
		return map[string]any{"warehouseId": "WH-T1", "locationId": "L2", "scannerId": scanner, "ttlSeconds": 60}
	}
	eps := []endpoint{
		{"GET", "/v1/me", nil, []string{"admin", "supervisor", "scanner", "cloud", "reader"}},
		{"GET", "/v1/catalog", nil, []string{"admin", "supervisor", "scanner", "reader"}},
		{"PUT", "/v1/catalog", func(string) any { return secCatalog }, []string{"admin"}},
		{"POST", "/v1/transactions", func(role string) any { return secUpload("SCANNER-1", "WH-T1", "fl-"+role) }, []string{"admin", "scanner"}},
		{"GET", "/v1/transactions/fl-seed", nil, []string{"admin", "supervisor", "scanner"}},
		{"GET", "/v1/positions?warehouseId=WH-T1&itemId=IT-A", nil, []string{"admin", "supervisor", "scanner", "cloud", "reader"}},
		{"POST", "/v1/allocations", func(role string) any {
			return map[string]any{"allocationId": "FL-" + role, "orderId": "SO-FL", "warehouseId": "WH-T1", "itemId": "IT-A", "quantity": 1}
		}, []string{"admin", "cloud"}},
		{"GET", "/v1/allocations/FL-ALLOC", nil, []string{"admin", "supervisor", "cloud", "reader"}},
		{"GET", "/v1/allocations?orderId=SO-FL", nil, []string{"admin", "supervisor", "cloud", "reader"}},
		{"POST", "/v1/locks", lockBody, []string{"admin", "supervisor", "scanner"}},
		{"GET", "/v1/locks?warehouseId=WH-T1", nil, []string{"admin", "supervisor", "scanner"}},
		{"GET", "/v1/tokens", nil, []string{"admin"}},
		{"GET", "/v1/cluster", nil, []string{"admin"}},
		{"POST", "/v1/tokens", func(role string) any {
			return map[string]any{"name": "made-by-" + role, "role": "reader", "warehouses": []string{"WH-T1"}}
		}, []string{"admin"}},
		{"DELETE", "/v1/allocations/FL-ALLOC", nil, []string{"admin", "cloud"}},
		{"DELETE", "/v1/tokens/nonexistent", nil, []string{"admin"}},
	}
	cases := 0
	for _, ep := range eps {
		for _, role := range []string{"supervisor", "scanner", "cloud", "reader", "admin"} {
			var body any
			if ep.body != nil {
				body = ep.body(role)
			}
			allowed := false
			for _, a := range ep.allowed {
				allowed = allowed || a == role
			}
			cases++
			name := fmt.Sprintf("%s %s %s", role, ep.method, ep.path)
			if !allowed {
				r.refused(name, 403, "FORBIDDEN", ep.method, ep.path, r.tokens[role], body)
				continue
			}
			if status, _, data := testkit.Call(t, ep.method, r.in.url+ep.path, r.tokens[role], body); status == 401 || status == 403 || status >= 500 {
				t.Errorf("%s: allowed for %s but answered %d %s", name, role, status, data)
			}
		}
	}
	t.Logf("security: API5 function-level authorization: %d role × endpoint cases", cases)
}

// TestSecurityObjectLevelAuthorization (OWASP API1): a token scoped to
// WH-T1 can neither read nor change WH-T2's objects.
func TestSecurityObjectLevelAuthorization(t *testing.T) {
	r := newSecRig(t, testConfig(t))
	// WH-T2 objects, made by the admin.
	if status, _, data := testkit.Call(t, "POST", r.in.url+"/v1/transactions?wait=applied", testAdminToken, secUpload("SCANNER-9", "WH-T2", "t2-tx")); status != 200 {
		t.Fatalf("seed: %d %s", status, data)
	}
	if status, _, data := testkit.Call(t, "POST", r.in.url+"/v1/allocations?wait=decided", testAdminToken,
		map[string]any{"allocationId": "T2-ALLOC", "orderId": "SO-T2", "warehouseId": "WH-T2", "itemId": "IT-A", "quantity": 1}); status != 200 {
		t.Fatalf("seed allocation: %d %s", status, data)
	}
	var lock api.Lock
	status, _, data := testkit.Call(t, "POST", r.in.url+"/v1/locks", testAdminToken, map[string]any{"warehouseId": "WH-T2", "locationId": "M1", "scannerId": "SCANNER-9"})
	if status != 201 || json.Unmarshal(data, &lock) != nil {
		t.Fatalf("seed lock: %d %s", status, data)
	}
	var slock api.Lock
	status, _, data = testkit.Call(t, "POST", r.in.url+"/v1/locks", testAdminToken, map[string]any{"warehouseId": "WH-T1", "locationId": "L1", "scannerId": "SCANNER-OTHER"})
	if status != 201 || json.Unmarshal(data, &slock) != nil {
		t.Fatalf("seed lock of another scanner: %d %s", status, data)
	}
	n := 0
	check := func(name string, status int, code api.ErrorCode, method, path, role string, body any) {
		n++
		r.refused(name, status, code, method, path, r.tokens[role], body)
	}
	for _, role := range []string{"supervisor", "scanner", "cloud", "reader"} {
		check(role+" reads WH-T2 positions", 403, "FORBIDDEN", "GET", "/v1/positions?warehouseId=WH-T2&itemId=IT-A", role, nil)
	}
	for _, role := range []string{"supervisor", "scanner", "reader"} {
		check(role+" reads WH-T2's catalog", 403, "FORBIDDEN", "GET", "/v1/catalog?warehouseId=WH-T2", role, nil)
	}
	for _, role := range []string{"supervisor", "scanner"} {
		check(role+" reads a WH-T2 transaction", 403, "FORBIDDEN", "GET", "/v1/transactions/t2-tx", role, nil)
		check(role+" lists WH-T2 locks", 403, "FORBIDDEN", "GET", "/v1/locks?warehouseId=WH-T2", role, nil)
		check(role+" reads a WH-T2 lock", 403, "FORBIDDEN", "GET", "/v1/locks/"+lock.LockID, role, nil)
		check(role+" releases a WH-T2 lock", 403, "FORBIDDEN", "DELETE", "/v1/locks/"+lock.LockID, role, nil)
		check(role+" locks in WH-T2", 403, "FORBIDDEN", "POST", "/v1/locks", role, map[string]any{"warehouseId": "WH-T2", "locationId": "M1", "scannerId": "SCANNER-1"})
	}
	for _, role := range []string{"supervisor", "cloud", "reader"} {
		check(role+" reads a WH-T2 allocation", 403, "FORBIDDEN", "GET", "/v1/allocations/T2-ALLOC", role, nil)
	}
	check("cloud allocates in WH-T2", 403, "FORBIDDEN", "POST", "/v1/allocations", "cloud",
		map[string]any{"allocationId": "X-T2", "orderId": "SO-X", "warehouseId": "WH-T2", "itemId": "IT-A", "quantity": 1})
	check("cloud cancels a WH-T2 allocation", 403, "FORBIDDEN", "DELETE", "/v1/allocations/T2-ALLOC", "cloud", nil)
	check("scanner releases another scanner's lock", 403, "FORBIDDEN", "DELETE", "/v1/locks/"+slock.LockID, "scanner", nil)
	check("scanner reads another scanner's lock", 403, "FORBIDDEN", "GET", "/v1/locks/"+slock.LockID, "scanner", nil)
	check("scanner locks for another scanner", 403, "SCANNER_MISMATCH", "POST", "/v1/locks", "scanner",
		map[string]any{"warehouseId": "WH-T1", "locationId": "L2", "scannerId": "SCANNER-OTHER"})
	check("scanner uploads as another scanner", 403, "SCANNER_MISMATCH", "POST", "/v1/transactions", "scanner", secUpload("SCANNER-OTHER", "WH-T1", "spoof-1"))

	// A listing leaves out what is out of scope rather than failing.
	var byOrder struct {
		Allocations []json.RawMessage `json:"allocations"`
	}
	if status, _, data := testkit.Call(t, "GET", r.in.url+"/v1/allocations?orderId=SO-T2", r.tokens["reader"], nil); status != 200 ||
		json.Unmarshal(data, &byOrder) != nil || len(byOrder.Allocations) != 0 {
		t.Errorf("a reader of WH-T1 listed WH-T2's order: %d %s", status, data)
	}
	var locks api.LockList
	if status, _, data := testkit.Call(t, "GET", r.in.url+"/v1/locks?warehouseId=WH-T1", r.tokens["scanner"], nil); status != 200 ||
		json.Unmarshal(data, &locks) != nil || len(locks.Locks) != 0 {
		t.Errorf("a scanner listed another scanner's locks: %d %s", status, data)
	}

	// In an upload, each out-of-scope transaction is rejected on its own
	// and never written; the rest goes on.
	before := r.writes()
	status, _, data = testkit.Call(t, "POST", r.in.url+"/v1/transactions?wait=applied", r.tokens["scanner"], map[string]any{
		"scannerId": "SCANNER-1", "sentAt": time.Now().UTC().Format(time.RFC3339Nano),
		"transactions": append(secUpload("SCANNER-1", "WH-T2", "mix-t2")["transactions"].([]map[string]any),
			secUpload("SCANNER-1", "WH-T1", "mix-t1")["transactions"].([]map[string]any)...)})
	var up api.UploadResponse
	if status != 200 || json.Unmarshal(data, &up) != nil || len(up.Results) != 2 {
		t.Fatalf("mixed upload: %d %s", status, data)
	}
	if res := up.Results[0]; res.Status != "rejected" || deref(res.Code) != "WAREHOUSE_NOT_PERMITTED" {
		t.Errorf("the WH-T2 transaction: %+v", res)
	}
	if res := up.Results[1]; res.Status != "accepted" || res.Outcome == nil || res.Outcome.Status != "applied" {
		t.Errorf("the WH-T1 transaction: %+v", res)
	}
	if got := r.writes() - before; got != 1 {
		t.Errorf("mixed upload wrote %d records, want 1 (the permitted transaction)", got)
	}
	var missing api.ErrorBody
	if code := do(t, "GET", r.in.url+"/v1/transactions/mix-t2", nil, &missing); code != 404 {
		t.Errorf("the rejected transaction is known: %d", code)
	}
	t.Logf("security: API1 object-level authorization: %d cross-warehouse cases, plus filtered lists and a mixed upload", n+3)
}

// TestSecurityAuthentication (OWASP API2): missing, malformed, unknown,
// wrong-secret, expired and revoked tokens are 401 UNAUTHENTICATED with
// WWW-Authenticate, and write nothing; the open endpoints stay open.
func TestSecurityAuthentication(t *testing.T) {
	cfg := testConfig(t)
	clock := &testClock{}
	cfg.Now = clock.Now
	r := newSecRig(t, cfg)
	exp := clock.Now().Add(time.Minute)
	expiring, _ := r.createToken("SCANNER-EXP", "scanner", []string{"WH-T1"}, &exp)
	revoked, revokedID := r.createToken("SCANNER-REV", "scanner", []string{"WH-T1"}, nil)
	if status, _, data := testkit.Call(t, "DELETE", r.in.url+"/v1/tokens/"+revokedID, testAdminToken, nil); status != 200 {
		t.Fatalf("revoke: %d %s", status, data)
	}
	wrongSecret := r.tokens["scanner"][:len(r.tokens["scanner"])-2] + "xx"
	body := secUpload("SCANNER-1", "WH-T1", "authn-1")
	n := 0
	for name, token := range map[string]string{
		"no token":              "",
		"empty bearer":          "raw:Bearer ",
		"basic scheme":          "raw:Basic YWRtaW46YWRtaW4=",
		"not a token":           "hello",
		"unknown id":            "ivs_aaaaaaaaaaaaaaaa_" + strings.Repeat("A", 43),
		"wrong secret":          wrongSecret,
		"revoked":               revoked,
		"admin token truncated": testAdminToken[:31],
	} {
		n++
		r.refused(name, 401, "UNAUTHENTICATED", "POST", "/v1/transactions", token, body)
	}
	// The expiring token works until its expiry, then not.
	if status, _, data := testkit.Call(t, "GET", r.in.url+"/v1/me", expiring, nil); status != 200 {
		t.Fatalf("before expiry: %d %s", status, data)
	}
	clock.advance(2 * time.Minute)
	r.refused("expired", 401, "UNAUTHENTICATED", "POST", "/v1/transactions", expiring, body)
	n++
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/subjects", "/schemas/ids/1", "/scanner/"} {
		if status, _, data := testkit.Call(t, "GET", r.in.url+path, "", nil); status != 200 {
			t.Errorf("open endpoint %s answered %d without a token: %.100s", path, status, data)
		}
	}
	t.Logf("security: API2 broken authentication: %d refused credentials, 6 open endpoints", n)
}

// TestSecurityPropertyLevelAuthorization (OWASP API3): a caller cannot set
// what the server owns (mass assignment) nor read what is secret.
func TestSecurityPropertyLevelAuthorization(t *testing.T) {
	r := newSecRig(t, testConfig(t))
	n := 0
	for name, extra := range map[string]map[string]any{
		"principal": {"principal": "admin"}, "receivedAt": {"receivedAt": "2020-01-01T00:00:00Z"}, "bodyHash": {"bodyHash": "x"},
	} {
		up := secUpload("SCANNER-1", "WH-T1", "mass-"+name)
		for k, v := range extra {
			up["transactions"].([]map[string]any)[0][k] = v
		}
		before := r.writes()
		status, _, data := testkit.Call(t, "POST", r.in.url+"/v1/transactions", r.tokens["scanner"], up)
		var res api.UploadResponse
		n++
		if status != 200 || json.Unmarshal(data, &res) != nil || res.Results[0].Status != "rejected" || deref(res.Results[0].Code) != "INVALID_TRANSACTION" {
			t.Errorf("an upload setting %s: %d %s", name, status, data)
		}
		if r.writes() != before {
			t.Errorf("an upload setting %s wrote something", name)
		}
	}
	for name, body := range map[string]map[string]any{
		"tokenId":      {"name": "x", "role": "reader", "warehouses": []string{"*"}, "tokenId": "chosen"},
		"hash":         {"name": "x", "role": "reader", "warehouses": []string{"*"}, "hash": "AAAA"},
		"createdBy":    {"name": "x", "role": "reader", "warehouses": []string{"*"}, "createdBy": "someone"},
		"scoped admin": {"name": "x", "role": "admin", "warehouses": []string{"WH-T1"}},
		"bad role":     {"name": "x", "role": "root", "warehouses": []string{"*"}},
	} {
		n++
		r.refused("token with "+name, 400, "INVALID_TOKEN_REQUEST", "POST", "/v1/tokens", testAdminToken, body)
	}
	status, _, data := testkit.Call(t, "GET", r.in.url+"/v1/tokens", testAdminToken, nil)
	if status != 200 || strings.Contains(string(data), r.tokens["scanner"]) || strings.Contains(strings.ToLower(string(data)), `"hash"`) ||
		strings.Contains(string(data), `"token":`) {
		t.Errorf("the token list shows secrets or hashes: %d %s", status, data)
	}
	t.Logf("security: API3 property-level authorization: %d mass-assignment cases, secrets never listed", n)
}

// TestSecurityResourceConsumption (OWASP API4): a token over its rate is
// refused 429 with Retry-After (others are not); bodies and batches over
// the limits are refused whole.
func TestSecurityResourceConsumption(t *testing.T) {
	cfg := testConfig(t)
	cfg.RateLimit = 5
	r := newSecRig(t, cfg)
	limited := 0
	var retryAfter string
	for range 40 {
		status, hdr, _ := testkit.Call(t, "GET", r.in.url+"/v1/me", r.tokens["reader"], nil)
		if status == 429 {
			limited++
			retryAfter = hdr.Get("Retry-After")
		}
	}
	if limited == 0 || retryAfter == "" {
		t.Fatalf("40 requests at once with a limit of 5/s: %d refused, Retry-After %q", limited, retryAfter)
	}
	r.refused("over the rate", 429, "RATE_LIMITED", "POST", "/v1/transactions", r.tokens["reader"], secUpload("SCANNER-1", "WH-T1", "rl-1"))
	if status, _, _ := testkit.Call(t, "GET", r.in.url+"/v1/me", r.tokens["cloud"], nil); status != 200 {
		t.Errorf("another token was limited too: %d", status)
	}
	time.Sleep(1500 * time.Millisecond) // the bucket refills
	big := `{"scannerId":"SCANNER-1","sentAt":"` + time.Now().UTC().Format(time.RFC3339) + `","transactions":[` + strings.Repeat(" ", 1<<20) + `]}`
	r.refused("body over 1 MiB", 413, "BODY_TOO_LARGE", "POST", "/v1/transactions", r.tokens["scanner"], big)
	ids := make([]string, 1001)
	for i := range ids {
		ids[i] = fmt.Sprintf("many-%d", i)
	}
	time.Sleep(time.Second)
	r.refused("1001 transactions", 413, "TOO_MANY_TRANSACTIONS", "POST", "/v1/transactions", r.tokens["scanner"], secUpload("SCANNER-1", "WH-T1", ids...))
	t.Logf("security: API4 unrestricted resource consumption: %d of 40 burst requests limited, 3 refusals checked", limited)
}

// TestSecurityMisconfiguration (OWASP API8): no CORS, defensive headers,
// no internals in error bodies.
func TestSecurityMisconfiguration(t *testing.T) {
	r := newSecRig(t, testConfig(t))
	_, hdr, _ := testkit.CallHeader(t, "OPTIONS", r.in.url+"/v1/transactions", "",
		http.Header{"Origin": {"https://evil.example"}, "Access-Control-Request-Method": {"POST"}}, nil)
	if v := hdr.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("a preflight from another origin got Access-Control-Allow-Origin %q", v)
	}
	_, hdr, _ = testkit.CallHeader(t, "GET", r.in.url+"/v1/positions?warehouseId=WH-T1&itemId=IT-A", r.tokens["reader"],
		http.Header{"Origin": {"https://evil.example"}}, nil)
	for h, want := range map[string]string{"Access-Control-Allow-Origin": "", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
		if got := hdr.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	for _, path := range []string{"/v1/nope", "/v1/transactions/%00"} {
		_, _, data := testkit.Call(t, "GET", r.in.url+path, r.tokens["reader"], nil)
		for _, leak := range []string{"goroutine", ".go:", "pebble", "/tmp/", "panic"} {
			if strings.Contains(string(data), leak) {
				t.Errorf("%s: error body leaks %q: %s", path, leak, data)
			}
		}
	}
}

// TestSecurityRevocationReachesEveryInstance: a token revoked on one
// instance is refused by another within 5 seconds.
func TestSecurityRevocationReachesEveryInstance(t *testing.T) {
	brokers := sharedBrokers(t)
	cfgA, cfgB := testConfig(t), testConfig(t)
	cfgB.TopicPrefix, cfgB.Group = cfgA.TopicPrefix, cfgA.Group
	cfgA.Brokers, cfgB.Brokers = brokers, brokers
	a := newSecRig(t, cfgA)
	b := startInstance(t, cfgB)
	token, id := a.createToken("SCANNER-R", "scanner", []string{"WH-T1"}, nil)
	testkit.Eventually(t, 10*time.Second, func() error {
		if status, _, _ := testkit.Call(t, "GET", b.url+"/v1/me", token, nil); status != 200 {
			return testkit.Not("instance B does not accept a token created on A: %d", status)
		}
		return nil
	})
	if status, _, data := testkit.Call(t, "DELETE", a.in.url+"/v1/tokens/"+id, testAdminToken, nil); status != 200 {
		t.Fatalf("revoke: %d %s", status, data)
	}
	revokedAt := time.Now()
	testkit.Eventually(t, 5*time.Second, func() error {
		if status, _, _ := testkit.Call(t, "GET", b.url+"/v1/me", token, nil); status != 401 {
			return testkit.Not("instance B still accepts the token after its revocation on A: %d", status)
		}
		return nil
	})
	t.Logf("security: revocation reached the other instance in %s", time.Since(revokedAt).Round(time.Millisecond))
}

// testClock is the wall clock shifted by what the test advanced it.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}
