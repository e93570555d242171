package auth

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func mustNew(t *testing.T, r Request) (Token, string) {
	t.Helper()
	tok, secret, err := New(r, now)
	if err != nil {
		t.Fatal(err)
	}
	return tok, secret
}

func TestAuthenticate(t *testing.T) {
	reg := NewRegistry()
	exp := now.Add(time.Hour)
	tok, secret := mustNew(t, Request{Name: "SCANNER-08", Role: RoleScanner, Warehouses: []string{"WH-001"}, ExpiresAt: &exp})
	reg.Apply(tok)
	p, err := reg.Authenticate(secret, now)
	if err != nil || p.Name != "SCANNER-08" || p.Role != RoleScanner || !p.MayAccess("WH-001") || p.MayAccess("WH-002") {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	if _, err := reg.Authenticate(secret, exp); !errors.Is(err, ErrExpired) {
		t.Errorf("at its expiry: %v, want ErrExpired", err)
	}
	// Same id, another secret: unknown (the id alone is not a credential).
	last := "A"
	if strings.HasSuffix(secret, "A") {
		last = "B"
	}
	other := secret[:len(secret)-1] + last
	if _, err := reg.Authenticate(other, now); !errors.Is(err, ErrUnknown) && !errors.Is(err, ErrMalformed) {
		t.Errorf("a wrong secret: %v, want ErrUnknown", err)
	}
	rev := tok
	at := now.Add(time.Minute)
	rev.RevokedAt = &at
	reg.Apply(rev)
	if _, err := reg.Authenticate(secret, now); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked: %v, want ErrRevoked", err)
	}
	reg.Apply(tok) // a later record without the revocation does not undo it
	if _, err := reg.Authenticate(secret, now); !errors.Is(err, ErrRevoked) {
		t.Errorf("revocation undone by a later record: %v", err)
	}
	if _, err := reg.Authenticate("", now); err == nil {
		t.Error("the empty token authenticated")
	}
	if reg.HasActiveAdmin(now) {
		t.Error("HasActiveAdmin with no admin token")
	}
	reg.SetAdmin("0123456789abcdef0123456789abcdef-admin")
	if p, err := reg.Authenticate("0123456789abcdef0123456789abcdef-admin", now); err != nil || p.Role != RoleAdmin || !p.AllWarehouses() {
		t.Errorf("the --admin-token credential: %+v, %v", p, err)
	}
}

func TestRequestValidation(t *testing.T) {
	past := now.Add(-time.Second)
	for name, r := range map[string]Request{
		"no name":      {Role: RoleReader, Warehouses: []string{"*"}},
		"control char": {Name: "a\nb", Role: RoleReader, Warehouses: []string{"*"}},
		"bad role":     {Name: "x", Role: "root", Warehouses: []string{"*"}},
		"no warehouse": {Name: "x", Role: RoleReader},
		"star and one": {Name: "x", Role: RoleReader, Warehouses: []string{"*", "WH-1"}},
		"expired":      {Name: "x", Role: RoleReader, Warehouses: []string{"*"}, ExpiresAt: &past},
	} {
		if _, _, err := New(r, now); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

// TestRoleTable states the spec's table of roles, row by row.
func TestRoleTable(t *testing.T) {
	all := []Action{ReadCatalog, WriteCatalog, Upload, ReadTransactions, ReadPositions, ReadAllocations, WriteAllocations,
		ReadLocks, WriteLocks, ReleaseOthersLocks, ManageTokens, ReadDiscrepancies, WriteDiscrepancies, ReadCountTasks,
		WriteCountTasks, ReviewCounts, PostReports}
	want := map[Role][]Action{
		RoleAdmin: all,
		RoleSupervisor: {ReadCatalog, ReadTransactions, ReadPositions, ReadAllocations, ReadLocks, WriteLocks, ReleaseOthersLocks,
			ReadDiscrepancies, WriteDiscrepancies, ReadCountTasks, WriteCountTasks, ReviewCounts},
		RoleScanner: {Upload, ReadTransactions, ReadPositions, ReadCatalog, ReadCountTasks, ReadLocks, WriteLocks},
		RoleCloud:   {WriteAllocations, ReadAllocations, ReadPositions, PostReports},
		RoleReader:  {ReadPositions, ReadAllocations, ReadDiscrepancies, ReadCatalog},
	}
	for role, allowed := range want {
		for _, a := range all {
			in := false
			for _, x := range allowed {
				in = in || x == a
			}
			if role.Allows(a) != in {
				t.Errorf("%s may %s: %v, want %v", role, a, role.Allows(a), in)
			}
		}
	}
	if Role("root").Allows(ReadCatalog) {
		t.Error("an unknown role is allowed something")
	}
}

func TestParseBearer(t *testing.T) {
	for in, want := range map[string]string{"Bearer abc": "abc", "bearer abc": "abc", "  Bearer   abc ": "abc"} {
		if got, err := ParseBearer(in); err != nil || got != want {
			t.Errorf("ParseBearer(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "Bearer", "Bearer ", "Basic abc", "Bearer a b", "abc"} {
		if _, err := ParseBearer(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseBearer(%q): %v, want ErrMalformed", in, err)
		}
	}
}

// FuzzAuthenticate: no header or token string panics, and nothing but the
// issued secrets authenticates.
func FuzzAuthenticate(f *testing.F) {
	reg := NewRegistry()
	tok, secret, err := New(Request{Name: "s", Role: RoleScanner, Warehouses: []string{"WH"}}, now)
	if err != nil {
		f.Fatal(err)
	}
	reg.Apply(tok)
	for _, seed := range []string{"Bearer " + secret, "Bearer ivs_", "Bearer ivs_" + tok.TokenID + "_", secret, "", "Bearer \x00", "bEaReR " + secret + "x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		token, err := ParseBearer(header)
		if err != nil {
			return
		}
		_, _, _ = Parse(token)
		p, err := reg.Authenticate(token, now)
		if err == nil && token != secret {
			t.Fatalf("%q authenticated as %+v", token, p)
		}
	})
}

// BenchmarkAuthenticate is the cost of checking one request's token.
func BenchmarkAuthenticate(b *testing.B) {
	reg := NewRegistry()
	for i := range 1000 {
		tok, _, err := New(Request{Name: "s", Role: RoleScanner, Warehouses: []string{"WH"}}, now)
		if err != nil {
			b.Fatal(err)
		}
		tok.TokenID = tok.TokenID[:12] + string(rune('a'+i%26)) + tok.TokenID[13:]
		reg.Apply(tok)
	}
	tok, secret, _ := New(Request{Name: "s", Role: RoleScanner, Warehouses: []string{"WH"}}, now)
	reg.Apply(tok)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Authenticate(secret, now); err != nil {
			b.Fatal(err)
		}
	}
}
