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
	"strings"
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
	// base is the environment every command starts from (Env.execBase).
	base []string
	// redact keeps the values passed from the exporter's environment
	// (often credentials) out of the output.
	redact redactor
	// reaper, when set, kills what a command leaves behind outside its
	// process group.
	reaper *Reaper
}

// attemptVar names the attempt token in a command's environment (see
// Reaper).
const attemptVar = "PROBE_ATTEMPT"

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
	var token string
	if p.reaper != nil {
		token = p.reaper.begin()
		defer p.reaper.end(token)
	}
	cmd.Env = environ(p.base, t.Vars, token)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = waitDelay
	out := &limitWriter{n: maxReadLength}
	cmd.Stdout, cmd.Stderr = out, out // one writer: one pipe, combined in order

	err := p.run(cmd)
	if cmd.Process != nil {
		// Whatever it left running in its group goes with it.
		_ = killGroup(cmd)
	}
	output := p.redact.text(string(out.buf))
	switch ps := cmd.ProcessState; {
	case ps != nil && ps.Exited():
		// It ran to its end (any pipe-holding leftovers were cut off by
		// waitDelay): the exit code decides.
		if ps.ExitCode() == 0 {
			return Outcome{Result: Success, Output: output}
		}
		return Outcome{Result: Failure, Output: output, Reason: ExecExitCode}
	case ctx.Err() != nil:
		// ExecProbeTimeout (on by default since Kubernetes 1.20): a timeout
		// is a failure.
		return Outcome{Result: Failure, Output: fmt.Sprintf("command %q timed out after %v", argv[0], p.timeout), Reason: ExecTimeout}
	case ps != nil:
		// Ended by a signal: counted with the exit codes.
		return Outcome{Result: Failure, Output: fmt.Sprintf("%s (%s)", output, ps), Reason: ExecExitCode}
	}
	// Could not run it at all: the kubelet's "unknown with error", retried
	// and then discarded.
	return Outcome{Result: Unknown, Err: fmt.Errorf("running %q: %w", argv[0], err), Reason: Other}
}

// run is cmd.Run, starting it through the reaper when there is one.
func (p *execProber) run(cmd *exec.Cmd) error {
	if p.reaper == nil {
		return cmd.Run()
	}
	if err := p.reaper.start(cmd); err != nil {
		return err
	}
	defer p.reaper.waited(cmd)
	return cmd.Wait()
}

func killGroup(cmd *exec.Cmd) error {
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// environ is a command's whole environment: the base (PATH and the
// variables the exporter was told to pass), the target's PROBE_*
// variables, which take precedence, and the attempt's token. Nothing
// else of the exporter's environment is passed: it may hold credentials.
func environ(base []string, vars map[string]string, token string) []string {
	env := make([]string, 0, len(base)+len(vars)+1)
	env = append(env, base...)
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+vars[k])
	}
	if token != "" {
		env = append(env, attemptVar+"="+token)
	}
	return env
}

// defaultPath is PATH for commands when the exporter has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// execSecrets are the values execBase passes besides PATH.
func execSecrets(base []string) redactor {
	var values []string
	for _, kv := range base {
		if k, v, _ := strings.Cut(kv, "="); k != "PATH" {
			values = append(values, v)
		}
	}
	return newRedactor(values...)
}

// execBase is the environment exec commands start from: PATH (the
// exporter's, or defaultPath) and each variable of pass that the exporter
// has.
func execBase(pass []string) []string {
	path, ok := os.LookupEnv("PATH")
	if !ok {
		path = defaultPath
	}
	env := []string{"PATH=" + path}
	for _, name := range pass {
		if name == "PATH" {
			continue
		}
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	return env
}
