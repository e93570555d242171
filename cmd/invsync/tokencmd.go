package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/auth/tokencli"
)

// runToken is `invsync token create|list|revoke`: token management from the
// command line, through the HTTP API of a running invsync.
func runToken(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, help("token"))
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("token "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f tokencli.Flags
	f.Bind(fs, sub, os.Getenv)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), help("token"))
		fmt.Fprintln(fs.Output(), "\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return parseFailed(err)
	}
	cl, err := tokencli.NewClient(f.URL, f.DataDir, f.TLSCA)
	if err != nil {
		fmt.Fprintln(stderr, "invsync token:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out any
	var show func()
	switch sub {
	case "create":
		warehouses, expiresAt, problems := f.CreateArgs()
		for _, p := range problems {
			fmt.Fprintln(stderr, "invsync token create:", p)
		}
		if len(problems) > 0 {
			return 2
		}
		tok, cerr := cl.Create(ctx, f.Name, f.Role, warehouses, expiresAt)
		out, err, show = tok, cerr, func() { tokencli.WriteCreated(stdout, cl.URL(), tok) }
	case "list":
		toks, lerr := cl.List(ctx)
		out, err, show = api.TokenList{Tokens: toks}, lerr, func() { tokencli.WriteList(stdout, toks) }
	case "revoke":
		if fs.NArg() != 1 {
			fmt.Fprintln(stderr, "invsync token revoke: give the tokenId to revoke (see invsync token list)")
			return 2
		}
		tok, rerr := cl.Revoke(ctx, fs.Arg(0))
		out, err, show = tok, rerr, func() { tokencli.WriteRevoked(stdout, tok) }
	default:
		fmt.Fprintf(stderr, "invsync token: unknown command %q\n\n", sub)
		fmt.Fprint(stderr, help("token"))
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "invsync token %s: %v\n", sub, err)
		return 1
	}
	if f.JSON {
		_ = json.NewEncoder(stdout).Encode(out)
		return 0
	}
	show()
	return 0
}
