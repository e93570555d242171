package sim

// WriteReport writes the report to dir.
func WriteReport(dir string, r Result, command string) error { return nil }
