package mirror

import "errors"

var (
	// ErrInvalidConfig wraps every problem Config.Validate finds.
	ErrInvalidConfig = errors.New("invalid mirror configuration")
	// ErrSchemaTooNew: the database holds migrations this build does not
	// know (a newer invsync migrated it). Permanent: Run returns it.
	ErrSchemaTooNew = errors.New("database schema is newer than this invsync")
	// ErrOffsetsMoved: the stored offset of a partition is past the
	// records a batch was about to apply, so another writer (a second
	// mirror on the same database) applied them. The batch is rolled back
	// and consumption restarts from the stored offsets.
	ErrOffsetsMoved = errors.New("stored offsets moved past the batch (another mirror writing to the same database?)")
	// errClosed: Run was called after Close.
	errClosed = errors.New("mirror is closed")
)

// permanentError marks an error that retrying cannot cure; Run returns it
// instead of retrying.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }
