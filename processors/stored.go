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
