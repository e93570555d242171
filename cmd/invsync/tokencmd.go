package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/invsync/invsync/auth"
)

// runToken is `invsync token create|list|revoke`: token management from the
// command line, through the HTTP API of a running invsync.
func runToken(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		tokenUsage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("token "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", envOr("INVSYNC_URL", "http://127.0.0.1:8080"), "base URL of the running invsync (INVSYNC_URL)")
	dataDir := fs.String("data-dir", envOr("INVSYNC_DATA_DIR", "./data"), "data dir whose admin-token file holds the admin credential, when INVSYNC_ADMIN_TOKEN is not set")
	tlsCA := fs.String("tls-ca", envOr("INVSYNC_TLS_CA", ""), "PEM CA to trust for an https --url with a private certificate (INVSYNC_TLS_CA)")
	asJSON := fs.Bool("json", false, "print JSON")
	var name, role, warehouses, expiresIn string
	if sub == "create" {
		fs.StringVar(&name, "name", "", "who the token is for; for a scanner, its scannerId (required)")
		fs.StringVar(&role, "role", "", "admin, supervisor, scanner, cloud or reader (required)")
		fs.StringVar(&warehouses, "warehouses", "", `comma-separated warehouse ids the token may act on, or "*" for all (required)`)
		fs.StringVar(&expiresIn, "expires-in", "", "validity, e.g. 720h; empty: until revoked")
	}
	fs.Usage = func() { tokenUsage(fs.Output()); fmt.Fprintln(fs.Output(), "\nFlags:"); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cl, err := auth.NewAPIClient(*url, *dataDir, *tlsCA)
	if err != nil {
		fmt.Fprintln(stderr, "invsync token:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out any
	switch sub {
	case "create":
		var expiresAt time.Time
		var problems []string
		if name == "" || role == "" || warehouses == "" {
			problems = append(problems, "--name, --role and --warehouses are required")
		}
		if expiresIn != "" {
			d, err := time.ParseDuration(expiresIn)
			if err != nil || d <= 0 {
				problems = append(problems, fmt.Sprintf("--expires-in %q is not a positive duration such as 720h", expiresIn))
			}
			expiresAt = time.Now().Add(d)
		}
		for _, p := range problems {
			fmt.Fprintln(stderr, "invsync token create:", p)
		}
		if len(problems) > 0 {
			return 2
		}
		var tok auth.TokenInfo
		tok, err = cl.Create(ctx, name, role, splitList(warehouses), expiresAt)
		out = tok
	case "list":
		var toks []auth.TokenInfo
		toks, err = cl.List(ctx)
		out = struct {
			Tokens []auth.TokenInfo `json:"tokens"`
		}{toks}
	case "revoke":
		if fs.NArg() != 1 {
			fmt.Fprintln(stderr, "invsync token revoke: give the tokenId to revoke (see invsync token list)")
			return 2
		}
		var tok auth.TokenInfo
		tok, err = cl.Revoke(ctx, fs.Arg(0))
		out = tok
	default:
		fmt.Fprintf(stderr, "invsync token: unknown command %q\n\n", sub)
		tokenUsage(stderr)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "invsync token %s: %v\n", sub, err)
		return 1
	}
	if *asJSON {
		_ = json.NewEncoder(stdout).Encode(out)
		return 0
	}
	printTokens(stdout, sub, cl.URL(), out)
	return 0
}

// printTokens prints the answer to sub for a person.
func printTokens(w io.Writer, sub, url string, out any) {
	switch sub {
	case "revoke":
		v := out.(auth.TokenInfo)
		fmt.Fprintf(w, "revoked %s (%s, %s) at %s\n", v.TokenID, v.Name, v.Role, v.RevokedAt.UTC().Format(time.RFC3339))
	case "create":
		v := out.(auth.TokenInfo)
		fmt.Fprintf(w, "token:      %s\ntokenId:    %s\nname:       %s\nrole:       %s\nwarehouses: %s\n",
			v.Token, v.TokenID, v.Name, v.Role, strings.Join(v.Warehouses, ","))
		if v.Role == "scanner" {
			fmt.Fprintf(w, "enrol link: %s/scanner/#token=%s\n", url, v.Token)
		}
		fmt.Fprintln(w, "The token is shown this once; only its hash is stored.")
	default:
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TOKEN ID\tNAME\tROLE\tWAREHOUSES\tSTATUS\tEXPIRES\tCREATED")
		for _, t := range out.(struct {
			Tokens []auth.TokenInfo `json:"tokens"`
		}).Tokens {
			exp := "never"
			if t.ExpiresAt != nil {
				exp = t.ExpiresAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.TokenID, t.Name, t.Role, strings.Join(t.Warehouses, ","), t.Status, exp, t.CreatedAt.UTC().Format(time.RFC3339))
		}
		_ = tw.Flush()
	}
}

func splitList(s string) []string {
	out := []string{}
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
func tokenUsage(w io.Writer) {
	fmt.Fprint(w, help("token"))
}
