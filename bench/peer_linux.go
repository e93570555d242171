package bench

import (
	"os/exec"
	"syscall"
)

// setDeathSignal has the kernel kill the peer JVM if the bench process dies
// without stopping it, so no JVM outlives its run.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
