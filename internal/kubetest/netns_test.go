package kubetest

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestSweepStaleNetns: a namespace left by a test process that is gone is
// deleted, with its /etc/netns files; one whose process runs is kept.
func TestSweepStaleNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("network namespaces need iproute2's ip command")
	}
	max, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Skip(err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(max)))
	gone := fmt.Sprintf("%s%d", netnsPrefix, n+1) // no process can have it
	alive := fmt.Sprintf("%s%d", netnsPrefix, os.Getpid())
	for _, name := range []string{gone, alive} {
		if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
			t.Fatalf("ip netns add %s: %v: %s", name, err, out)
		}
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", name).Run() })
	}
	if err := os.MkdirAll("/etc/netns/"+gone, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll("/etc/netns/" + gone) })

	sweepStaleNetns()
	if _, err := os.Stat("/run/netns/" + gone); !os.IsNotExist(err) {
		t.Errorf("the namespace of a process that is gone is still there (%v)", err)
	}
	if _, err := os.Stat("/etc/netns/" + gone); !os.IsNotExist(err) {
		t.Errorf("its /etc/netns files are still there (%v)", err)
	}
	if _, err := os.Stat("/run/netns/" + alive); err != nil {
		t.Errorf("the namespace of a running process was deleted: %v", err)
	}
}
