//go:build race

package main

// raceEnabled: the tests run under -race, so the binary they start is
// built with it too, and a race in it fails the test that saw it.
const raceEnabled = true
