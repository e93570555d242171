package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/auth"
	"github.com/invsync/invsync/processors"
)

// Allocator writes allocation requests and cancellations durably.
type Allocator interface {
	ProduceAllocation(ctx context.Context, req *processors.AllocRequest) error
}

// AllocationReader reads allocations from the processors' state.
type AllocationReader interface {
	Allocation(ctx context.Context, wh, item, id string) (processors.Allocation, bool, error)
	FindAllocation(ctx context.Context, id string) (processors.Allocation, bool, error)
	OrderAllocations(ctx context.Context, orderID string) ([]processors.Allocation, error)
}

// DecisionSubscriber delivers allocation decisions as they are committed.
type DecisionSubscriber interface {
	Subscribe(id string) (<-chan processors.Allocation, func())
}

// allocPending remembers allocation requests this instance produced and
// has not yet seen decided, for idempotent answers in that window.
type allocPending struct {
	mu sync.Mutex
	m  map[string]pendingTx // hash, and whether Kafka acknowledged it
	wh map[string]string    // the warehouse of each, for scope checks
}

// viewOf converts the processor's allocation to its wire form.
func viewOf(a *processors.Allocation) api.Allocation {
	v := api.Allocation{AllocationID: a.AllocationID, OrderID: a.OrderID, OrderLine: a.OrderLine,
		WarehouseID: a.WarehouseID, ItemID: a.ItemID, Status: a.Status, RequestedQuantity: a.RequestedQuantity,
		ConfirmedQuantity: a.ConfirmedQuantity, BackorderQuantity: a.BackorderQuantity, PickedQuantity: a.PickedQuantity,
		Lines: make([]api.AllocationLine, len(a.Lines)), ExpiresAt: a.ExpiresAt,
		History: make([]api.AllocationHistory, len(a.History))}
	for i, l := range a.Lines {
		v.Lines[i] = api.AllocationLine(l)
	}
	for i, h := range a.History {
		v.History[i] = api.AllocationHistory(h)
	}
	if a.Reason != "" {
		v.Reason = ptr(a.Reason)
	}
	return v
}

func (s *Server) allocationRoutes(v1 *gin.RouterGroup) {
	if s.cfg.Allocator == nil || s.cfg.Allocations == nil || s.cfg.Decisions == nil {
		return
	}
	s.allocs = &allocPending{m: map[string]pendingTx{}, wh: map[string]string{}}
	v1.POST("/allocations", allow(auth.WriteAllocations), s.requireOpen, s.postAllocation)
	v1.GET("/allocations", allow(auth.ReadAllocations), s.listAllocations)
	v1.GET("/allocations/:id", allow(auth.ReadAllocations), s.getAllocation)
	v1.DELETE("/allocations/:id", allow(auth.WriteAllocations), s.requireOpen, s.deleteAllocation)
}

// decodeAllocation validates an allocation request body.
func (s *Server) decodeAllocation(body []byte, now time.Time) (processors.AllocRequest, *RequestError) {
	var j api.AllocationRequest
	if err := strictUnmarshal(body, &j); err != nil {
		return processors.AllocRequest{}, &RequestError{Status: 400, Code: api.CodeInvalidAllocation, Message: "malformed allocation request: " + describeJSONError(err)}
	}
	bad := func(code api.ErrorCode, format string, args ...any) (processors.AllocRequest, *RequestError) {
		return processors.AllocRequest{}, &RequestError{Status: 400, Code: code, Message: fmt.Sprintf(format, args...)}
	}
	for name, v := range map[string]*string{"allocationId": j.AllocationID, "orderId": j.OrderID, "warehouseId": j.WarehouseID, "itemId": j.ItemID} {
		if v == nil {
			return bad(api.CodeInvalidAllocation, "%s is required", name)
		}
		if msg := processors.ValidAllocationID(name, *v); msg != "" {
			return bad(api.CodeInvalidAllocation, "%s", msg)
		}
	}
	if j.Quantity == nil {
		return bad(api.CodeInvalidAllocation, "quantity is required")
	}
	qty, rej := parseInteger("quantity", *j.Quantity)
	if rej != nil {
		return bad(api.ErrorCode(rej.Code), "%s", rej.Message)
	}
	if qty <= 0 {
		return bad(api.CodeInvalidAllocation, "quantity must be > 0, got %d", qty)
	}
	line := int32(1)
	if j.OrderLine != nil {
		if *j.OrderLine < 0 {
			return bad(api.CodeInvalidAllocation, "orderLine must be >= 0, got %d", *j.OrderLine)
		}
		line = *j.OrderLine
	}
	req := processors.AllocRequest{
		Action: processors.ActionAllocate, AllocationID: *j.AllocationID, OrderID: *j.OrderID, OrderLine: line,
		WarehouseID: *j.WarehouseID, ItemID: *j.ItemID, Quantity: qty, LocationID: deref(j.LocationID),
		LotNumber: deref(j.LotNumber), AllowPartial: j.AllowPartial != nil && *j.AllowPartial,
		RequestedAt: now.UTC().Truncate(time.Millisecond),
	}
	if j.ExpiresAt != nil {
		t, err := parseTime(*j.ExpiresAt)
		if err != nil {
			return bad(api.CodeInvalidAllocation, "expiresAt: %v", err)
		}
		if !t.After(now) {
			return bad(api.CodeInvalidAllocation, "expiresAt %s is not in the future", *j.ExpiresAt)
		}
		t = t.Truncate(time.Millisecond)
		req.ExpiresAt = &t
	}
	// Check against the catalog the way a transaction is: a PICK of the
	// quantity at the preferred location (or any valid one).
	probe := processors.Transaction{TransactionID: req.AllocationID, Type: processors.Pick, WarehouseID: req.WarehouseID,
		ItemID: req.ItemID, LocationID: req.LocationID, LotNumber: req.LotNumber, Quantity: qty}
	cat := s.cfg.Catalog.Catalog()
	if probe.LocationID == "" {
		probe.LocationID = anyLocation(cat, req.WarehouseID)
	}
	if r := cat.Check(&probe); r != nil && r.Code != processors.CodeInvalidTransaction {
		return bad(api.ErrorCode(r.Code), "%s", r.Message)
	} else if r != nil && req.LotNumber != "" {
		return bad(api.CodeInvalidAllocation, "%s", r.Message)
	}
	req.BodyHash = req.Hash()
	return req, nil
}

func anyLocation(cat *processors.Catalog, wh string) string {
	for _, w := range cat.Doc().Warehouses {
		if w.WarehouseID == wh && len(w.Locations) > 0 {
			return w.Locations[0]
		}
	}
	return "?"
}

func (s *Server) postAllocation(c *gin.Context) {
	wait, ok := waitQuery(c, "decided")
	if !ok {
		return
	}
	body, ok := readBody(c, MaxBodyBytes)
	if !ok {
		return
	}
	req, rerr := s.decodeAllocation(body, s.cfg.Now())
	if rerr != nil {
		writeError(c, rerr.Status, rerr.Code, rerr.Message)
		return
	}
	if !inScope(c, req.WarehouseID) {
		return
	}
	ctx := c.Request.Context()
	existing, found, err := s.cfg.Allocations.Allocation(ctx, req.WarehouseID, req.ItemID, req.AllocationID)
	if _, ok := partitionUnavailable(err); err != nil && !ok {
		s.stateError(c, err)
		return
	}
	if ownedElsewhere(err) && !forwarded(c) {
		// Another instance owns the stock key: it decides, and it
		// answers for the allocation.
		if s.forwardToOwner(c, err, body) {
			return
		}
	}
	if found {
		if !bodyHashEqual(existing.BodyHash, req.BodyHash) {
			writeError(c, http.StatusConflict, api.CodeIdempotencyMismatch,
				"allocationId "+req.AllocationID+" already exists with a different request; use a new allocationId for a new reservation")
			return
		}
		c.JSON(http.StatusOK, viewOf(&existing))
		return
	}
	s.allocs.mu.Lock()
	p, inFlight := s.allocs.m[req.AllocationID]
	if inFlight && !p.hash.equal(req.BodyHash) {
		s.allocs.mu.Unlock()
		writeError(c, http.StatusConflict, api.CodeIdempotencyMismatch,
			"allocationId "+req.AllocationID+" is being decided for a different request")
		return
	}
	if inFlight && p.acked {
		s.allocs.mu.Unlock()
		s.tentativeOrDecided(c, &req, wait, nil)
		return
	}
	// New, or still being written by another request that may fail:
	// write it (again); the processor decides an allocationId once.
	if !inFlight {
		s.allocs.m[req.AllocationID] = pendingTx{hash: hashOf(req.BodyHash)}
		s.allocs.wh[req.AllocationID] = req.WarehouseID
	}
	s.allocs.mu.Unlock()

	ch, cancel := s.cfg.Decisions.Subscribe(req.AllocationID)
	defer cancel()
	if err := s.cfg.Allocator.ProduceAllocation(ctx, &req); err != nil {
		if !inFlight {
			s.allocs.mu.Lock()
			delete(s.allocs.m, req.AllocationID)
			delete(s.allocs.wh, req.AllocationID)
			s.allocs.mu.Unlock()
		}
		s.unavailable(c, err)
		return
	}
	s.allocs.mu.Lock()
	if p, ok := s.allocs.m[req.AllocationID]; ok {
		p.acked = true
		s.allocs.m[req.AllocationID] = p
	}
	s.allocs.mu.Unlock()
	if !inFlight {
		go s.forgetWhenDecided(req.AllocationID)
	}
	s.tentativeOrDecided(c, &req, wait, ch)
}

// forgetWhenDecided drops the pending entry once the decision is stored
// (or after a minute; the stored allocation answers from then on).
func (s *Server) forgetWhenDecided(id string) {
	ch, cancel := s.cfg.Decisions.Subscribe(id)
	defer cancel()
	select {
	case <-ch:
	case <-time.After(time.Minute):
	}
	s.allocs.mu.Lock()
	delete(s.allocs.m, id)
	delete(s.allocs.wh, id)
	s.allocs.mu.Unlock()
}

func (s *Server) tentativeOrDecided(c *gin.Context, req *processors.AllocRequest, wait bool, ch <-chan processors.Allocation) {
	if wait {
		if ch == nil {
			var cancel func()
			ch, cancel = s.cfg.Decisions.Subscribe(req.AllocationID)
			defer cancel()
			// It may have been decided before we subscribed.
			if a, ok, err := s.cfg.Allocations.Allocation(c.Request.Context(), req.WarehouseID, req.ItemID, req.AllocationID); err == nil && ok {
				c.JSON(http.StatusOK, viewOf(&a))
				return
			}
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.MaxWait)
		defer cancel()
		select {
		case a := <-ch:
			c.JSON(http.StatusOK, viewOf(&a))
			return
		case <-ctx.Done():
		}
	}
	c.JSON(http.StatusAccepted, api.AllocationAnswer{AllocationID: req.AllocationID, Status: processors.AllocTentative})
}

func (s *Server) getAllocation(c *gin.Context) {
	a, found, err := s.cfg.Allocations.FindAllocation(c.Request.Context(), c.Param("id"))
	if found && !inScope(c, a.WarehouseID) {
		return
	}
	if wh, pending := s.pendingAllocWarehouse(c.Param("id")); !found && pending && !inScope(c, wh) {
		return
	}
	relayed, allAnswered := s.askPeersIfMissing(c, found, err)
	switch {
	case found:
		c.JSON(http.StatusOK, viewOf(&a))
	case relayed:
		// Decided on the partition's owner (or tentative there).
	case s.isPendingAlloc(c.Param("id")):
		c.JSON(http.StatusOK, api.AllocationAnswer{AllocationID: c.Param("id"), Status: processors.AllocTentative})
	case s.unknownYet(c, err, allAnswered):
		// Never a 404 for an allocation that may exist.
	default:
		writeError(c, http.StatusNotFound, api.CodeAllocationNotFound, "allocation "+c.Param("id")+" does not exist")
	}
}

func (s *Server) isPendingAlloc(id string) bool {
	_, ok := s.pendingAllocWarehouse(id)
	return ok
}

// pendingAllocWarehouse returns the warehouse of an allocation this
// instance accepted and has not seen decided.
func (s *Server) pendingAllocWarehouse(id string) (string, bool) {
	s.allocs.mu.Lock()
	defer s.allocs.mu.Unlock()
	_, ok := s.allocs.m[id]
	return s.allocs.wh[id], ok
}

func (s *Server) listAllocations(c *gin.Context) {
	order := c.Query("orderId")
	if order == "" {
		writeError(c, http.StatusBadRequest, api.CodeInvalidRequest, "orderId query parameter is required")
		return
	}
	as, err := s.cfg.Allocations.OrderAllocations(c.Request.Context(), order)
	if err != nil && !ownedElsewhere(err) {
		s.stateError(c, err)
		return
	}
	out := make([]api.Allocation, 0, len(as))
	for i := range as {
		if mayAccess(c, as[i].WarehouseID) { // others' warehouses are left out
			out = append(out, viewOf(&as[i]))
		}
	}
	if err != nil && !forwarded(c) && s.cfg.Router != nil {
		// Other instances own the other partitions: gather theirs.
		peers, perr := s.cfg.Router.PeerURLs(c.Request.Context())
		if perr != nil {
			s.stateError(c, err)
			return
		}
		for _, url := range peers {
			status, _, data, ferr := s.send(c.Request.Context(), http.MethodGet, url+c.Request.URL.RequestURI(), nil)
			var part api.AllocationList
			if ferr != nil || status != http.StatusOK || json.Unmarshal(data, &part) != nil {
				s.stateError(c, err)
				return
			}
			out = append(out, part.Allocations...)
		}
	}
	c.JSON(http.StatusOK, api.AllocationList{OrderID: order, Allocations: out})
}

// deleteAllocation cancels an allocation and answers its state after the
// cancellation (waiting up to MaxWait for the decision).
func (s *Server) deleteAllocation(c *gin.Context) {
	id := c.Param("id")
	ctx := c.Request.Context()
	a, found, err := s.cfg.Allocations.FindAllocation(ctx, id)
	if !found {
		if err != nil && s.fanOut(c, nil) {
			return
		}
		if err != nil && (s.cfg.Router == nil || !ownedElsewhere(err)) {
			s.stateError(c, err)
			return
		}
		writeError(c, http.StatusNotFound, api.CodeAllocationNotFound, "allocation "+id+" does not exist")
		return
	}
	if !inScope(c, a.WarehouseID) {
		return
	}
	if !a.Active() {
		c.JSON(http.StatusOK, viewOf(&a))
		return
	}
	ch, cancel := s.cfg.Decisions.Subscribe(id)
	defer cancel()
	req := processors.AllocRequest{Action: processors.ActionCancel, AllocationID: id, OrderID: a.OrderID,
		OrderLine: a.OrderLine, WarehouseID: a.WarehouseID, ItemID: a.ItemID, RequestedAt: s.cfg.Now().UTC()}
	if err := s.cfg.Allocator.ProduceAllocation(ctx, &req); err != nil {
		s.unavailable(c, err)
		return
	}
	wctx, wcancel := context.WithTimeout(ctx, s.cfg.MaxWait)
	defer wcancel()
	for {
		select {
		case d := <-ch:
			if d.Status == processors.AllocCancelled || !d.Active() {
				c.JSON(http.StatusOK, viewOf(&d))
				return
			}
		case <-wctx.Done():
			c.JSON(http.StatusAccepted, api.AllocationAnswer{AllocationID: id, Status: a.Status, Cancellation: "pending"})
			return
		}
	}
}
