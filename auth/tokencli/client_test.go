package tokencli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/invsync/invsync/api"
	"github.com/invsync/invsync/auth"
)

// TestClientSpeaksTheAPI runs the client against a stand-in for the token
// endpoints: the admin credential from the data dir, the request bodies and
// the answers are the API's.
func TestClientSpeaksTheAPI(t *testing.T) {
	t.Setenv("INVSYNC_ADMIN_TOKEN", "")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, auth.AdminTokenFile), []byte("ivs_admin_secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var gotCreate api.TokenRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer ivs_admin_secret" {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(api.NewError(api.CodeUnauthenticated, "no"))
			return
		}
		tok := api.Token{TokenID: "T1", Name: "s-1", Role: api.RoleScanner, Warehouses: []string{"WH1"},
			CreatedAt: created, CreatedBy: "admin", Status: api.TokenActive}
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/tokens":
			if err := json.NewDecoder(r.Body).Decode(&gotCreate); err != nil {
				t.Errorf("create body: %v", err)
			}
			tok.Token = "ivs_T1_secret"
			_ = json.NewEncoder(w).Encode(tok)
		case r.Method == http.MethodGet && r.URL.Path == "/v1/tokens":
			_ = json.NewEncoder(w).Encode(api.TokenList{Tokens: []api.Token{tok}})
		default:
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(api.NewError(api.CodeTokenNotFound, "no such token"))
		}
	}))
	defer srv.Close()

	cl, err := NewClient(srv.URL+"/", dir, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	expires := time.Date(2026, 2, 3, 4, 5, 6, 789, time.UTC)
	tok, err := cl.Create(ctx, "s-1", "scanner", []string{"WH1"}, expires)
	if err != nil {
		t.Fatal(err)
	}
	if gotCreate.Name == nil || *gotCreate.Name != "s-1" || gotCreate.Role == nil || *gotCreate.Role != "scanner" ||
		len(gotCreate.Warehouses) != 1 || gotCreate.ExpiresAt == nil || !gotCreate.ExpiresAt.Equal(expires.Truncate(time.Second)) {
		t.Errorf("create sent %+v", gotCreate)
	}
	var out bytes.Buffer
	WriteCreated(&out, cl.URL(), tok)
	if want := "enrol link: " + srv.URL + "/scanner/#token=ivs_T1_secret"; !strings.Contains(out.String(), want) {
		t.Errorf("created shows %q, want it to hold %q", out.String(), want)
	}

	toks, err := cl.List(ctx)
	if err != nil || len(toks) != 1 || toks[0].TokenID != "T1" || !toks[0].CreatedAt.Equal(created) {
		t.Fatalf("list = %+v, %v", toks, err)
	}
	out.Reset()
	WriteList(&out, toks)
	if !strings.Contains(out.String(), "T1  ") || !strings.Contains(out.String(), "never") {
		t.Errorf("list shows %q", out.String())
	}

	_, err = cl.Revoke(ctx, "T9")
	if err == nil || !strings.Contains(err.Error(), "404 TOKEN_NOT_FOUND: no such token") {
		t.Errorf("revoking an unknown token: %v, want the API's code and message", err)
	}
}
