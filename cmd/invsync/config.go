package main

import (
	"os"

	"github.com/invsync/invsync/server"
)

// parseServe parses args (after "serve") with env fallbacks and validates
// the result, reporting every problem at once.
func parseServe(args []string, getenv func(string) string) (server.Options, error) {
	v, err := parseSpecs("serve", server.Flags, args, getenv, os.Stderr)
	if err != nil {
		return server.Options{}, err
	}
	c, err := server.ConfigureOptions(v, getenv)
	if err != nil {
		return server.Options{}, invalid("serve", err)
	}
	return c, nil
}
