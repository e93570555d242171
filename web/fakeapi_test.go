package web

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/api/apitest"
	"github.com/invsync/invsync/processors"
)

// fakeAPI is an in-test implementation of the parts of invsync's /v1 API
// the scanner app uses, written from the contract (spec "Scanner upload",
// "Locks", "Security (v2)", "Scanner side (v2)", count tasks): bearer
// tokens, GET /v1/me, the catalog with an ETag, uploads with idempotency by
// transactionId and ?wait=applied outcomes, positions with versions,
// location locks and count tasks. It records what it was sent so tests can
// count, and has switches to refuse, fail or hang.
type fakeAPI struct {
	t  *testing.T
	mu sync.Mutex

	tokens  map[string]identity // token → who
	revoked map[string]bool
	catalog processors.CatalogDoc
	// retired locations: still in the catalog the device may hold, no
	// longer valid here (the scan is rejected UNKNOWN_LOCATION).
	retired map[string]bool

	// applied: transactionId → the body first accepted and how many
	// times it was applied (must stay 1).
	accepted   map[string]acceptedTx
	order      []string // accepted ids in arrival order
	duplicates int
	uploads    []uploadLog
	positions  map[string]*position // key(wh,item,loc,lot)
	locks      map[string]*lock     // lockId
	released   []string
	countTasks []map[string]any // nil: the endpoint answers 404
	requests   []string         // "METHOD /path" of every /v1 request

	// Switches.
	failNext    []int         // statuses to answer the next uploads with, before doing anything
	retryAfter  string        // Retry-After on those
	uploadDelay time.Duration // how long each upload takes to answer
	notModified int           // catalog requests answered 304
	hangAfter   chan bool     // when set, the next upload is accepted, then never answered (closed to release)
	hung        chan bool     // receives when an upload hangs
}

// identity is who a token is: the answer of GET /v1/me.
type identity = api.Me

type acceptedTx struct {
	tx      map[string]any
	hash    string
	applied int
	scanner string
	outcome map[string]any
}

type uploadLog struct {
	scannerID string
	sentAt    time.Time
	ids       []string
	at        time.Time
}

type position struct {
	onHand, version int64
	updatedAt       time.Time
}

type lock struct {
	id, wh, loc, scanner string
	acquired, expires    time.Time
	released             bool
	releasedAt           *time.Time
}

// view is the lock as the API shows it.
func (l *lock) view() api.Lock {
	v := api.Lock{LockID: l.id, WarehouseID: l.wh, LocationID: l.loc, ScannerID: l.scanner, AcquiredAt: l.acquired.UTC(),
		ExpiresAt: l.expires.UTC(), ReleasedAt: l.releasedAt, Status: api.LockActive}
	switch {
	case l.released:
		v.Status = api.LockReleased
	case !time.Now().Before(l.expires):
		v.Status = api.LockExpired
	}
	return v
}

func newFakeAPI(t *testing.T) *fakeAPI {
	f := &fakeAPI{
		t:         t,
		tokens:    map[string]identity{},
		revoked:   map[string]bool{},
		retired:   map[string]bool{},
		accepted:  map[string]acceptedTx{},
		positions: map[string]*position{},
		locks:     map[string]*lock{},
	}
	f.catalog = processors.CatalogDoc{
		Warehouses: []processors.Warehouse{
			{WarehouseID: "WH-001", Locations: []string{"A-01-01", "A-01-02", "A-05-02", "B-01-01", "B-02-03", "C-07-01", "Z-99-99"}},
			{WarehouseID: "WH-002", Locations: []string{"X-01-01"}},
		},
		Items: []processors.Item{
			{ItemID: "ITEM-100", Description: "Widget, small", MaxTransactionQuantity: 10000},
			{ItemID: "ITEM-200", Description: "Widget, large", MaxTransactionQuantity: 500},
			{ItemID: "ITEM-300", Description: "Bracket", MaxTransactionQuantity: 10000, AbcClass: "A"},
			{ItemID: "ITEM-LOT", Description: "Adhesive (lot-tracked)", LotTracked: true, MaxTransactionQuantity: 1000},
		},
	}
	return f
}

// serve starts an HTTP server on loopback with the app at /scanner/ and
// this fake at /v1/.
func (f *fakeAPI) serve() *httptest.Server {
	mux := http.NewServeMux()
	app := Scanner()
	mux.Handle("/scanner/", app)
	mux.Handle("/scanner", app)
	mux.Handle("/v1/", f)
	srv := httptest.NewServer(mux)
	f.t.Cleanup(srv.Close)
	return srv
}

func (f *fakeAPI) addToken(token, name string, warehouses ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tokens[token] = identity{TokenID: "tok-" + name, Name: name, Role: "scanner", Warehouses: warehouses}
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	f.mu.Unlock()

	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	who, known := f.tokens[token]
	refused := !ok || !known || f.revoked[token]
	f.mu.Unlock()
	if refused {
		w.Header().Set("WWW-Authenticate", "Bearer")
		apitest.WriteError(w, http.StatusUnauthorized, api.CodeUnauthenticated, "missing, invalid, expired or revoked token")
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	switch {
	case r.Method == http.MethodGet && path == "me":
		apitest.WriteJSON(w, http.StatusOK, who)
	case r.Method == http.MethodGet && path == "catalog":
		f.getCatalog(w, r, who)
	case r.Method == http.MethodPost && path == "transactions":
		f.postTransactions(w, r, who)
	case r.Method == http.MethodGet && path == "positions":
		f.getPositions(w, r)
	case r.Method == http.MethodPost && path == "locks":
		f.postLock(w, r, who)
	case r.Method == http.MethodDelete && strings.HasPrefix(path, "locks/"):
		f.deleteLock(w, strings.TrimPrefix(path, "locks/"))
	case r.Method == http.MethodGet && path == "count-tasks":
		f.mu.Lock()
		tasks := f.countTasks
		f.mu.Unlock()
		if tasks == nil {
			apitest.WriteError(w, http.StatusNotFound, api.CodeNotFound, "no such endpoint: GET /v1/count-tasks")
			return
		}
		apitest.WriteJSON(w, http.StatusOK, map[string]any{"countTasks": tasks})
	default:
		apitest.WriteError(w, http.StatusNotFound, api.CodeNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	}
}

func allowed(who identity, wh string) bool {
	return slices.Contains(who.Warehouses, wh) || slices.Contains(who.Warehouses, "*")
}

func (f *fakeAPI) getCatalog(w http.ResponseWriter, r *http.Request, who identity) {
	f.mu.Lock()
	doc := f.catalog
	f.mu.Unlock()
	if wh := r.URL.Query().Get("warehouseId"); wh != "" {
		if !allowed(who, wh) {
			apitest.WriteError(w, http.StatusForbidden, api.CodeForbidden, "warehouse "+wh+" is outside this token's scope")
			return
		}
		var only []processors.Warehouse
		for _, x := range doc.Warehouses {
			if x.WarehouseID == wh {
				only = append(only, x)
			}
		}
		doc.Warehouses = only
	} else { // the warehouses of the token's scope
		doc.Warehouses = slices.DeleteFunc(slices.Clone(doc.Warehouses), func(x processors.Warehouse) bool { return !allowed(who, x.WarehouseID) })
	}
	body, _ := json.Marshal(doc)
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		f.mu.Lock()
		f.notModified++
		f.mu.Unlock()
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

func posKey(wh, item, loc, lot string) string { return wh + "|" + item + "|" + loc + "|" + lot }

// canonical is the idempotency hash of a transaction body.
func canonical(tx map[string]any) string {
	b, _ := json.Marshal(tx) // map keys are sorted
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (f *fakeAPI) postTransactions(w http.ResponseWriter, r *http.Request, who identity) {
	var up struct {
		ScannerID    string           `json:"scannerId"`
		SentAt       string           `json:"sentAt"`
		Transactions []map[string]any `json:"transactions"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.UseNumber()
	if err := dec.Decode(&up); err != nil {
		apitest.WriteError(w, http.StatusBadRequest, api.CodeInvalidRequest, "malformed request body: "+err.Error())
		return
	}
	sentAt, err := time.Parse(time.RFC3339Nano, up.SentAt)
	if err != nil || up.ScannerID == "" || len(up.Transactions) == 0 {
		apitest.WriteError(w, http.StatusBadRequest, api.CodeInvalidRequest, "scannerId, sentAt and transactions are required")
		return
	}
	if len(up.Transactions) > 1000 {
		apitest.WriteError(w, http.StatusRequestEntityTooLarge, api.CodeTooManyTransactions, "at most 1000 a request")
		return
	}
	if up.ScannerID != who.Name {
		apitest.WriteError(w, http.StatusForbidden, api.CodeScannerMismatch, "this token uploads as "+who.Name)
		return
	}
	f.mu.Lock()
	if len(f.failNext) > 0 {
		status := f.failNext[0]
		f.failNext = f.failNext[1:]
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		f.mu.Unlock()
		apitest.WriteError(w, status, api.CodeKafkaUnavailable, "nothing in this request was accepted; keep it queued and retry")
		return
	}
	log := uploadLog{scannerID: up.ScannerID, sentAt: sentAt, at: time.Now()}
	results := make([]map[string]any, 0, len(up.Transactions))
	wait := r.URL.Query().Get("wait") == "applied"
	for _, tx := range up.Transactions {
		id, _ := tx["transactionId"].(string)
		log.ids = append(log.ids, id)
		res := f.take(tx, id, who)
		if !wait { // outcomes are answered with ?wait=applied only
			delete(res, "outcome")
		}
		results = append(results, res)
	}
	f.uploads = append(f.uploads, log)
	hang, hung, delay := f.hangAfter, f.hung, f.uploadDelay
	f.hangAfter = nil
	f.mu.Unlock()
	time.Sleep(delay)
	if hang != nil {
		// Accepted and durably "written"; the device never hears it.
		if hung != nil {
			hung <- true
		}
		select {
		case <-hang:
		case <-r.Context().Done():
		}
		return
	}
	apitest.WriteJSON(w, http.StatusOK, map[string]any{"results": results})
}

// take decides one transaction; f.mu is held.
func (f *fakeAPI) take(tx map[string]any, id string, who identity) map[string]any {
	res := map[string]any{"transactionId": id, "status": "rejected", "code": nil, "message": nil}
	reject := func(code, msg string) map[string]any {
		res["code"], res["message"] = code, msg
		return res
	}
	if id == "" {
		return reject("INVALID_TRANSACTION", "transactionId is required")
	}
	h := canonical(tx)
	if prev, ok := f.accepted[id]; ok {
		if prev.hash != h {
			return reject("IDEMPOTENCY_MISMATCH", "transactionId "+id+" was already accepted with a different body")
		}
		f.duplicates++
		res["status"] = "duplicate"
		res["outcome"] = prev.outcome
		return res
	}
	str := func(k string) string { s, _ := tx[k].(string); return s }
	wh, item, loc, lot, typ := str("warehouseId"), str("itemId"), str("locationId"), str("lotNumber"), str("type")
	if !allowed(who, wh) {
		return reject("WAREHOUSE_NOT_PERMITTED", "warehouse "+wh+" is outside this token's scope")
	}
	qn, _ := tx["quantity"].(json.Number)
	q, err := qn.Int64()
	if err != nil || str("timestamp") == "" {
		return reject("INVALID_TRANSACTION", "quantity and timestamp are required")
	}
	var locs []string
	for _, x := range f.catalog.Warehouses {
		if x.WarehouseID == wh {
			locs = x.Locations
		}
	}
	if !slices.Contains(locs, loc) || f.retired[loc] {
		return reject("UNKNOWN_LOCATION", fmt.Sprintf("location %q is not a location of warehouse %s", loc, wh))
	}
	known := slices.ContainsFunc(f.catalog.Items, func(i processors.Item) bool { return i.ItemID == item })
	if !known {
		return reject("UNKNOWN_ITEM", fmt.Sprintf("item %q is not in the catalog", item))
	}
	switch {
	case (typ == "RECEIPT" || typ == "PICK" || typ == "MOVE") && q <= 0,
		typ == "ADJUSTMENT" && q == 0, typ == "CYCLE_COUNT" && q < 0:
		return reject("INVALID_TRANSACTION", "quantity sign")
	}
	res["status"] = "accepted"
	at := acceptedTx{tx: tx, hash: h, applied: 1, scanner: who.Name}
	at.outcome = f.apply(tx, typ, wh, item, loc, lot, q, who.Name)
	res["outcome"] = at.outcome
	f.accepted[id] = at
	f.order = append(f.order, id)
	return res
}

// apply is the processors' part, much simplified: versions, locks, onHand.
func (f *fakeAPI) apply(tx map[string]any, typ, wh, item, loc, lot string, q int64, scanner string) map[string]any {
	k := posKey(wh, item, loc, lot)
	p := f.positions[k]
	if p == nil {
		p = &position{}
		f.positions[k] = p
	}
	if ev, ok := tx["expectedVersion"].(json.Number); ok {
		v, _ := ev.Int64()
		if v != p.version {
			return map[string]any{"status": "rejected", "code": "VERSION_CONFLICT",
				"message":         fmt.Sprintf("expectedVersion %d, the record is at version %d", v, p.version),
				"resultingOnHand": p.onHand, "version": p.version, "warnings": []string{}}
		}
	}
	if typ == "CYCLE_COUNT" || typ == "ADJUSTMENT" {
		override, _ := tx["override"].(bool)
		for _, l := range f.locks {
			if l.wh == wh && l.loc == loc && l.scanner != scanner && !l.released && time.Now().Before(l.expires) && !override {
				return map[string]any{"status": "rejected", "code": "LOCATION_LOCKED",
					"message": "location " + loc + " is locked by " + l.scanner, "resultingOnHand": p.onHand, "version": p.version, "warnings": []string{}}
			}
		}
	}
	p.onHand = apitest.OnHandAfter(typ, p.onHand, q)
	p.version++
	p.updatedAt = time.Now()
	if typ == "MOVE" {
		to, _ := tx["toLocationId"].(string)
		tp := f.positions[posKey(wh, item, to, lot)]
		if tp == nil {
			tp = &position{}
			f.positions[posKey(wh, item, to, lot)] = tp
		}
		tp.onHand += q
		tp.version++
		tp.updatedAt = p.updatedAt
	}
	if id, ok := tx["countTaskId"].(string); ok {
		for _, t := range f.countTasks {
			if t["countTaskId"] == id {
				t["status"] = "DONE"
			}
		}
	}
	return map[string]any{"status": "applied", "code": nil, "resultingOnHand": p.onHand, "version": p.version, "warnings": []string{}}
}

// getPositions answers the records of a warehouse's item, at one location
// or lot when they are given.
func (f *fakeAPI) getPositions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	wh, item := q.Get("warehouseId"), q.Get("itemId")
	if wh == "" || item == "" {
		apitest.WriteError(w, http.StatusBadRequest, api.CodeInvalidRequest, "warehouseId and itemId query parameters are required")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := api.Positions{Positions: []api.Position{}}
	for _, k := range slices.Sorted(maps.Keys(f.positions)) {
		parts := strings.Split(k, "|")
		if parts[0] != wh || parts[1] != item || q.Has("locationId") && parts[2] != q.Get("locationId") ||
			q.Has("lotNumber") && parts[3] != q.Get("lotNumber") {
			continue
		}
		p := f.positions[k]
		out.Positions = append(out.Positions, api.Position{WarehouseID: wh, ItemID: item, LocationID: parts[2], LotNumber: parts[3],
			OnHand: p.onHand, Available: p.onHand, Version: p.version, UpdatedAt: p.updatedAt.UTC()})
		out.Totals.OnHand += p.onHand
		out.Totals.Available += p.onHand
	}
	apitest.WriteJSON(w, http.StatusOK, out)
}

func (f *fakeAPI) postLock(w http.ResponseWriter, r *http.Request, who identity) {
	var req struct {
		WarehouseID string `json:"warehouseId"`
		LocationID  string `json:"locationId"`
		ScannerID   string `json:"scannerId"`
		TTLSeconds  int    `json:"ttlSeconds"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		apitest.WriteError(w, http.StatusBadRequest, api.CodeInvalidLock, "bad lock request")
		return
	}
	if req.ScannerID != who.Name {
		apitest.WriteError(w, http.StatusForbidden, api.CodeScannerMismatch, "this token belongs to scanner "+who.Name+"; it may lock locations for itself only")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, l := range f.locks {
		if l.wh == req.WarehouseID && l.loc == req.LocationID && !l.released && time.Now().Before(l.expires) && l.scanner != req.ScannerID {
			end := l.expires.UTC()
			apitest.WriteJSON(w, http.StatusConflict, api.ErrorBody{Error: api.Error{Code: api.CodeLocationLocked,
				Message: "location " + l.loc + " is locked by " + l.scanner, Holder: l.scanner, ExpiresAt: &end, LockID: l.id}})
			return
		}
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	l := &lock{id: "lock-" + strconv.Itoa(len(f.locks)+1), wh: req.WarehouseID, loc: req.LocationID, scanner: req.ScannerID,
		acquired: now, expires: now.Add(time.Duration(req.TTLSeconds) * time.Second)}
	f.locks[l.id] = l
	apitest.WriteJSON(w, http.StatusCreated, l.view())
}

func (f *fakeAPI) deleteLock(w http.ResponseWriter, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.locks[id]
	if !ok {
		apitest.WriteError(w, http.StatusNotFound, api.CodeLockNotFound, "lock "+id+" does not exist")
		return
	}
	if !l.released {
		at := time.Now().UTC()
		l.released, l.releasedAt = true, &at
	}
	f.released = append(f.released, id)
	apitest.WriteJSON(w, http.StatusOK, l.view())
}

// snapshot copies what the tests assert on.
type fakeState struct {
	order       []string
	applied     map[string]int
	txs         map[string]map[string]any
	outcomes    map[string]map[string]any
	duplicates  int
	uploads     []uploadLog
	released    []string
	requests    []string
	notModified int
}

func (f *fakeAPI) state() fakeState {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := fakeState{order: slices.Clone(f.order), applied: map[string]int{}, txs: map[string]map[string]any{},
		outcomes: map[string]map[string]any{}, duplicates: f.duplicates, uploads: slices.Clone(f.uploads),
		released: slices.Clone(f.released), requests: slices.Clone(f.requests), notModified: f.notModified}
	for id, a := range f.accepted {
		s.applied[id] = a.applied
		s.txs[id] = a.tx
		s.outcomes[id] = a.outcome
	}
	return s
}

func (s fakeState) count(prefix string) int {
	n := 0
	for _, r := range s.requests {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}
