package testkit

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"strconv"
	"testing"
)

// FreeAddr returns a loopback host:port no one listened on a moment ago,
// for a process that must be told its address before it starts (a child
// process, a restart on the same port). Prefer port 0 where the listener
// reports its address.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// FreePort is FreeAddr's port.
func FreePort(t testing.TB) int {
	t.Helper()
	_, port, _ := net.SplitHostPort(FreeAddr(t))
	n, _ := strconv.Atoi(port)
	return n
}

// RandomName is prefix followed by 8 random hex digits: a topic prefix, a
// group or an id no other test or run uses.
func RandomName(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
