package processors

import (
	"encoding/json"
	"fmt"
)

// getJSON reads the JSON value stored at key: an allocation, a held count, a
// discrepancy, a processed command's result. A value that does not decode is
// corrupt state, reported as what (a noun) and id.
func getJSON[T any](s Reader, key []byte, what, id string) (T, bool, error) {
	var v T
	b, ok, err := s.Get(key)
	if err != nil || !ok {
		return v, false, err
	}
	if err := json.Unmarshal(b, &v); err != nil {
		var zero T
		return zero, false, fmt.Errorf("%w: %s %s: %v", errCorrupt, what, id, err)
	}
	return v, true, nil
}

// setJSON stores v at key as JSON.
func setJSON(s Store, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.Set(key, b)
}

// scanJSON returns the JSON values stored under the one-byte tag for which
// keep is true, in key order; what names them in errors.
func scanJSON[T any](s Reader, tag byte, what string, keep func(*T) bool) ([]T, error) {
	lo := []byte{tag}
	var out []T
	err := s.Scan(lo, PrefixEnd(lo), func(_, b []byte) error {
		var v T
		if err := json.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("%w: %s: %v", errCorrupt, what, err)
		}
		if keep(&v) {
			out = append(out, v)
		}
		return nil
	})
	return out, err
}
