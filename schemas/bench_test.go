package schemas

import "testing"

// The "goavro" sub-benchmarks measure the generic path the hand-written
// codecs replace: native maps through goavro.

func BenchmarkEncodeInventoryEvent(b *testing.B) {
	s := newSet(b)
	e := sampleInventoryEvent()
	b.Run("typed", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 512)
		for b.Loop() {
			var err error
			if buf, err = s.AppendInventoryEvent(buf[:0], &e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("goavro", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 512)
		for b.Loop() {
			var err error
			if buf, err = s.codecs[kindInventoryEvent].BinaryFromNative(buf[:0], e.native()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDecodeTransaction(b *testing.B) {
	s := newSet(b)
	tx := sampleTransaction()
	enc, err := s.AppendTransaction(nil, &tx)
	if err != nil {
		b.Fatal(err)
	}
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
	b.Run("typed", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 512)
		for b.Loop() {
			var err error
			if buf, err = s.AppendTransaction(buf[:0], &tx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("goavro", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 512)
		for b.Loop() {
			var err error
			if buf, err = s.codecs[kindTransaction].BinaryFromNative(buf[:0], tx.native()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
