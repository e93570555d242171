package api

import "github.com/invsync/invsync/auth"

// Role is a token's role. Roles are auth's (what each may do is its
// table); the API re-uses them rather than spelling them again.
type Role = auth.Role

// The roles.
const (
	RoleAdmin      = auth.RoleAdmin
	RoleSupervisor = auth.RoleSupervisor
	RoleScanner    = auth.RoleScanner
	RoleCloud      = auth.RoleCloud
	RoleReader     = auth.RoleReader
)
