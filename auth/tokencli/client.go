package auth

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
)

// APIClient calls the token endpoints of a running invsync's HTTP API with
// an admin credential (`invsync token`).
type APIClient struct {
	url, admin string
	http       *http.Client
}

// AdminTokenFile is the file in a data dir where the first start of a
// server writes the admin token it generated.
const AdminTokenFile = "admin-token"

// NewAPIClient returns a client of the invsync at url. The admin credential
// is INVSYNC_ADMIN_TOKEN, else the AdminTokenFile of dataDir; caFile, when
// set, is a PEM CA to trust for an https url.
func NewAPIClient(url, dataDir, caFile string) (*APIClient, error) {
	admin := os.Getenv("INVSYNC_ADMIN_TOKEN")
	if admin == "" {
		path := filepath.Join(dataDir, AdminTokenFile)
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
	return &APIClient{url: strings.TrimRight(url, "/"), admin: admin, http: &http.Client{Transport: tr}}, nil
}

// call sends one request and decodes a 2xx answer into out; otherwise it
// returns the API's error message.
func (c *APIClient) call(ctx context.Context, method, path string, body, out any) error {
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

// URL is the base URL of the invsync the client calls.
func (c *APIClient) URL() string { return c.url }

// TokenInfo is a token as the API describes it; Token (the secret) is set
// only in the answer to Create.
type TokenInfo struct {
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

// Create makes a token; expiresAt zero means until revoked.
func (c *APIClient) Create(ctx context.Context, name, role string, warehouses []string, expiresAt time.Time) (TokenInfo, error) {
	body := map[string]any{"name": name, "role": role, "warehouses": warehouses}
	if !expiresAt.IsZero() {
		body["expiresAt"] = expiresAt.UTC().Format(time.RFC3339)
	}
	var out TokenInfo
	err := c.call(ctx, http.MethodPost, "/v1/tokens", body, &out)
	return out, err
}

// List returns every token.
func (c *APIClient) List(ctx context.Context) ([]TokenInfo, error) {
	var out struct {
		Tokens []TokenInfo `json:"tokens"`
	}
	err := c.call(ctx, http.MethodGet, "/v1/tokens", nil, &out)
	return out.Tokens, err
}

// Revoke revokes a token by its id.
func (c *APIClient) Revoke(ctx context.Context, id string) (TokenInfo, error) {
	var out TokenInfo
	err := c.call(ctx, http.MethodDelete, "/v1/tokens/"+id, nil, &out)
	return out, err
}
