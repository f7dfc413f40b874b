package scheduler

import (
	"testing"
	"unsafe"
)

// TestWorkerSize: a worker is kept per probe (100k in a normal load) and
// fits the 320-byte size class; a field that takes it past costs 6 MB
// more at 100k probes (the next class is 352).
func TestWorkerSize(t *testing.T) {
	if n := unsafe.Sizeof(worker{}); n > 320 {
		t.Errorf("a worker is %d bytes, past the 320-byte size class", n)
	}
}
