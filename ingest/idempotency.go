package ingest

import (
	"bytes"
	"crypto/sha256"
)

type pendingTx struct {
	hash bodyHash
	at   int64 // when it was reserved, Unix seconds
	// acked: Kafka acknowledged the write. Until then the transaction is
	// in flight in another request, which may still fail: a resend then
	// is produced again rather than called a duplicate (the processor
	// applies whichever copy comes first, once).
	acked bool
}

// bodyHash is an idempotency hash held by value: an in-flight entry then
// holds no pointer, which keeps a large in-flight set (a long offline
// backlog being written) cheap for the garbage collector.
type bodyHash struct {
	b [32]byte
	n uint8
}

func hashOf(b []byte) bodyHash {
	var h bodyHash
	h.n = uint8(copy(h.b[:], b))
	if len(b) > len(h.b) { // not a SHA-256: keep it comparable all the same
		sum := sha256.Sum256(b)
		h.b, h.n = sum, 33
	}
	return h
}

func (h bodyHash) equal(b []byte) bool { return h == hashOf(b) }

// bodyHashEqual compares idempotency hashes.
func bodyHashEqual(a, b []byte) bool { return bytes.Equal(a, b) }
