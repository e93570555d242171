// Package auth is invsync's trust boundary without the transport: bearer
// tokens (how they are made, parsed, hashed and checked), the roles and
// what each may do, and the in-memory registry every instance keeps of the
// tokens (fed from Kafka by pipeline.TokenTable). It knows nothing of HTTP
// or Kafka.
//
// A token is "ivs_<tokenId>_<secret>": the id names the stored entry, the
// secret is 32 random bytes. Only the SHA-256 of the secret is stored (a
// fast hash is right for a secret of 256 random bits: there is nothing to
// guess), and it is compared in constant time.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// AdminTokenFile is the file in a data dir where the first start of a
// server writes the admin token it generated.
const AdminTokenFile = "admin-token"

// Role is what a token may do (see Allows).
type Role string

// The roles.
const (
	RoleAdmin      Role = "admin"
	RoleSupervisor Role = "supervisor"
	RoleScanner    Role = "scanner"
	RoleCloud      Role = "cloud"
	RoleReader     Role = "reader"
)

// Roles lists every role.
var Roles = []Role{RoleAdmin, RoleSupervisor, RoleScanner, RoleCloud, RoleReader}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// AllWarehouses in a token's warehouses means every warehouse.
const AllWarehouses = "*"

// Token is a stored token: everything but its secret.
type Token struct {
	TokenID    string
	Name       string
	Role       Role
	Warehouses []string
	ExpiresAt  *time.Time
	CreatedAt  time.Time
	// CreatedBy is the name of the token that created it.
	CreatedBy string
	// RevokedAt is set once the token is revoked; it never authenticates
	// again.
	RevokedAt *time.Time
	// Hash is the SHA-256 of the secret.
	Hash [32]byte
}

// Active reports whether t authenticates at now.
func (t *Token) Active(now time.Time) bool {
	return t.RevokedAt == nil && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
}

// Errors of token handling.
var (
	// ErrMalformed: the string is not a token of this format.
	ErrMalformed = errors.New("malformed token")
	// ErrUnknown: no token has this id, or the secret does not match.
	ErrUnknown = errors.New("unknown token")
	// ErrRevoked: the token was revoked.
	ErrRevoked = errors.New("token revoked")
	// ErrExpired: the token's expiry has passed.
	ErrExpired = errors.New("token expired")
	// ErrInvalid: a token request breaks a rule (name, role, warehouses,
	// expiry).
	ErrInvalid = errors.New("invalid token request")
)

const (
	prefix    = "ivs_"
	idLen     = 16 // base32-ish id characters
	secretLen = 43 // base64url of 32 bytes, unpadded
)

var idAlphabet = []byte("abcdefghijkmnopqrstuvwxyz23456789")

// Request is what a token is made from.
type Request struct {
	Name       string
	Role       Role
	Warehouses []string
	ExpiresAt  *time.Time
	CreatedBy  string
}

// Validate reports every problem of r at once; now bounds the expiry.
func (r *Request) Validate(now time.Time) error {
	var errs []string
	if r.Name == "" || len(r.Name) > 128 || strings.ContainsFunc(r.Name, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
		errs = append(errs, "name is required: 1 to 128 printable characters (a scanner token's name is its scannerId)")
	}
	if !r.Role.Valid() {
		errs = append(errs, fmt.Sprintf("role %q is not one of admin, supervisor, scanner, cloud, reader", r.Role))
	}
	if len(r.Warehouses) == 0 {
		errs = append(errs, `warehouses is required: warehouse ids, or ["*"] for all`)
	}
	for _, w := range r.Warehouses {
		if w == "" || len(w) > 128 {
			errs = append(errs, fmt.Sprintf("warehouse %q is not a warehouse id", w))
		}
		if w == AllWarehouses && len(r.Warehouses) > 1 {
			errs = append(errs, `"*" (all warehouses) stands alone`)
		}
	}
	if r.ExpiresAt != nil && !r.ExpiresAt.After(now) {
		errs = append(errs, "expiresAt is in the past")
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(errs, "; "))
	}
	return nil
}

// New makes a token from r: its stored form and its secret, shown once.
func New(r Request, now time.Time) (Token, string, error) {
	if err := r.Validate(now); err != nil {
		return Token{}, "", err
	}
	var raw [idLen + 32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return Token{}, "", fmt.Errorf("generating a token: %w", err)
	}
	id := make([]byte, idLen)
	for i := range id {
		id[i] = idAlphabet[int(raw[i])%len(idAlphabet)]
	}
	secret := base64.RawURLEncoding.EncodeToString(raw[idLen:])
	t := Token{TokenID: string(id), Name: r.Name, Role: r.Role, Warehouses: slices.Clone(r.Warehouses),
		ExpiresAt: r.ExpiresAt, CreatedAt: now.UTC(), CreatedBy: r.CreatedBy, Hash: sha256.Sum256([]byte(secret))}
	return t, prefix + t.TokenID + "_" + secret, nil
}

// Parse splits a token string into its id and the hash of its secret.
func Parse(token string) (id string, hash [32]byte, err error) {
	rest, ok := strings.CutPrefix(token, prefix)
	if !ok || len(rest) != idLen+1+secretLen || rest[idLen] != '_' {
		return "", hash, ErrMalformed
	}
	id, secret := rest[:idLen], rest[idLen+1:]
	for i := 0; i < len(id); i++ {
		if !slices.Contains(idAlphabet, id[i]) {
			return "", hash, ErrMalformed
		}
	}
	if _, err := base64.RawURLEncoding.DecodeString(secret); err != nil {
		return "", hash, ErrMalformed
	}
	return id, sha256.Sum256([]byte(secret)), nil
}

// ParseBearer extracts the token of an Authorization header
// ("Bearer <token>", the scheme case-insensitive).
func ParseBearer(header string) (string, error) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", fmt.Errorf("%w: the Authorization header must be \"Bearer <token>\"", ErrMalformed)
	}
	token = strings.TrimSpace(token)
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", fmt.Errorf("%w: the Authorization header must be \"Bearer <token>\"", ErrMalformed)
	}
	return token, nil
}

// matches compares hashes in constant time.
func matches(a, b [32]byte) bool { return subtle.ConstantTimeCompare(a[:], b[:]) == 1 }
