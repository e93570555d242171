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

// TokenStore creates, revokes and lists tokens (pipeline.TokenTable),
// shared by every instance.
type TokenStore interface {
	Publish(ctx context.Context, t auth.Token) error
	Revoke(ctx context.Context, id string, now time.Time) (auth.Token, bool, error)
	Get(id string) (auth.Token, bool)
	List() []auth.Token
}

// viewOfToken is a token's wire form: never its secret or hash.
func viewOfToken(t *auth.Token, now time.Time) api.Token {
	v := api.Token{TokenID: t.TokenID, Name: t.Name, Role: t.Role, Warehouses: t.Warehouses, ExpiresAt: t.ExpiresAt,
		CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy, RevokedAt: t.RevokedAt, Status: api.TokenActive}
	switch {
	case t.RevokedAt != nil:
		v.Status = api.TokenRevoked
	case !t.Active(now):
		v.Status = api.TokenExpired
	}
	return v
}

func (s *Server) postToken(c *gin.Context) {
	var j api.TokenRequest
	if !readStrict(c, 64<<10, &j, api.CodeInvalidTokenRequest, "token request", "fields: name, role, warehouses, expiresAt") {
		return
	}
	req := auth.Request{Warehouses: j.Warehouses, ExpiresAt: j.ExpiresAt, CreatedBy: principal(c).Name}
	if j.Name != nil {
		req.Name = *j.Name
	}
	if j.Role != nil {
		req.Role = auth.Role(*j.Role)
	}
	now := s.cfg.Now()
	if req.Role == auth.RoleAdmin && (len(req.Warehouses) != 1 || req.Warehouses[0] != auth.AllWarehouses) {
		writeError(c, http.StatusBadRequest, api.CodeInvalidTokenRequest, `an admin token acts on every warehouse: give "warehouses": ["*"]`)
		return
	}
	tok, secret, err := auth.New(req, now)
	if err != nil {
		if errors.Is(err, auth.ErrInvalid) {
			writeError(c, http.StatusBadRequest, api.CodeInvalidTokenRequest, err.Error())
			return
		}
		s.internalError(c, "creating a token", err)
		return
	}
	if err := s.cfg.Tokens.Publish(c.Request.Context(), tok); err != nil {
		s.unavailable(c, err)
		return
	}
	v := viewOfToken(&tok, now)
	v.Token = secret
	s.log.Info("token created", "tokenId", tok.TokenID, "name", tok.Name, "role", tok.Role, "by", tok.CreatedBy)
	c.JSON(http.StatusCreated, v)
}

func (s *Server) listTokens(c *gin.Context) {
	now := s.cfg.Now()
	out := []api.Token{}
	for _, t := range s.cfg.Tokens.List() {
		out = append(out, viewOfToken(&t, now))
	}
	c.JSON(http.StatusOK, api.TokenList{Tokens: out})
}

func (s *Server) deleteToken(c *gin.Context) {
	now := s.cfg.Now()
	t, found, err := s.cfg.Tokens.Revoke(c.Request.Context(), c.Param("id"), now)
	switch {
	case err != nil:
		s.unavailable(c, err)
	case !found:
		writeError(c, http.StatusNotFound, api.CodeTokenNotFound, "token "+c.Param("id")+" does not exist")
	default:
		s.log.Info("token revoked", "tokenId", t.TokenID, "name", t.Name, "by", principal(c).Name)
		c.JSON(http.StatusOK, viewOfToken(&t, now))
	}
}
