package processors

// NewMemStore exposes the tests' in-memory Store to the external test
// package, which runs the storetest conformance suite against it (an
// internal test cannot import storetest: storetest imports processors).
func NewMemStore() Store { return newMemStore() }
