package auth

import "slices"

// Action is something a request does, checked against the caller's role.
type Action string

// The actions of the API. Warehouse scope is checked separately
// (Principal.MayAccess): an action allowed to a role is allowed only within
// the token's warehouses.
const (
	ReadCatalog        Action = "catalog:read"
	WriteCatalog       Action = "catalog:write"
	Upload             Action = "transactions:upload"
	ReadTransactions   Action = "transactions:read"
	ReadPositions      Action = "positions:read"
	ReadAllocations    Action = "allocations:read"
	WriteAllocations   Action = "allocations:write"
	ReadLocks          Action = "locks:read"
	WriteLocks         Action = "locks:write"
	ReleaseOthersLocks Action = "locks:release-others"
	ManageTokens       Action = "tokens:manage"
	ReadDiscrepancies  Action = "discrepancies:read"
	WriteDiscrepancies Action = "discrepancies:write"
	ReadCountTasks     Action = "count-tasks:read"
	WriteCountTasks    Action = "count-tasks:write"
	ReviewCounts       Action = "counts:review"
	PostReports        Action = "reconciliation:report"
	ReadScanners       Action = "scanners:read"
)

// roleActions is the spec's table of roles: what each may do. Admin may do
// everything, tokens and the catalog included.
var roleActions = map[Role][]Action{
	RoleSupervisor: {ReadCatalog, ReadTransactions, ReadPositions, ReadAllocations, ReadLocks, WriteLocks,
		ReleaseOthersLocks, ReadDiscrepancies, WriteDiscrepancies, ReadCountTasks, WriteCountTasks, ReviewCounts, ReadScanners},
	// A scanner's locks are its own: ingest checks the lock's scannerId.
	RoleScanner: {Upload, ReadTransactions, ReadPositions, ReadCatalog, ReadCountTasks, ReadLocks, WriteLocks},
	RoleCloud:   {WriteAllocations, ReadAllocations, ReadPositions, PostReports},
	RoleReader:  {ReadPositions, ReadAllocations, ReadDiscrepancies, ReadCatalog, ReadScanners},
}

// Allows reports whether role r may do a.
func (r Role) Allows(a Action) bool {
	return r == RoleAdmin || slices.Contains(roleActions[r], a)
}
