package main

import (
	"strings"
	"testing"
)

// TestHelp: --help names the commands (check has its own flags, so kingpin
// alone didn't list it) and groups the flags; "help" and "help check"
// show the same as --help; --output's help names both its users.
func TestHelp(t *testing.T) {
	main, _, code := runBinary(t, "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, want := range []string{"Commands:", "  check -f FILE", "  help [check]",
		"Configuration:\n  --config.file", "Running once (--once, check):", "Probing:", "Kubernetes:", "DNS:", "Web:", "Logging:",
		"What --once (and check) print"} {
		if !strings.Contains(main, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	if i, j := strings.Index(main, "Configuration:"), strings.Index(main, "--config.max-expanded-targets"); j < i {
		t.Error("a config. flag outside its group")
	}
	if out, _, code := runBinary(t, "help"); code != 0 || out != main {
		t.Errorf("help: exit %d, and not what --help says:\n%s", code, out)
	}
	check, _, code := runBinary(t, "check", "--help")
	if code != 0 {
		t.Fatalf("check --help: exit %d", code)
	}
	for _, want := range []string{"usage: probe-exporter check", "--port-forward=LOCAL:REMOTE", "-f, --filename=FILENAME", "What check prints, as --once", "Kubernetes:\n      --kubeconfig"} {
		if !strings.Contains(check, want) {
			t.Errorf("check --help lacks %q", want)
		}
	}
	if strings.Contains(check, "Commands:") {
		t.Error("check --help lists the exporter's commands")
	}
	if out, _, code := runBinary(t, "help", "check"); code != 0 || out != check {
		t.Errorf("help check: exit %d, and not what check --help says:\n%s", code, out)
	}
}
