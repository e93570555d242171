package schemas

import "github.com/linkedin/goavro/v2"

// AppendLock appends l to dst in wire format,
// under the Append contract in the package documentation.
func (s *Set) AppendLock(dst []byte, l *Lock) ([]byte, error) {
	return s.appendRecord(dst, kindLock, "lock", l)
}

func (l *Lock) check() error {
	if l == nil {
		return errNilRecord
	}
	var c checker
	for _, f := range [...]struct{ name, v string }{
		{"lockId", l.LockID}, {"warehouseId", l.WarehouseID}, {"locationId", l.LocationID}, {"scannerId", l.ScannerID},
	} {
		c.str(f.name, f.v)
	}
	return c.err
}

func (l *Lock) native() map[string]any {
	var releasedAt any
	if l.ReleasedAt != nil {
		releasedAt = goavro.Union("long.timestamp-millis", millis(*l.ReleasedAt))
	}
	return map[string]any{
		"lockId":      l.LockID,
		"warehouseId": l.WarehouseID,
		"locationId":  l.LocationID,
		"scannerId":   l.ScannerID,
		"acquiredAt":  millis(l.AcquiredAt),
		"expiresAt":   millis(l.ExpiresAt),
		"releasedAt":  releasedAt,
	}
}

// DecodeLock decodes a wire-format Lock,
// under the Decode contract in the package documentation.
func (s *Set) DecodeLock(b []byte) (Lock, error) {
	return decodeRecord(s, b, kindLock, "lock", func(r *reader) Lock {
		l := Lock{
			LockID:      r.str("lockId"),
			WarehouseID: r.str("warehouseId"),
			LocationID:  r.str("locationId"),
			ScannerID:   r.str("scannerId"),
			AcquiredAt:  r.time("acquiredAt"),
			ExpiresAt:   r.time("expiresAt"),
			ReleasedAt:  r.optTime("releasedAt"),
		}
		return l
	})
}
