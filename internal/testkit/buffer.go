package testkit

import (
	"bytes"
	"os"
	"strings"
	"sync"
)

// Buffer keeps what is written to it, for output read while its writer is
// still at work or shown when a test fails. It is safe for concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Tail returns the last n lines written.
func (b *Buffer) Tail(n int) string { return LastLines(b.String(), n) }

// TailFile returns the last n lines of the file at path ("" when it cannot
// be read: it is for failure messages).
func TailFile(path string, n int) string {
	data, _ := os.ReadFile(path)
	return LastLines(string(data), n)
}

// LastLines returns the last n lines of text, without its final newline.
func LastLines(text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
