//go:build race

package servertest

// raceEnabled: the race detector slows the servers under test (in the
// model tests, the test binary itself) several times.
const raceEnabled = true
