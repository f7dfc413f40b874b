package kubetest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const (
	envNetns   = "PROBE_EXPORTER_NETNS"
	envNoNetns = "PROBE_EXPORTER_NO_NETNS"
)

// TestAddresses are TEST-NET addresses (RFC 5737, RFC 3849) put on the
// namespace's loopback: EndpointSlice validation accepts them, and inside
// the namespace they answer, so discovered endpoints can really be probed
// without touching any network outside it.
var TestAddresses = func() []string {
	var as []string
	for i := 1; i <= 70; i++ {
		as = append(as, fmt.Sprintf("192.0.2.%d", i))
	}
	return append(as, "2001:db8::1", "2001:db8::2")
}()

// TestHosts resolve inside the namespace through its own hosts file: the
// DNS names the discovery tests probe (a StatefulSet pod, a Service). Any
// other name fails to resolve at once (the namespace's resolver is
// 127.0.0.1, where nothing answers).
var TestHosts = map[string]string{
	"db-0.db.shop.svc.cluster.local": "192.0.2.5",
	"web.shop.svc.cluster.local":     "192.0.2.9",
	"db.external.example":            "192.0.2.42", // an FQDN EndpointSlice's address
}

// MainInNetns runs the package's tests inside a network namespace of
// their own, created here and deleted afterwards, with TestAddresses on
// its loopback. Use it as TestMain's body. Where namespaces can't be made
// (not root, no iproute2) the tests run here and RequireNetns skips them
// with the reason.
func MainInNetns(m *testing.M) int {
	if os.Getenv(envNetns) != "" {
		return m.Run() // already inside
	}
	sweepStaleNetns()
	name := fmt.Sprintf("%s%d", netnsPrefix, os.Getpid())
	if err := setupNetns(name); err != nil {
		os.Setenv(envNoNetns, err.Error())
		return m.Run()
	}
	defer exec.Command("ip", "netns", "del", name).Run()
	defer os.RemoveAll(filepath.Join("/etc/netns", name))
	cmd := exec.Command("ip", append([]string{"netns", "exec", name, os.Args[0]}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), envNetns+"="+name)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "running the tests in the network namespace:", err)
		return 1
	}
	return 0
}

// netnsPrefix names the namespaces MainInNetns makes, followed by the
// pid of the test process that made it.
const netnsPrefix = "pe-test-"

// sweepStaleNetns deletes the namespaces of test processes that are gone:
// MainInNetns deletes its own on every way out but being killed, and a
// namespace outlives its processes.
func sweepStaleNetns() {
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		pid, ok := strings.CutPrefix(e.Name(), netnsPrefix)
		if !ok {
			continue
		}
		if _, err := strconv.Atoi(pid); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join("/proc", pid)); !errors.Is(err, fs.ErrNotExist) {
			continue // running, or can't tell
		}
		_ = exec.Command("ip", "netns", "del", e.Name()).Run()
		_ = os.RemoveAll(filepath.Join("/etc/netns", e.Name()))
	}
}

func setupNetns(name string) error {
	if os.Geteuid() != 0 {
		return errors.New("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("network namespaces need iproute2's ip command")
	}
	steps := [][]string{{"netns", "add", name}, {"-n", name, "link", "set", "lo", "up"}}
	for _, a := range TestAddresses {
		prefix := "/32"
		if strings.Contains(a, ":") {
			prefix = "/128"
		}
		steps = append(steps, []string{"-n", name, "addr", "add", a + prefix, "dev", "lo"})
	}
	for i, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			if i > 0 {
				_ = exec.Command("ip", "netns", "del", name).Run()
			}
			return fmt.Errorf("ip %s: %v: %s", strings.Join(s, " "), err, strings.TrimSpace(string(out)))
		}
	}
	// ip netns exec bind-mounts /etc/netns/NAME/* over /etc/*.
	dir := filepath.Join("/etc/netns", name)
	hosts := "127.0.0.1 localhost\n::1 localhost\n"
	for h, a := range TestHosts {
		hosts += a + " " + h + "\n"
	}
	if err := os.MkdirAll(dir, 0o755); err == nil {
		err = errors.Join(os.WriteFile(filepath.Join(dir, "hosts"), []byte(hosts), 0o644),
			os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"), 0o644))
		if err != nil {
			_ = exec.Command("ip", "netns", "del", name).Run()
			return fmt.Errorf("writing %s: %w", dir, err)
		}
	}
	return nil
}

// RequireNetns skips a test that needs TestAddresses to answer when it
// does not run in the namespace MainInNetns makes.
func RequireNetns(t testing.TB) {
	t.Helper()
	if os.Getenv(envNetns) == "" {
		reason := os.Getenv(envNoNetns)
		if reason == "" {
			reason = "TestMain does not use kubetest.MainInNetns"
		}
		t.Skipf("needs a private network namespace with TEST-NET addresses: %s", reason)
	}
}
