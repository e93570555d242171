// Command scannermain is `invsync scanner` as a binary of its own: the
// scanner package's crash tests run it as a child process to kill, and it
// suits a device that needs nothing of invsync but the scanner. Its
// arguments are those that follow `invsync scanner`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	scannercli "github.com/invsync/invsync/scanner/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := scannercli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
