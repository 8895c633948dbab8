//go:build race

package main_test

// raceEnabled makes TestMain build the driver with -race too, so it reuses
// the race-built packages of the test run instead of compiling them again.
const raceEnabled = true
