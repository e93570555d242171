package main

import (
	"os"

	"github.com/invsync/invsync/internal/cliflag"
	"github.com/invsync/invsync/server"
)

// parseServe parses args (after "serve") with env fallbacks and validates
// the result, reporting every problem at once.
func parseServe(args []string, getenv func(string) string) (server.Options, error) {
	return parseCommand("serve", server.Flags, args, getenv, os.Stderr, func(v *cliflag.Values) (server.Options, error) {
		return server.ConfigureOptions(v, getenv)
	})
}
