package prober

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"syscall"
	"time"
)

// execProber runs a command on the exporter's own host: there is no
// container to exec into. The command comes only from the config file, runs
// without a shell, and lives in its own process group so that a timeout
// kills everything it started.
type execProber struct {
	command []string
	timeout time.Duration
}

// waitDelay bounds how long we wait for output pipes after the command (or
// its timeout) ends: a grandchild that escaped the process group and holds
// the pipe must not hold the probe.
const waitDelay = 50 * time.Millisecond

func (p *execProber) Type() Type { return Exec }

func (p *execProber) Address(t *Target) string {
	if t.Port != 0 {
		return net.JoinHostPort(t.Host, strconv.Itoa(int(t.Port)))
	}
	return t.Host
}

func (p *execProber) Probe(ctx context.Context, t *Target) Outcome {
	argv := make([]string, len(p.command))
	for i, a := range p.command {
		argv[i] = expand(a, t.Vars)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = environ(t.Vars)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = waitDelay
	out := &limitWriter{n: maxReadLength}
	cmd.Stdout, cmd.Stderr = out, out // one writer: one pipe, combined in order

	err := cmd.Run()
	if cmd.Process != nil {
		// Whatever it left running in its group goes with it.
		_ = killGroup(cmd)
	}
	output := string(out.buf)
	switch ps := cmd.ProcessState; {
	case ps != nil && ps.Exited():
		// It ran to its end (any pipe-holding leftovers were cut off by
		// waitDelay): the exit code decides.
		if ps.ExitCode() == 0 {
			return Outcome{Result: Success, Output: output}
		}
		return Outcome{Result: Failure, Output: output}
	case ctx.Err() != nil:
		// ExecProbeTimeout (on by default since Kubernetes 1.20): a timeout
		// is a failure.
		return Outcome{Result: Failure, Output: fmt.Sprintf("command %q timed out after %v", argv[0], p.timeout)}
	case ps != nil:
		return Outcome{Result: Failure, Output: fmt.Sprintf("%s (%s)", output, ps)}
	}
	// Could not run it at all: the kubelet's "unknown with error", retried
	// and then discarded.
	return Outcome{Result: Unknown, Err: fmt.Errorf("running %q: %w", argv[0], err)}
}

func killGroup(cmd *exec.Cmd) error {
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// environ is the exporter's environment plus the target's variables, which
// take precedence.
func environ(vars map[string]string) []string {
	env := os.Environ()
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+vars[k])
	}
	return env
}
