package ingest

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/auth"
)

// Authenticator checks bearer tokens (auth.Registry).
type Authenticator interface {
	Authenticate(token string, now time.Time) (auth.Principal, error)
}

// principalKey is where the authentication middleware leaves the caller.
const principalKey = "invsync.principal"

// credentialKey carries the caller's Authorization header in the request
// context, so reads forwarded to a peer are made with the caller's rights.
type credentialKey struct{}

// authenticate answers 401 UNAUTHENTICATED (with WWW-Authenticate: Bearer)
// to a request without a valid, unexpired, unrevoked token, and otherwise
// leaves the principal in the context.
func (s *Server) authenticate(c *gin.Context) {
	header := c.GetHeader("Authorization")
	if header == "" {
		s.unauthenticated(c, "this endpoint needs an Authorization: Bearer <token> header; ask an administrator for a token (invsync token create)")
		return
	}
	token, err := auth.ParseBearer(header)
	if err != nil {
		s.unauthenticated(c, err.Error())
		return
	}
	p, err := s.cfg.Auth.Authenticate(token, s.cfg.Now())
	if errors.Is(err, auth.ErrUnknown) && !s.open.Load() {
		// Until Open the API tokens may not all be loaded from Kafka:
		// an unknown token may be valid, and a 401 would make a
		// scanner stop syncing until it is re-enrolled.
		c.Header("Retry-After", "1")
		writeError(c, http.StatusServiceUnavailable, api.CodeStarting,
			"invsync is starting (loading the API tokens); nothing was accepted, retry shortly")
		return
	}
	if err != nil {
		msg := "the token is not valid; ask an administrator for a new one"
		switch {
		case errors.Is(err, auth.ErrRevoked):
			msg = "the token was revoked; ask an administrator for a new one (a scanner re-enrols)"
		case errors.Is(err, auth.ErrExpired):
			msg = "the token has expired; ask an administrator for a new one (a scanner re-enrols)"
		}
		s.unauthenticated(c, msg)
		return
	}
	c.Set(principalKey, p)
	c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), credentialKey{}, header))
}

func (s *Server) unauthenticated(c *gin.Context, msg string) {
	c.Header("WWW-Authenticate", `Bearer realm="invsync"`)
	writeError(c, http.StatusUnauthorized, api.CodeUnauthenticated, msg)
}

// principal is the authenticated caller of c.
func principal(c *gin.Context) *auth.Principal {
	if v, ok := c.Get(principalKey); ok {
		p := v.(auth.Principal)
		return &p
	}
	return nil
}

// allow answers 403 FORBIDDEN unless the caller's role may do a.
func allow(a auth.Action) gin.HandlerFunc {
	return func(c *gin.Context) {
		if p := principal(c); p == nil || !p.Allows(a) {
			role := "none"
			if p != nil {
				role = string(p.Role)
			}
			writeError(c, http.StatusForbidden, api.CodeForbidden, "a "+role+" token may not do this ("+string(a)+")")
		}
	}
}

// inScope answers 403 FORBIDDEN and reports false when the caller may not
// act on warehouse wh.
func inScope(c *gin.Context, wh string) bool {
	if p := principal(c); p != nil && (p.Role == auth.RoleAdmin || p.MayAccess(wh)) {
		return true
	}
	writeError(c, http.StatusForbidden, api.CodeForbidden, "this token may not act on warehouse "+wh)
	return false
}

// mayAccess reports whether the caller may see warehouse wh (no answer
// written), for filtering lists.
func mayAccess(c *gin.Context, wh string) bool {
	return admits(principal(c), wh)
}

// admits is mayAccess for a principal already in hand (principal copies
// it out of the context: a loop over an upload's transactions asks once).
func admits(p *auth.Principal, wh string) bool {
	return p != nil && (p.Role == auth.RoleAdmin || p.MayAccess(wh))
}

// credential is the caller's Authorization header carried by ctx.
func credential(ctx context.Context) string {
	v, _ := ctx.Value(credentialKey{}).(string)
	return v
}

// getMe answers who the token is: a device learns its scanner id (the
// token's name) and warehouses from it.
func (s *Server) getMe(c *gin.Context) {
	p := principal(c)
	out := api.Me{TokenID: p.TokenID, Name: p.Name, Role: p.Role, Warehouses: p.Warehouses}
	if s.cfg.Tokens != nil {
		if t, ok := s.cfg.Tokens.Get(p.TokenID); ok && t.ExpiresAt != nil {
			out.ExpiresAt = ptr(t.ExpiresAt.UTC())
		}
	}
	c.JSON(http.StatusOK, out)
}
