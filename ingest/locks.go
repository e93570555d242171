package ingest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/auth"
	"github.com/invsync/invsync/processors"
)

// Locker grants, releases and lists location locks (pipeline.LockTable).
type Locker interface {
	// Acquire asks for l; granted is false when another scanner's lock,
	// holder, has the location.
	Acquire(ctx context.Context, l processors.Lock) (lock processors.Lock, granted bool, holder processors.Lock, err error)
	// Release releases a lock as of at; found is false for an unknown lock.
	Release(ctx context.Context, lockID string, at time.Time) (lock processors.Lock, found bool, err error)
	Get(lockID string) (processors.Lock, bool)
	Active(wh string, at time.Time) []processors.Lock
}

// codeInvalidLock: a lock request that does not decode or breaks a rule
// needing no master data.
const codeInvalidLock = "INVALID_LOCK"

// lockViewOf converts the processor's lock to its wire form.
func lockViewOf(l *processors.Lock, now time.Time) api.Lock {
	v := api.Lock{LockID: l.LockID, WarehouseID: l.WarehouseID, LocationID: l.LocationID, ScannerID: l.ScannerID,
		AcquiredAt: l.AcquiredAt.UTC(), ExpiresAt: l.ExpiresAt.UTC(), Status: api.LockActive}
	if l.ReleasedAt != nil {
		rel := l.ReleasedAt.UTC()
		v.ReleasedAt = &rel
	}
	switch {
	case l.ReleasedAt != nil && !now.Before(*l.ReleasedAt) && !l.ReleasedAt.After(l.ExpiresAt):
		v.Status = api.LockReleased
	case !now.Before(l.ExpiresAt):
		v.Status = api.LockExpired
	}
	return v
}

func (s *Server) lockRoutes(v1 *gin.RouterGroup) {
	if s.cfg.Locks == nil {
		return
	}
	v1.POST("/locks", allow(auth.WriteLocks), s.requireOpen, s.postLock)
	v1.GET("/locks", allow(auth.ReadLocks), s.requireOpen, s.listLocks)
	v1.GET("/locks/:id", allow(auth.ReadLocks), s.requireOpen, s.getLock)
	v1.DELETE("/locks/:id", allow(auth.WriteLocks), s.requireOpen, s.deleteLock)
}

// decodeLock validates a lock request body and builds the lock it asks
// for, acquired now.
func (s *Server) decodeLock(body []byte, now time.Time) (processors.Lock, *RequestError) {
	bad := func(code api.ErrorCode, format string, args ...any) (processors.Lock, *RequestError) {
		return processors.Lock{}, &RequestError{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...)}
	}
	var j api.LockRequest
	if err := strictUnmarshal(body, &j); err != nil {
		return bad(codeInvalidLock, "malformed lock request: %s", describeJSONError(err))
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"warehouseId", j.WarehouseID}, {"locationId", j.LocationID}, {"scannerId", j.ScannerID}} {
		if f.v == nil {
			return bad(codeInvalidLock, "%s is required", f.name)
		}
		if msg := processors.ValidAllocationID(f.name, *f.v); msg != "" {
			return bad(codeInvalidLock, "%s", msg)
		}
	}
	ttl := processors.DefaultLockTTL
	if j.TTLSeconds != nil {
		secs, rej := parseInteger("ttlSeconds", *j.TTLSeconds)
		if rej != nil {
			return bad(codeInvalidLock, "%s", rej.Message)
		}
		if maxSecs := int64(processors.MaxLockTTL / time.Second); secs < 1 || secs > maxSecs {
			return bad(codeInvalidLock, "ttlSeconds must be between 1 and %d, got %d", maxSecs, secs)
		}
		ttl = time.Duration(secs) * time.Second
	}
	if r := s.cfg.Catalog.Catalog().CheckLocation(*j.WarehouseID, *j.LocationID); r != nil {
		return bad(api.ErrorCode(r.Code), "%s", r.Message)
	}
	id, err := newLockID()
	if err != nil {
		return processors.Lock{}, &RequestError{Status: http.StatusInternalServerError, Code: api.CodeInternal, Message: err.Error()}
	}
	acquired := now.UTC().Truncate(time.Millisecond)
	return processors.Lock{LockID: id, WarehouseID: *j.WarehouseID, LocationID: *j.LocationID, ScannerID: *j.ScannerID,
		AcquiredAt: acquired, ExpiresAt: acquired.Add(ttl)}, nil
}

// newLockID returns "lock-" and 16 random bytes in hex: unguessable, so
// one scanner cannot release another's lock by counting.
func newLockID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating a lock id: %w", err)
	}
	return "lock-" + hex.EncodeToString(b[:]), nil
}

// postLock answers 201 with the new lock, or 409 LOCATION_LOCKED naming
// the other scanner's lock that holds the location.
func (s *Server) postLock(c *gin.Context) {
	body, ok := readBody(c, MaxBodyBytes)
	if !ok {
		return
	}
	now := s.cfg.Now()
	req, rerr := s.decodeLock(body, now)
	if rerr != nil {
		writeError(c, rerr.Status, rerr.Code, rerr.Message)
		return
	}
	if !inScope(c, req.WarehouseID) {
		return
	}
	if p := principal(c); !p.Allows(auth.ReleaseOthersLocks) && req.ScannerID != p.Name {
		writeError(c, http.StatusForbidden, api.CodeScannerMismatch, "this token belongs to scanner "+p.Name+
			"; it may lock locations for itself only (scannerId "+p.Name+")")
		return
	}
	l, granted, holder, err := s.cfg.Locks.Acquire(c.Request.Context(), req)
	if err != nil {
		s.unavailable(c, err)
		return
	}
	if !granted {
		end := holder.End().UTC()
		c.AbortWithStatusJSON(http.StatusConflict, api.ErrorBody{Error: api.Error{
			Code: api.CodeLocationLocked,
			Message: fmt.Sprintf("location %s of %s is locked by %s until %s", holder.LocationID, holder.WarehouseID,
				holder.ScannerID, end.Format(time.RFC3339)),
			Holder:    holder.ScannerID,
			ExpiresAt: &end,
			LockID:    holder.LockID,
		}})
		return
	}
	c.JSON(http.StatusCreated, lockViewOf(&l, now))
}

// deleteLock releases a lock; a lock that already ended is answered as it
// stands, so a repeated DELETE is a 200 too.
func (s *Server) deleteLock(c *gin.Context) {
	now := s.cfg.Now()
	if held, ok := s.cfg.Locks.Get(c.Param("id")); ok && !s.mayTouchLock(c, &held) {
		return
	}
	l, found, err := s.cfg.Locks.Release(c.Request.Context(), c.Param("id"), now)
	switch {
	case err != nil:
		s.unavailable(c, err)
	case !found:
		writeError(c, http.StatusNotFound, api.CodeLockNotFound, "lock "+c.Param("id")+" does not exist")
	default:
		c.JSON(http.StatusOK, lockViewOf(&l, now))
	}
}

// getLock answers a granted lock, whatever its status.
func (s *Server) getLock(c *gin.Context) {
	l, ok := s.cfg.Locks.Get(c.Param("id"))
	if !ok {
		writeError(c, http.StatusNotFound, api.CodeLockNotFound, "lock "+c.Param("id")+" does not exist")
		return
	}
	if !s.mayTouchLock(c, &l) {
		return
	}
	c.JSON(http.StatusOK, lockViewOf(&l, s.cfg.Now()))
}

// listLocks answers the warehouse's locks that hold now (or later: a lock
// acquired on an instance whose clock is ahead). Until the locks are
// loaded the list could miss some, so it waits for the server to open.
func (s *Server) listLocks(c *gin.Context) {
	wh, ok := scopedWarehouse(c)
	if !ok {
		return
	}
	now := s.cfg.Now()
	p := principal(c)
	out := []api.Lock{}
	for _, l := range s.cfg.Locks.Active(wh, now) {
		if p.Allows(auth.ReleaseOthersLocks) || l.ScannerID == p.Name { // a scanner sees its own
			out = append(out, lockViewOf(&l, now))
		}
	}
	c.JSON(http.StatusOK, api.LockList{WarehouseID: wh, Locks: out})
}

// mayTouchLock answers 403 and reports false unless the caller may see and
// release l: its warehouse is in scope, and a scanner only its own locks.
func (s *Server) mayTouchLock(c *gin.Context, l *processors.Lock) bool {
	if !inScope(c, l.WarehouseID) {
		return false
	}
	if p := principal(c); !p.Allows(auth.ReleaseOthersLocks) && l.ScannerID != p.Name {
		writeError(c, http.StatusForbidden, api.CodeForbidden, "lock "+l.LockID+" belongs to another scanner; a supervisor may release it")
		return false
	}
	return true
}
