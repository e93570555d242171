package schemas

import (
	"encoding/binary"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// fuzzDecode seeds f with valid encodings of random values and junk around
// them, then checks for any input that decoding does not panic, agrees with
// goavro, and that whatever decodes re-encodes to bytes that decode equal.
func fuzzDecode[T any](f *testing.F, s *Set, k kind, rnd func(gen) T,
	enc func([]byte, *T) ([]byte, error), dec func([]byte) (T, error), native func(*T) map[string]any) {
	header := binary.BigEndian.AppendUint32([]byte{0}, s.ids[k])
	f.Add([]byte(nil))
	f.Add([]byte{0})
	f.Add([]byte{1, 0, 0, 0, byte(s.ids[k])})
	f.Add(header)
	f.Add(append(slices.Clone(header), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01))
	g := gen{rand.New(rand.NewPCG(5, 6))}
	for range 8 {
		v := rnd(g)
		b, err := enc(nil, &v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-1])
		f.Add(append(slices.Clone(b), 0))
		f.Add(append([]byte{0, 0, 0, 0, 99}, b[5:]...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := dec(b)
		checkDecodeAgrees(t, s, b, k, err, func() map[string]any { return native(&v) })
		if err != nil {
			return
		}
		re, err := enc(nil, &v)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", v, err)
		}
		v2, err := dec(re)
		if err != nil || !reflect.DeepEqual(v, v2) {
			t.Fatalf("re-encoded value decodes to %+v, %v; want %+v", v2, err, v)
		}
	})
}

func FuzzDecodeTransaction(f *testing.F) {
	s := newSet(f)
	fuzzDecode(f, s, kindTransaction, gen.transaction, s.AppendTransaction, s.DecodeTransaction, (*Transaction).native)
}

func FuzzDecodeAllocationRequest(f *testing.F) {
	s := newSet(f)
	fuzzDecode(f, s, kindAllocationRequest, gen.allocationRequest, s.AppendAllocationRequest, s.DecodeAllocationRequest, (*AllocationRequest).native)
}

// FuzzDecodeLock: the locks topic is outside input too (anyone with access
// to the cluster can write to it), and every instance decodes all of it.
func FuzzDecodeLock(f *testing.F) {
	s := newSet(f)
	fuzzDecode(f, s, kindLock, gen.lock, s.AppendLock, s.DecodeLock, (*Lock).native)
}
