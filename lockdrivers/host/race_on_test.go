//go:build race

package host_test

// raceEnabled: the race detector slows the engine's SQLite-backed commands
// about fourfold, so the long batch test runs a shorter batch under it.
const raceEnabled = true
