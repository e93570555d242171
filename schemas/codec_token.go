package schemas

import (
	"fmt"
	"slices"
)

// AppendToken appends t to dst in wire format,
// under the Append contract in the package documentation.
func (s *Set) AppendToken(dst []byte, t *Token) ([]byte, error) {
	return s.appendRecord(dst, kindToken, "token", t)
}

func (t *Token) check() error {
	if t == nil {
		return errNilRecord
	}
	var c checker
	c.str("tokenId", t.TokenID)
	c.str("name", t.Name)
	c.str("createdBy", t.CreatedBy)
	c.strs("warehouses", t.Warehouses)
	if c.err == nil && !slices.Contains(tokenRoles, t.Role) {
		c.err = fmt.Errorf("%w: role %q is not one of %v", ErrInvalid, t.Role, tokenRoles)
	}
	return c.err
}

func (t *Token) native() map[string]any {
	whs := make([]any, len(t.Warehouses))
	for i, w := range t.Warehouses {
		whs[i] = w
	}
	return map[string]any{
		"tokenId":    t.TokenID,
		"name":       t.Name,
		"role":       t.Role,
		"warehouses": whs,
		"expiresAt":  optMillis(t.ExpiresAt),
		"createdAt":  millis(t.CreatedAt),
		"createdBy":  t.CreatedBy,
		"revokedAt":  optMillis(t.RevokedAt),
		"hash":       t.Hash,
	}
}

// DecodeToken decodes a wire-format Token,
// under the Decode contract in the package documentation.
func (s *Set) DecodeToken(b []byte) (Token, error) {
	return decodeRecord(s, b, kindToken, "token", func(r *reader) Token {
		t := Token{
			TokenID:    r.str("tokenId"),
			Name:       r.str("name"),
			Role:       readEnum(r, "role", tokenRoles),
			Warehouses: r.strs("warehouses"),
			ExpiresAt:  r.optTime("expiresAt"),
			CreatedAt:  r.time("createdAt"),
			CreatedBy:  r.str("createdBy"),
			RevokedAt:  r.optTime("revokedAt"),
			Hash:       r.bytes("hash"),
		}
		return t
	})
}
