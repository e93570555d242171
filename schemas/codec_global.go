package schemas

import (
	"fmt"
	"slices"
)

// The codecs of the records of the single-partition, compacted topics that
// every instance reads whole: catalog entries, locks and tokens. They are
// encoded through goavro and decoded by hand.

// AppendCatalogEntry appends e to dst in wire format,
// under the Append contract in the package documentation.
func (s *Set) AppendCatalogEntry(dst []byte, e *CatalogEntry) ([]byte, error) {
	return appendRecord(s, dst, kindCatalogEntry, "catalog entry", e)
}

func (e *CatalogEntry) check() error {
	var c checker
	checkEnum(&c, "kind", e.Kind, catalogKinds)
	c.str("id", e.ID)
	c.strs("locations", e.Locations)
	c.str("description", e.Description)
	c.optStr("abcClass", e.AbcClass)
	return c.err
}

func (e *CatalogEntry) native() map[string]any {
	return map[string]any{
		"kind":                   string(e.Kind),
		"id":                     e.ID,
		"locations":              nativeArray(e.Locations, asAny),
		"description":            e.Description,
		"lotTracked":             e.LotTracked,
		"maxTransactionQuantity": e.MaxTransactionQuantity,
		"abcClass":               optUnion("string", e.AbcClass),
		"countTolerance":         optUnion("double", e.CountTolerance),
	}
}

// DecodeCatalogEntry decodes a wire-format CatalogEntry,
// under the Decode contract in the package documentation.
func (s *Set) DecodeCatalogEntry(b []byte) (CatalogEntry, error) {
	return decodeRecord(s, b, kindCatalogEntry, "catalog entry", func(r *reader) CatalogEntry {
		e := CatalogEntry{
			Kind:                   readEnum(r, "kind", catalogKinds),
			ID:                     r.str("id"),
			Locations:              r.strs("locations"),
			Description:            r.str("description"),
			LotTracked:             r.bool("lotTracked"),
			MaxTransactionQuantity: r.long("maxTransactionQuantity"),
		}
		if !r.atEnd() { // added later, with null defaults
			e.AbcClass, e.CountTolerance = r.optStr("abcClass"), r.optDouble("countTolerance")
		}
		return e
	})
}

// AppendLock appends l to dst in wire format,
// under the Append contract in the package documentation.
func (s *Set) AppendLock(dst []byte, l *Lock) ([]byte, error) {
	return appendRecord(s, dst, kindLock, "lock", l)
}

func (l *Lock) check() error {
	var c checker
	c.strFields([]strField{
		{"lockId", l.LockID}, {"warehouseId", l.WarehouseID}, {"locationId", l.LocationID}, {"scannerId", l.ScannerID},
	})
	return c.err
}

func (l *Lock) native() map[string]any {
	return map[string]any{
		"lockId":      l.LockID,
		"warehouseId": l.WarehouseID,
		"locationId":  l.LocationID,
		"scannerId":   l.ScannerID,
		"acquiredAt":  millis(l.AcquiredAt),
		"expiresAt":   millis(l.ExpiresAt),
		"releasedAt":  optMillis(l.ReleasedAt),
	}
}

// DecodeLock decodes a wire-format Lock,
// under the Decode contract in the package documentation.
func (s *Set) DecodeLock(b []byte) (Lock, error) {
	return decodeRecord(s, b, kindLock, "lock", func(r *reader) Lock {
		return Lock{
			LockID:      r.str("lockId"),
			WarehouseID: r.str("warehouseId"),
			LocationID:  r.str("locationId"),
			ScannerID:   r.str("scannerId"),
			AcquiredAt:  r.time("acquiredAt"),
			ExpiresAt:   r.time("expiresAt"),
			ReleasedAt:  r.optTime("releasedAt"),
		}
	})
}

// AppendToken appends t to dst in wire format,
// under the Append contract in the package documentation.
func (s *Set) AppendToken(dst []byte, t *Token) ([]byte, error) {
	return appendRecord(s, dst, kindToken, "token", t)
}

func (t *Token) check() error {
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
	return map[string]any{
		"tokenId":    t.TokenID,
		"name":       t.Name,
		"role":       t.Role,
		"warehouses": nativeArray(t.Warehouses, asAny),
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
		return Token{
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
	})
}
