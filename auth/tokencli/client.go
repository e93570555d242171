// Package tokencli is `invsync token create|list|revoke`: it manages
// tokens through the HTTP API of a running invsync, with an admin
// credential, and shows the answers to a person. It lives apart from auth,
// which knows nothing of HTTP, so that it can speak the API's own types.
package tokencli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/auth"
)

// Client calls the token endpoints of a running invsync's HTTP API with
// an admin credential.
type Client struct {
	url, admin string
	http       *http.Client
}

// NewClient returns a client of the invsync at url. The admin credential
// is INVSYNC_ADMIN_TOKEN, else the auth.AdminTokenFile of dataDir; caFile, when
// set, is a PEM CA to trust for an https url.
func NewClient(url, dataDir, caFile string) (*Client, error) {
	admin := os.Getenv("INVSYNC_ADMIN_TOKEN")
	if admin == "" {
		path := filepath.Join(dataDir, auth.AdminTokenFile)
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("no admin credential: set INVSYNC_ADMIN_TOKEN, or point --data-dir at the data dir of invsync serve (reading %s: %v)", path, err)
		}
		admin = strings.TrimSpace(string(b))
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca: %s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	}
	return &Client{url: strings.TrimRight(url, "/"), admin: admin, http: &http.Client{Transport: tr}}, nil
}

// call sends one request and decodes a 2xx answer into out; otherwise it
// returns the API's error message.
func (c *Client) call(ctx context.Context, method, path string, body, out any) error {
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
		var e api.ErrorBody
		if json.Unmarshal(data, &e) == nil && e.Error.Code != "" {
			return fmt.Errorf("%s %s: %d %s: %s", method, path, resp.StatusCode, e.Error.Code, e.Error.Message)
		}
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(data))
	}
	return json.Unmarshal(data, out)
}

// URL is the base URL of the invsync the client calls.
func (c *Client) URL() string { return c.url }

// Create makes a token; expiresAt zero means until revoked.
func (c *Client) Create(ctx context.Context, name, role string, warehouses []string, expiresAt time.Time) (api.Token, error) {
	body := api.TokenRequest{Name: &name, Role: &role, Warehouses: warehouses}
	if !expiresAt.IsZero() {
		at := expiresAt.UTC().Truncate(time.Second) // sent to the second, as it always was
		body.ExpiresAt = &at
	}
	var out api.Token
	err := c.call(ctx, http.MethodPost, "/v1/tokens", body, &out)
	return out, err
}

// List returns every token.
func (c *Client) List(ctx context.Context) ([]api.Token, error) {
	var out api.TokenList
	err := c.call(ctx, http.MethodGet, "/v1/tokens", nil, &out)
	return out.Tokens, err
}

// Revoke revokes a token by its id.
func (c *Client) Revoke(ctx context.Context, id string) (api.Token, error) {
	var out api.Token
	err := c.call(ctx, http.MethodDelete, "/v1/tokens/"+id, nil, &out)
	return out, err
}
