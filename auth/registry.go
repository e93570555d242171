package auth

import (
	"cmp"
	"crypto/sha256"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Principal is an authenticated caller.
type Principal struct {
	TokenID    string
	Name       string
	Role       Role
	Warehouses []string
}

// Allows reports whether the caller's role may do a.
func (p *Principal) Allows(a Action) bool { return p.Role.Allows(a) }

// MayAccess reports whether the caller may act on warehouse wh.
func (p *Principal) MayAccess(wh string) bool {
	return slices.Contains(p.Warehouses, AllWarehouses) || slices.Contains(p.Warehouses, wh)
}

// AllWarehouses reports whether the caller's scope is every warehouse.
func (p *Principal) AllWarehouses() bool { return slices.Contains(p.Warehouses, AllWarehouses) }

// BootstrapAdminName names the principal of the --admin-token credential.
const BootstrapAdminName = "admin"

// Registry holds every token an instance knows, by id, as read from the
// tokens topic in order; the last record of an id wins. Safe for
// concurrent use.
type Registry struct {
	mu     sync.RWMutex
	tokens map[string]Token
	// admin is the hash of the --admin-token credential, if set.
	admin *[32]byte
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{tokens: map[string]Token{}} }

// SetAdmin makes secret (at least 32 characters, any form) an admin
// credential for as long as this process runs; it is never stored.
func (r *Registry) SetAdmin(secret string) {
	h := sha256.Sum256([]byte(secret))
	r.mu.Lock()
	r.admin = &h
	r.mu.Unlock()
}

// Apply records t (a creation or a revocation).
func (r *Registry) Apply(t Token) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.tokens[t.TokenID]; ok && old.RevokedAt != nil && t.RevokedAt == nil {
		t.RevokedAt = old.RevokedAt // a revocation is final
	}
	r.tokens[t.TokenID] = t
}

// Authenticate checks a bearer token at now.
func (r *Registry) Authenticate(token string, now time.Time) (Principal, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.admin != nil && matches(sha256.Sum256([]byte(token)), *r.admin) {
		return Principal{TokenID: "bootstrap", Name: BootstrapAdminName, Role: RoleAdmin, Warehouses: []string{AllWarehouses}}, nil
	}
	id, hash, err := Parse(token)
	if err != nil {
		return Principal{}, err
	}
	t, ok := r.tokens[id]
	if !ok || !matches(hash, t.Hash) {
		return Principal{}, ErrUnknown
	}
	switch {
	case t.RevokedAt != nil:
		return Principal{}, ErrRevoked
	case t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
		return Principal{}, ErrExpired
	}
	return Principal{TokenID: t.TokenID, Name: t.Name, Role: t.Role, Warehouses: slices.Clone(t.Warehouses)}, nil
}

// Get returns the token with id.
func (r *Registry) Get(id string) (Token, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.tokens[id]
	return t, ok
}

// List returns every token, oldest first.
func (r *Registry) List() []Token {
	r.mu.RLock()
	out := slices.Collect(maps.Values(r.tokens))
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b Token) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.TokenID, b.TokenID))
	})
	return out
}

// HasActiveAdmin reports whether a stored admin token authenticates at now.
func (r *Registry) HasActiveAdmin(now time.Time) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, t := range r.tokens {
		if t.Role == RoleAdmin && t.Active(now) {
			return true
		}
	}
	return false
}
