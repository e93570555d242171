package schemas

import "testing"

// The "goavro" sub-benchmarks measure the generic path the hand-written
// codecs replace: native maps through goavro.

func BenchmarkEncodeInventoryEvent(b *testing.B) {
	s := newSet(b)
	e := sampleInventoryEvent()
	benchEncode(b,
		func(dst []byte) ([]byte, error) { return s.AppendInventoryEvent(dst, &e) },
		func(dst []byte) ([]byte, error) {
			return s.codecs[kindInventoryEvent].BinaryFromNative(dst, e.native())
		})
}

func BenchmarkDecodeTransaction(b *testing.B) {
	s := newSet(b)
	tx := sampleTransaction()
	enc := mustAppend(b, s.AppendTransaction, &tx)
	b.Run("typed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.DecodeTransaction(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("goavro", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := s.codecs[kindTransaction].NativeFromBinary(enc[5:]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEncodeTransaction(b *testing.B) {
	s := newSet(b)
	tx := sampleTransaction()
	benchEncode(b,
		func(dst []byte) ([]byte, error) { return s.AppendTransaction(dst, &tx) },
		func(dst []byte) ([]byte, error) { return s.codecs[kindTransaction].BinaryFromNative(dst, tx.native()) })
}

// benchEncode runs the "typed" and "goavro" encoders of one record as
// sub-benchmarks, each appending to a reused buffer.
func benchEncode(b *testing.B, typed, goavro func(dst []byte) ([]byte, error)) {
	for _, enc := range []struct {
		name   string
		encode func([]byte) ([]byte, error)
	}{{"typed", typed}, {"goavro", goavro}} {
		b.Run(enc.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 512)
			for b.Loop() {
				var err error
				if buf, err = enc.encode(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
