package scanner

// Exit codes of `invsync scanner` (package scanner/cli): what the end
// state of a device's run means to the process that ran it.
const (
	// ExitOK: nothing is left queued (and, for the run, no rejection waits).
	ExitOK = 0
	// ExitError: the queue could not be opened or written.
	ExitError = 1
	// ExitUsage: bad flags or arguments.
	ExitUsage = 2
	// ExitQueued: scans remain queued (offline, server failing, token
	// refused).
	ExitQueued = 3
	// ExitRejected: rejected scans wait for the operator.
	ExitRejected = 4
)
