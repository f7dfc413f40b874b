// Package await waits for conditions in tests, so that no test sleeps for
// a fixed time where it can watch for what it expects.
package await

import (
	"testing"
	"time"
)

// Timeout bounds every wait: generous, because a wait that succeeds
// returns as soon as its condition holds.
const Timeout = 10 * time.Second

// True polls cond until it holds, failing the test after Timeout.
func True(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", Timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
