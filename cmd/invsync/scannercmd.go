package main

import (
	"io"

	scannercli "github.com/invsync/invsync/scanner/cli"
)

// runScanner is `invsync scanner …`: a scanner device reading scans from
// stdin, and its operator commands (status, rejections, dismiss, retry,
// correct). SIGINT/SIGTERM stop it cleanly with the queue kept.
func runScanner(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := untilSignal()
	defer stop()
	return scannercli.Main(ctx, args, stdin, stdout, stderr)
}
