package embedded

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// fileLock is an advisory lock (flock) on a file. The kernel releases it
// when the process holding it dies, however it dies, which is what lets a
// broker tell that its supervisor is gone and a supervisor tell that its
// broker is alive.
type fileLock struct {
	f *os.File
}

// errLocked: another process holds the lock.
var errLocked = errors.New("locked by another process")

// tryLock takes an exclusive (or, with shared, a shared) lock on path
// without waiting; errLocked when another process holds a conflicting one.
func tryLock(path string, shared bool) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening lock file: %w", err)
	}
	how := syscall.LOCK_EX
	if shared {
		how = syscall.LOCK_SH
	}
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return &fileLock{f: f}, nil
}

// held reports whether some process holds an exclusive lock on path.
func held(path string) (bool, error) {
	l, err := tryLock(path, true)
	if errors.Is(err, errLocked) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	l.release()
	return false, nil
}

// release drops the lock. Safe on nil and twice.
func (l *fileLock) release() {
	if l == nil || l.f == nil {
		return
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
	l.f = nil
}

func isAddrInUse(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }
