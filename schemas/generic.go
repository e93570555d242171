package schemas

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"
	"unicode/utf8"
)

// DecodeAny decodes a wire-format value of any of the Set's schemas, for
// tools that print records (invsync tail). The value is plain JSON-ready
// data: a union is its branch's value (or nil), timestamps are RFC 3339
// strings in UTC, bytes are a string when valid UTF-8 and base64 otherwise.
func (s *Set) DecodeAny(b []byte) (Schema, map[string]any, error) {
	if len(b) < 5 || b[0] != 0 {
		return Schema{}, nil, fmt.Errorf("%w: not a Confluent wire-format value", ErrNotWireFormat)
	}
	id := binary.BigEndian.Uint32(b[1:5])
	k, ok := s.byID[id]
	if !ok {
		return Schema{}, nil, fmt.Errorf("%w %d", ErrUnknownSchemaID, id)
	}
	native, rest, err := s.codecs[k].NativeFromBinary(b[5:])
	if err != nil {
		return s.schemas[k], nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(rest) > 0 {
		return s.schemas[k], nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(rest))
	}
	m, ok := plain(native).(map[string]any)
	if !ok {
		return s.schemas[k], nil, fmt.Errorf("%w: not a record", ErrMalformed)
	}
	return s.schemas[k], m, nil
}

// plain turns goavro's native form into plain JSON-ready data.
func plain(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 && isUnionBranch(x) {
			for _, inner := range x {
				return plain(inner)
			}
		}
		out := make(map[string]any, len(x))
		for k, inner := range x {
			out[k] = plain(inner)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, inner := range x {
			out[i] = plain(inner)
		}
		return out
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return base64.StdEncoding.EncodeToString(x)
	default:
		return v
	}
}

// isUnionBranch reports whether a one-key map is goavro's encoding of a
// union value: keyed by a type name rather than a field name.
func isUnionBranch(m map[string]any) bool {
	for k := range m {
		switch k {
		case "string", "long", "int", "boolean", "bytes", "double", "float", "array", "map":
			return true
		}
		return len(k) > len(namespace) && k[:len(namespace)+1] == namespace+"."
	}
	return false
}
