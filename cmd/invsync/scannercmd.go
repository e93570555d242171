package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	scannercli "github.com/invsync/invsync/scanner/cli"
)

// runScanner is `invsync scanner …`: a scanner device reading scans from
// stdin, and its operator commands (status, rejections, dismiss, retry,
// correct). SIGINT/SIGTERM stop it cleanly with the queue kept.
func runScanner(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return scannercli.Main(ctx, args, stdin, stdout, stderr)
}
