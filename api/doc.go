// Package api holds the wire types of invsync's HTTP API: the bodies that
// go over HTTP between the server (package ingest) and its clients (the
// scanner device, the simulator, the load generator, the CLI) and its
// fakes. One Go type per wire shape, with the JSON tags of the spec
// (docs: "HTTP API"); the error codes, statuses and roles as typed
// constants.
//
// A body the server decodes strictly, where a missing field must be told
// from a zero one, is a struct of pointers (UploadRequestFields and
// UploadTransactionFields, the server's views of UploadRequest and
// Transaction; AllocationRequest, LockRequest, TokenRequest,
// ReportRequest, DiscrepancyPatch, CountTaskRequest): the server checks
// presence, and a client fills the pointers it sends. A body the server writes is a
// struct of values; a field that is null when unset is a pointer without
// omitempty, and a field left out when unset has omitempty. Field order
// is the order of the bytes on the wire (api_test.go pins them): a body
// once written as a map keeps its keys sorted.
//
// The package depends on nothing of invsync but auth, whose roles it
// re-uses: a role is what a token may do, and that table is auth's.
// Internal domain types (processors.Transaction, schemas.Transaction)
// convert to and from these at their edge.
package api
