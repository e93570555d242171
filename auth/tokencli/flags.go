package tokencli

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/invsync/invsync/api"
)

// Flags are the flags of `invsync token create|list|revoke`.
type Flags struct {
	// URL, DataDir and TLSCA are NewClient's.
	URL, DataDir, TLSCA string
	// JSON prints the answer as JSON rather than for a person.
	JSON bool
	// Name, Role, Warehouses (comma-separated) and ExpiresIn are create's.
	Name, Role, Warehouses, ExpiresIn string
}

// Bind declares on fs the flags of token command sub, with their
// environment variables.
func (t *Flags) Bind(fs *flag.FlagSet, sub string, getenv func(string) string) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&t.URL, "url", env("INVSYNC_URL", "http://127.0.0.1:8080"), "base URL of the running invsync (INVSYNC_URL)")
	fs.StringVar(&t.DataDir, "data-dir", env("INVSYNC_DATA_DIR", "./data"), "data dir whose admin-token file holds the admin credential, when INVSYNC_ADMIN_TOKEN is not set")
	fs.StringVar(&t.TLSCA, "tls-ca", env("INVSYNC_TLS_CA", ""), "PEM CA to trust for an https --url with a private certificate (INVSYNC_TLS_CA)")
	fs.BoolVar(&t.JSON, "json", false, "print JSON")
	if sub == "create" {
		fs.StringVar(&t.Name, "name", "", "who the token is for; for a scanner, its scannerId (required)")
		fs.StringVar(&t.Role, "role", "", "admin, supervisor, scanner, cloud or reader (required)")
		fs.StringVar(&t.Warehouses, "warehouses", "", `comma-separated warehouse ids the token may act on, or "*" for all (required)`)
		fs.StringVar(&t.ExpiresIn, "expires-in", "", "validity, e.g. 720h; empty: until revoked")
	}
}

// CreateArgs converts create's flags into Client.Create's arguments,
// with the problems found (each a flag's).
func (t *Flags) CreateArgs() (warehouses []string, expiresAt time.Time, problems []string) {
	if t.Name == "" || t.Role == "" || t.Warehouses == "" {
		problems = append(problems, "--name, --role and --warehouses are required")
	}
	if t.ExpiresIn != "" {
		d, err := time.ParseDuration(t.ExpiresIn)
		if err != nil || d <= 0 {
			problems = append(problems, fmt.Sprintf("--expires-in %q is not a positive duration such as 720h", t.ExpiresIn))
		}
		expiresAt = time.Now().Add(d)
	}
	warehouses = []string{}
	for _, w := range strings.Split(t.Warehouses, ",") {
		if w = strings.TrimSpace(w); w != "" {
			warehouses = append(warehouses, w)
		}
	}
	return warehouses, expiresAt, problems
}

// WriteCreated writes a created token for a person; url is the API's, for
// a scanner's enrol link.
func WriteCreated(w io.Writer, url string, v api.Token) {
	fmt.Fprintf(w, "token:      %s\ntokenId:    %s\nname:       %s\nrole:       %s\nwarehouses: %s\n",
		v.Token, v.TokenID, v.Name, v.Role, strings.Join(v.Warehouses, ","))
	if v.Role == api.RoleScanner {
		fmt.Fprintf(w, "enrol link: %s/scanner/#token=%s\n", url, v.Token)
	}
	fmt.Fprintln(w, "The token is shown this once; only its hash is stored.")
}

// WriteRevoked writes a revoked token for a person.
func WriteRevoked(w io.Writer, v api.Token) {
	fmt.Fprintf(w, "revoked %s (%s, %s) at %s\n", v.TokenID, v.Name, v.Role, v.RevokedAt.UTC().Format(time.RFC3339))
}

// WriteList writes tokens as a table for a person.
func WriteList(w io.Writer, tokens []api.Token) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOKEN ID\tNAME\tROLE\tWAREHOUSES\tSTATUS\tEXPIRES\tCREATED")
	for _, t := range tokens {
		exp := "never"
		if t.ExpiresAt != nil {
			exp = t.ExpiresAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.TokenID, t.Name, t.Role, strings.Join(t.Warehouses, ","), t.Status, exp, t.CreatedAt.UTC().Format(time.RFC3339))
	}
	_ = tw.Flush()
}
