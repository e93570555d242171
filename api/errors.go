package api

import "time"

// ErrorCode is the code of an error body, or of a rejected transaction
// or outcome.
type ErrorCode string

// The error codes of whole requests (the error body).
const (
	CodeInvalidRequest      ErrorCode = "INVALID_REQUEST"
	CodeUnauthenticated     ErrorCode = "UNAUTHENTICATED"
	CodeForbidden           ErrorCode = "FORBIDDEN"
	CodeScannerMismatch     ErrorCode = "SCANNER_MISMATCH"
	CodeNotFound            ErrorCode = "NOT_FOUND"
	CodeMethodNotAllowed    ErrorCode = "METHOD_NOT_ALLOWED"
	CodeBodyTooLarge        ErrorCode = "BODY_TOO_LARGE"
	CodeTooManyTransactions ErrorCode = "TOO_MANY_TRANSACTIONS"
	CodeRateLimited         ErrorCode = "RATE_LIMITED"
	CodeBacklogFull         ErrorCode = "BACKLOG_FULL"
	CodeKafkaUnavailable    ErrorCode = "KAFKA_UNAVAILABLE"
	CodeStarting            ErrorCode = "STARTING"
	CodeNotReady            ErrorCode = "NOT_READY"
	CodeInternal            ErrorCode = "INTERNAL"
	CodePartitionRestoring  ErrorCode = "PARTITION_RESTORING"
	CodePartitionNotOwned   ErrorCode = "PARTITION_NOT_OWNED"

	CodeTransactionNotFound ErrorCode = "TRANSACTION_NOT_FOUND"
	CodeInvalidCatalog      ErrorCode = "INVALID_CATALOG"
	CodeInvalidAllocation   ErrorCode = "INVALID_ALLOCATION"
	CodeAllocationNotFound  ErrorCode = "ALLOCATION_NOT_FOUND"
	CodeInvalidLock         ErrorCode = "INVALID_LOCK"
	CodeLockNotFound        ErrorCode = "LOCK_NOT_FOUND"
	CodeInvalidTokenRequest ErrorCode = "INVALID_TOKEN_REQUEST"
	CodeTokenNotFound       ErrorCode = "TOKEN_NOT_FOUND"
	CodeInvalidReport       ErrorCode = "INVALID_REPORT"
	CodeReportTooLarge      ErrorCode = "REPORT_TOO_LARGE"
	CodeReportNotFound      ErrorCode = "REPORT_NOT_FOUND"
	CodeCommandNotFound     ErrorCode = "COMMAND_NOT_FOUND"
	CodeCountNotFound       ErrorCode = "COUNT_NOT_FOUND"
	CodeInvalidCountTask    ErrorCode = "INVALID_COUNT_TASK"
	CodeSchemaNotFound      ErrorCode = "SCHEMA_NOT_FOUND"
	CodeSubjectNotFound     ErrorCode = "SUBJECT_NOT_FOUND"
)

// The codes of a rejected transaction (a result's or an outcome's code);
// some also answer a whole request (UNKNOWN_WAREHOUSE, LOCATION_LOCKED,
// DISCREPANCY_NOT_FOUND, INVALID_TRANSITION, COUNT_NOT_HELD). They are
// decided by the processors, whose constants (processors.Code*) carry
// the same values; ingest's tests hold the two to each other.
const (
	CodeInvalidTransaction    ErrorCode = "INVALID_TRANSACTION"
	CodeUnknownItem           ErrorCode = "UNKNOWN_ITEM"
	CodeUnknownLocation       ErrorCode = "UNKNOWN_LOCATION"
	CodeUnknownWarehouse      ErrorCode = "UNKNOWN_WAREHOUSE"
	CodeUnreasonableQuantity  ErrorCode = "UNREASONABLE_QUANTITY"
	CodeIdempotencyMismatch   ErrorCode = "IDEMPOTENCY_MISMATCH"
	CodeWarehouseNotPermitted ErrorCode = "WAREHOUSE_NOT_PERMITTED"
	CodeVersionConflict       ErrorCode = "VERSION_CONFLICT"
	CodeLocationLocked        ErrorCode = "LOCATION_LOCKED"
	CodeCountOutsideWindow    ErrorCode = "COUNT_OUTSIDE_WINDOW"
	CodeVarianceReview        ErrorCode = "VARIANCE_REVIEW"
	CodeCountRejected         ErrorCode = "COUNT_REJECTED"
	CodeCountSuperseded       ErrorCode = "COUNT_SUPERSEDED"
	CodeCountNotHeld          ErrorCode = "COUNT_NOT_HELD"
	CodeDiscrepancyNotFound   ErrorCode = "DISCREPANCY_NOT_FOUND"
	CodeInvalidTransition     ErrorCode = "INVALID_TRANSITION"
)

// ErrorBody is the body of every error answer:
// {"error":{"code":…,"message":…}}.
type ErrorBody struct {
	Error Error `json:"error"`
}

// Error is the error of an ErrorBody. A 409 LOCATION_LOCKED also names
// the lock that holds the location (expiresAt, holder, lockId); other
// errors leave those out. The fields are in the order the server has
// always written them (alphabetical).
type Error struct {
	Code      ErrorCode  `json:"code"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	Holder    string     `json:"holder,omitempty"`
	LockID    string     `json:"lockId,omitempty"`
	Message   string     `json:"message"`
}

// NewError is the error body of code and message.
func NewError(code ErrorCode, message string) ErrorBody {
	return ErrorBody{Error: Error{Code: code, Message: message}}
}
