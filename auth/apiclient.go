package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// tokenClient calls the token endpoints of a running invsync with an admin
// credential.
type tokenClient struct {
	url, admin string
	http       *http.Client
}

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
	cl, err := newTokenClient(*url, *dataDir, *tlsCA)
	if err != nil {
		fmt.Fprintln(stderr, "invsync token:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	switch sub {
	case "create":
		return cl.create(ctx, stdout, stderr, name, role, warehouses, expiresIn, *asJSON)
	case "list":
		return cl.list(ctx, stdout, stderr, *asJSON)
	case "revoke":
		if fs.NArg() != 1 {
			fmt.Fprintln(stderr, "invsync token revoke: give the tokenId to revoke (see invsync token list)")
			return 2
		}
		return cl.revoke(ctx, stdout, stderr, fs.Arg(0), *asJSON)
	default:
		fmt.Fprintf(stderr, "invsync token: unknown command %q\n\n", sub)
		tokenUsage(stderr)
		return 2
	}
}

func tokenUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: invsync token create --name NAME --role ROLE --warehouses WH[,WH...]|* [--expires-in 720h]
       invsync token list
       invsync token revoke TOKEN_ID

Manages the API's bearer tokens through a running invsync (--url). The admin
credential comes from INVSYNC_ADMIN_TOKEN, or from <data-dir>/admin-token,
which the first start of invsync serve writes. A token is shown once, when
created; only its hash is stored. A revocation reaches every instance within
seconds.

Roles: admin (everything), supervisor (reads, locks, discrepancies, count
tasks, held counts), scanner (uploads as itself, its warehouse's positions,
catalog and count tasks, its own locks), cloud (allocations, positions,
reconciliation reports), reader (reads of positions, allocations,
discrepancies, catalog). A scanner token's name is the device's scannerId;
"create" prints the link that enrols a device in the scanner web app.
`)
}

func newTokenClient(url, dataDir, caFile string) (*tokenClient, error) {
	admin := os.Getenv("INVSYNC_ADMIN_TOKEN")
	if admin == "" {
		path := filepath.Join(dataDir, adminTokenFile)
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("no admin credential: set INVSYNC_ADMIN_TOKEN, or point --data-dir at the data dir of invsync serve (reading %s: %v)", path, err)
		}
		admin = strings.TrimSpace(string(b))
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pool, err := loadPool(caFile)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	}
	return &tokenClient{url: strings.TrimRight(url, "/"), admin: admin, http: &http.Client{Transport: tr}}, nil
}

// call sends one request and decodes a 2xx answer into out; otherwise it
// returns the API's error message.
func (c *tokenClient) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w (is invsync serve running at %s?)", method, path, err, c.url)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Code != "" {
			return fmt.Errorf("%s %s: %d %s: %s", method, path, resp.StatusCode, e.Error.Code, e.Error.Message)
		}
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(data))
	}
	return json.Unmarshal(data, out)
}

type tokenOut struct {
	TokenID    string     `json:"tokenId"`
	Token      string     `json:"token,omitempty"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	Warehouses []string   `json:"warehouses"`
	ExpiresAt  *time.Time `json:"expiresAt"`
	CreatedAt  time.Time  `json:"createdAt"`
	CreatedBy  string     `json:"createdBy"`
	RevokedAt  *time.Time `json:"revokedAt"`
	Status     string     `json:"status"`
}

func (c *tokenClient) create(ctx context.Context, stdout, stderr io.Writer, name, role, warehouses, expiresIn string, asJSON bool) int {
	body := map[string]any{"name": name, "role": role, "warehouses": splitList(warehouses)}
	var problems []string
	if name == "" || role == "" || warehouses == "" {
		problems = append(problems, "--name, --role and --warehouses are required")
	}
	if expiresIn != "" {
		d, err := time.ParseDuration(expiresIn)
		if err != nil || d <= 0 {
			problems = append(problems, fmt.Sprintf("--expires-in %q is not a positive duration such as 720h", expiresIn))
		}
		body["expiresAt"] = time.Now().Add(d).UTC().Format(time.RFC3339)
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, "invsync token create:", p)
		}
		return 2
	}
	var out tokenOut
	if err := c.call(ctx, http.MethodPost, "/v1/tokens", body, &out); err != nil {
		fmt.Fprintln(stderr, "invsync token create:", err)
		return 1
	}
	if asJSON {
		_ = json.NewEncoder(stdout).Encode(out)
		return 0
	}
	fmt.Fprintf(stdout, "token:      %s\ntokenId:    %s\nname:       %s\nrole:       %s\nwarehouses: %s\n",
		out.Token, out.TokenID, out.Name, out.Role, strings.Join(out.Warehouses, ","))
	if out.Role == "scanner" {
		fmt.Fprintf(stdout, "enrol link: %s/scanner/#token=%s\n", c.url, out.Token)
	}
	fmt.Fprintln(stdout, "The token is shown this once; only its hash is stored.")
	return 0
}

func (c *tokenClient) list(ctx context.Context, stdout, stderr io.Writer, asJSON bool) int {
	var out struct {
		Tokens []tokenOut `json:"tokens"`
	}
	if err := c.call(ctx, http.MethodGet, "/v1/tokens", nil, &out); err != nil {
		fmt.Fprintln(stderr, "invsync token list:", err)
		return 1
	}
	if asJSON {
		_ = json.NewEncoder(stdout).Encode(out)
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOKEN ID\tNAME\tROLE\tWAREHOUSES\tSTATUS\tEXPIRES\tCREATED")
	for _, t := range out.Tokens {
		exp := "never"
		if t.ExpiresAt != nil {
			exp = t.ExpiresAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.TokenID, t.Name, t.Role, strings.Join(t.Warehouses, ","), t.Status, exp, t.CreatedAt.UTC().Format(time.RFC3339))
	}
	_ = tw.Flush()
	return 0
}

func (c *tokenClient) revoke(ctx context.Context, stdout, stderr io.Writer, id string, asJSON bool) int {
	var out tokenOut
	if err := c.call(ctx, http.MethodDelete, "/v1/tokens/"+id, nil, &out); err != nil {
		fmt.Fprintln(stderr, "invsync token revoke:", err)
		return 1
	}
	if asJSON {
		_ = json.NewEncoder(stdout).Encode(out)
		return 0
	}
	fmt.Fprintf(stdout, "revoked %s (%s, %s) at %s\n", out.TokenID, out.Name, out.Role, out.RevokedAt.UTC().Format(time.RFC3339))
	return 0
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
