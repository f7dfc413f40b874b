// Package golden compares test output with a file checked into testdata,
// and rewrites the file when a test runs with -update.
package golden

import (
	"os"
	"path/filepath"
	"testing"
)

// Check fails t unless got equals the content of path; with update set it
// writes got to path first (review the diff before committing).
func Check(t testing.TB, path, got string, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update to accept):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}
