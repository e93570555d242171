package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/invsync/invsync/auth"
	"github.com/invsync/invsync/schemas"
)

// TokenTable keeps an auth.Registry equal to the compacted tokens topic, on
// every instance, and publishes created and revoked tokens to it. A
// revocation reaches every instance within its fetch interval (well under
// a second while Kafka is up). Safe for concurrent use.
type TokenTable struct {
	*topicTable[schemas.Token]
	registry *auth.Registry
}

// NewTokenTable creates the table's client. Run must be running for
// Publish and WaitLoaded to return.
func NewTokenTable(brokers []string, topic string, codec *schemas.Set, reg *auth.Registry, log *slog.Logger, opts ...kgo.Opt) (*TokenTable, error) {
	t := &TokenTable{registry: reg}
	// A token ends by revocation or expiry, never by a tombstone.
	return openTable(t, &t.topicTable, brokers, topic, "tokens", log, codec.DecodeToken, codec.AppendToken, ignoreTombstones(t.apply), opts...)
}

// Registry is the in-memory registry requests are authenticated against.
func (t *TokenTable) Registry() *auth.Registry { return t.registry }

func (t *TokenTable) apply(w *schemas.Token) error {
	tok, err := tokenFromWire(w)
	if err != nil {
		return err
	}
	t.registry.Apply(tok)
	return nil
}

// Publish writes tok (a new token, or one with RevokedAt set) with
// acks=all and returns once this instance's registry reflects it.
func (t *TokenTable) Publish(ctx context.Context, tok auth.Token) error {
	w := tokenToWire(&tok)
	return t.put(ctx, "publishing token", tok.TokenID, &w)
}

// Revoke publishes the revocation of token id at now; it reports false
// when no such token exists. Revoking twice keeps the first time.
func (t *TokenTable) Revoke(ctx context.Context, id string, now time.Time) (auth.Token, bool, error) {
	tok, ok := t.registry.Get(id)
	if !ok {
		return auth.Token{}, false, nil
	}
	if tok.RevokedAt == nil {
		at := now.UTC()
		tok.RevokedAt = &at
		if err := t.Publish(ctx, tok); err != nil {
			return auth.Token{}, true, err
		}
	}
	return tok, true, nil
}

func tokenToWire(t *auth.Token) schemas.Token {
	return schemas.Token{TokenID: t.TokenID, Name: t.Name, Role: string(t.Role), Warehouses: append([]string{}, t.Warehouses...),
		ExpiresAt: t.ExpiresAt, CreatedAt: t.CreatedAt, CreatedBy: t.CreatedBy, RevokedAt: t.RevokedAt, Hash: t.Hash[:]}
}

func tokenFromWire(w *schemas.Token) (auth.Token, error) {
	if w.TokenID == "" || len(w.Hash) != 32 {
		return auth.Token{}, fmt.Errorf("token %q: an id and a 32-byte hash are required", w.TokenID)
	}
	t := auth.Token{TokenID: w.TokenID, Name: w.Name, Role: auth.Role(w.Role), Warehouses: w.Warehouses,
		ExpiresAt: w.ExpiresAt, CreatedAt: w.CreatedAt, CreatedBy: w.CreatedBy, RevokedAt: w.RevokedAt}
	copy(t.Hash[:], w.Hash)
	return t, nil
}

// Get returns the token with id.
func (t *TokenTable) Get(id string) (auth.Token, bool) { return t.registry.Get(id) }

// List returns every token, oldest first.
func (t *TokenTable) List() []auth.Token { return t.registry.List() }
