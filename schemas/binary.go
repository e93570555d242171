package schemas

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"
	"unicode/utf8"
)

// This file is the Avro binary encoding, by hand: longs and ints are zig-zag
// varints, strings and bytes are a long length then the bytes, booleans one
// byte, enums and union branches a long index, arrays blocks of a long count
// then the items, ending with a zero count. The reader accepts exactly what
// goavro accepts (including over-long varints), so the two agree on every
// input; tests hold it to that.

// reader decodes one payload. The first error sticks: later reads return zero
// values, and err names the first field that failed.
type reader struct {
	s   string // the payload, converted once so that every string field shares one allocation
	i   int
	err error
}

func (r *reader) fail(field string, sentinel error, format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("field %s: %w: %s", field, sentinel, fmt.Sprintf(format, args...))
	}
	r.i = len(r.s)
}

func (r *reader) long(field string) int64 {
	v := r.varint(field)
	return int64(v>>1) ^ -int64(v&1)
}

func (r *reader) int(field string) int32 {
	// goavro accumulates an int in a Go int, then truncates to 32 bits: on
	// 64-bit platforms the low 32 bits of the zig-zag decoding are those of
	// the long.
	v := r.varint(field)
	return int32(v>>1) ^ -int32(v&1)
}

// varint reads the bits of a variable-length integer, before its zig-zag
// decoding.
func (r *reader) varint(field string) uint64 {
	var v uint64
	var shift uint
	for r.err == nil && r.i < len(r.s) {
		b := r.s[r.i]
		r.i++
		v |= uint64(b&0x7f) << shift // like goavro, bits past 64 are dropped
		if b < 0x80 {
			return v
		}
		shift += 7
	}
	r.fail(field, ErrMalformed, "payload ends before the varint does")
	return 0
}

// raw returns the next length-prefixed run of bytes.
func (r *reader) raw(field string) string {
	n := r.long(field)
	switch {
	case r.err != nil:
		return ""
	case n < 0:
		r.fail(field, ErrMalformed, "negative length %d", n)
		return ""
	case n > int64(len(r.s)-r.i):
		r.fail(field, ErrMalformed, "length %d exceeds the %d bytes left", n, len(r.s)-r.i)
		return ""
	}
	v := r.s[r.i : r.i+int(n)]
	r.i += int(n)
	return v
}

func (r *reader) str(field string) string {
	v := r.raw(field)
	if !utf8.ValidString(v) {
		r.fail(field, ErrInvalid, "not valid UTF-8")
		return ""
	}
	return v
}

func (r *reader) bytes(field string) []byte {
	if v := r.raw(field); v != "" {
		return []byte(v)
	}
	return nil
}

func (r *reader) bool(field string) bool {
	if r.err != nil {
		return false
	}
	if r.i >= len(r.s) {
		r.fail(field, ErrMalformed, "payload ends before a boolean")
		return false
	}
	b := r.s[r.i]
	r.i++
	if b > 1 {
		r.fail(field, ErrMalformed, "boolean byte is %d, not 0 or 1", b)
	}
	return b == 1
}

func (r *reader) time(field string) time.Time { return time.UnixMilli(r.long(field)).UTC() }

// null reads the branch index of a ["null", T] union and reports whether the
// value is null.
func (r *reader) null(field string) bool {
	switch i := r.long(field); {
	case r.err != nil || i == 0:
		return true
	case i == 1:
		return false
	default:
		r.fail(field, ErrMalformed, "union index %d, not 0 or 1", i)
		return true
	}
}

func (r *reader) optStr(field string) *string {
	if r.null(field) {
		return nil
	}
	v := r.str(field)
	return &v
}

func (r *reader) optLong(field string) *int64 {
	if r.null(field) {
		return nil
	}
	v := r.long(field)
	return &v
}

func (r *reader) optTime(field string) *time.Time {
	if r.null(field) {
		return nil
	}
	v := r.time(field)
	return &v
}

func readEnum[E ~string](r *reader, field string, symbols []E) E {
	i := r.long(field)
	if r.err != nil {
		return ""
	}
	if i < 0 || i >= int64(len(symbols)) {
		r.fail(field, ErrMalformed, "enum index %d, not in 0..%d", i, len(symbols)-1)
		return ""
	}
	return symbols[i]
}

// blockCount reads an array block header and returns its item count; 0 ends
// the array (and is returned after an error).
func (r *reader) blockCount(field string) int {
	n := r.long(field)
	if n < 0 {
		if n == math.MinInt64 {
			r.fail(field, ErrMalformed, "array block count %d", n)
			return 0
		}
		n = -n
		r.long(field) // block size in bytes, not needed
	}
	// Every item takes at least one byte, so a larger count is malformed; the
	// check bounds what a hostile count can make us allocate.
	if r.err != nil || n > int64(len(r.s)-r.i) {
		r.fail(field, ErrMalformed, "array block count %d exceeds the %d bytes left", n, len(r.s)-r.i)
		return 0
	}
	return int(n)
}

func (r *reader) strs(field string) []string {
	var v []string
	for n := r.blockCount(field); n > 0; n = r.blockCount(field) {
		v = slices.Grow(v, n)
		for range n {
			v = append(v, r.str(field))
		}
	}
	if r.err != nil {
		return nil
	}
	return v
}

// optDouble reads a ["null", "double"] union.
func (r *reader) optDouble(field string) *float64 {
	if r.null(field) || r.err != nil {
		return nil
	}
	if len(r.s)-r.i < 8 {
		r.fail(field, ErrMalformed, "double needs 8 bytes, %d left", len(r.s)-r.i)
		return nil
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64([]byte(r.s[r.i : r.i+8])))
	r.i += 8
	return &v
}

// atEnd reports whether the whole payload was read: the fields appended
// to a schema later (with defaults) are then absent, as in records written
// before them.
func (r *reader) atEnd() bool { return r.err == nil && r.i == len(r.s) }

// done checks that the payload was read to its end.
func (r *reader) done() error {
	if r.err == nil && r.i != len(r.s) {
		r.err = fmt.Errorf("%w: %d bytes after the record", ErrMalformed, len(r.s)-r.i)
	}
	return r.err
}

func appendLong(b []byte, v int64) []byte {
	return binary.AppendUvarint(b, uint64(v<<1)^uint64(v>>63))
}

func appendString(b []byte, s string) []byte {
	return append(appendLong(b, int64(len(s))), s...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendOptString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, 0)
	}
	return appendString(append(b, 2), *s) // 2 is branch index 1, zig-zagged
}

func appendOptLong(b []byte, v *int64) []byte {
	if v == nil {
		return append(b, 0)
	}
	return appendLong(append(b, 2), *v)
}

func appendStrings(b []byte, ss []string) []byte {
	if len(ss) > 0 {
		b = appendLong(b, int64(len(ss)))
		for _, s := range ss {
			b = appendString(b, s)
		}
	}
	return append(b, 0)
}

// checker validates a value before it is encoded; the first error sticks.
type checker struct{ err error }

func (c *checker) str(field, s string) {
	if c.err == nil && !utf8.ValidString(s) {
		c.err = fmt.Errorf("field %s: %w: not valid UTF-8", field, ErrInvalid)
	}
}

// strField is a string field and its name, for strFields.
type strField struct{ name, v string }

func (c *checker) strFields(fs []strField) {
	for _, f := range fs {
		c.str(f.name, f.v)
	}
}

func (c *checker) optStr(field string, s *string) {
	if s != nil {
		c.str(field, *s)
	}
}

func (c *checker) strs(field string, ss []string) {
	for _, s := range ss {
		c.str(field, s)
	}
}

// checkEnum records an error unless v is one of symbols.
func checkEnum[E ~string](c *checker, field string, v E, symbols []E) {
	if c.err == nil && !slices.Contains(symbols, v) {
		c.err = fmt.Errorf("field %s: %w: %q is not one of %q", field, ErrInvalid, v, symbols)
	}
}
