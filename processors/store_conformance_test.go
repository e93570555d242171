package processors_test

import (
	"testing"

	"github.com/invsync/invsync/processors"
	"github.com/invsync/invsync/processors/storetest"
)

// TestMemStoreConformance holds the tests' in-memory store to the Store
// contract, so the domain tests that run on it run on what the Pebble
// batch does (state's TestBatchConformance runs the same suite on it).
func TestMemStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, prior []storetest.KV) processors.Store {
		s := processors.NewMemStore()
		for _, e := range prior {
			if err := s.Set(e.Key, e.Value); err != nil {
				t.Fatal(err)
			}
		}
		return s
	})
}
