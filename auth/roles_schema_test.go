package auth_test

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/invsync/invsync/auth"
)

// TestRolesAreTheTokenSchemas: a token record's role is an Avro enum
// (schemas/token.avsc), whose symbols keep their order forever (the
// encoding is the index). They must name exactly auth's roles: a role
// added here without the schema could not be written to Kafka, and one
// in the schema only could be read but never authorised.
func TestRolesAreTheTokenSchemas(t *testing.T) {
	b, err := os.ReadFile("../schemas/token.avsc")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Fields []struct {
			Name string          `json:"name"`
			Type json.RawMessage `json:"type"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	var symbols []string
	for _, f := range schema.Fields {
		if f.Name == "role" {
			var enum struct {
				Symbols []string `json:"symbols"`
			}
			if err := json.Unmarshal(f.Type, &enum); err != nil {
				t.Fatal(err)
			}
			symbols = enum.Symbols
		}
	}
	var roles []string
	for _, r := range auth.Roles {
		roles = append(roles, string(r))
	}
	slices.Sort(symbols)
	slices.Sort(roles)
	if len(symbols) == 0 || !slices.Equal(symbols, roles) {
		t.Errorf("token.avsc's roles %v, auth's %v", symbols, roles)
	}
}
