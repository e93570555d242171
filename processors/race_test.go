//go:build race

package processors

// Under the race detector (which also turns on Pebble's invariant checks)
// the Pebble runs of the property tests cost ten times as much; they run
// fewer histories there.
func init() { raceDetector = true }
