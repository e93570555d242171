//go:build !linux

package bench

import "os/exec"

// setDeathSignal does nothing where the kernel has no parent-death signal:
// the peer JVM is stopped by RunPeer, and outlives a bench that is killed.
func setDeathSignal(*exec.Cmd) {}
