package prober

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Reaper makes the exporter the child subreaper of its exec probes
// (PR_SET_CHILD_SUBREAPER): whatever a command leaves behind, even a
// process that left its process group (setsid, a daemon's double fork),
// is re-parented to the exporter instead of to init, so it can be reaped
// (no zombies when the exporter is PID 1) and killed once the probe that
// started it has ended.
//
// Attribution: each attempt's command gets PROBE_ATTEMPT=<token> in its
// environment, which its descendants inherit. A re-parented process whose
// token belongs to a running attempt is left alone (its probe may still be
// waiting on it); any other is killed. The exporter starts no processes
// but its exec probes, so a child it did not start through Start is a
// leftover.
type Reaper struct {
	self int
	// mu is held across fork and registration, so a sweep never mistakes
	// a just-started command (which os/exec reaps itself) for a leftover.
	mu       sync.Mutex
	commands map[int]struct{}
	attempts map[string]struct{}
	next     uint64

	// Killed counts leftovers killed; Reaped, re-parented zombies reaped.
	killed, reaped uint64

	kick chan struct{}
	sig  chan os.Signal
	stop chan struct{}
	done chan struct{}
}

// StartReaper makes this process a child subreaper and starts reaping.
// Stop ends it and kills every leftover.
func StartReaper() (*Reaper, error) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("becoming a child subreaper: %w", err)
	}
	r := &Reaper{
		self:     os.Getpid(),
		commands: map[int]struct{}{},
		attempts: map[string]struct{}{},
		kick:     make(chan struct{}, 1),
		sig:      make(chan os.Signal, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	signal.Notify(r.sig, syscall.SIGCHLD)
	go r.loop()
	return r, nil
}

// sweepBackstop is how often the reaper looks without being told to
// (SIGCHLD is coalesced, and a kill's effect comes later).
const sweepBackstop = time.Second

func (r *Reaper) loop() {
	defer close(r.done)
	t := time.NewTicker(sweepBackstop)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-r.sig:
		case <-r.kick:
		case <-t.C:
		}
		r.sweep(false)
	}
}

// Stop stops reaping and kills whatever is left: call it once probing has
// stopped. It waits up to about 100 ms for the killed to be reaped.
func (r *Reaper) Stop() {
	close(r.stop)
	<-r.done
	signal.Stop(r.sig)
	deadline := time.Now().Add(100 * time.Millisecond)
	for r.sweep(true) > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// Counts returns how many leftovers were killed and zombies reaped.
func (r *Reaper) Counts() (killed, reaped uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.killed, r.reaped
}

// begin registers an attempt and returns its token.
func (r *Reaper) begin() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	tok := strconv.Itoa(r.self) + "-" + strconv.FormatUint(r.next, 10)
	r.attempts[tok] = struct{}{}
	return tok
}

// end unregisters an attempt; what it left running is killed by the
// sweep this asks for.
func (r *Reaper) end(tok string) {
	r.mu.Lock()
	delete(r.attempts, tok)
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// start starts cmd as a known command: os/exec reaps it, not the sweep.
func (r *Reaper) start(cmd *exec.Cmd) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	r.commands[cmd.Process.Pid] = struct{}{}
	return nil
}

// waited forgets a command os/exec has reaped.
func (r *Reaper) waited(cmd *exec.Cmd) {
	r.mu.Lock()
	delete(r.commands, cmd.Process.Pid)
	r.mu.Unlock()
}

// sweep reaps re-parented zombies and kills leftovers (every one when
// all is set); it returns how many it found still alive.
func (r *Reaper) sweep(all bool) int {
	pids := r.children()
	r.mu.Lock()
	defer r.mu.Unlock()
	alive := 0
	for _, pid := range pids {
		if _, ok := r.commands[pid]; ok {
			continue
		}
		if zombie(pid) {
			var ws unix.WaitStatus
			if n, _ := unix.Wait4(pid, &ws, unix.WNOHANG, nil); n == pid {
				r.reaped++
			}
			continue
		}
		alive++
		if !all && r.claimed(pid) {
			continue
		}
		if err := unix.Kill(pid, unix.SIGKILL); err == nil {
			r.killed++
		}
	}
	return alive
}

// claimed says whether pid carries the token of a running attempt.
func (r *Reaper) claimed(pid int) bool {
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if errors.Is(err, os.ErrPermission) {
		// A setuid program (ping) hides its environment: it may belong to
		// a running attempt, so it is left alone while any runs.
		return len(r.attempts) > 0
	}
	if err != nil {
		return false
	}
	for _, kv := range bytes.Split(env, []byte{0}) {
		if tok, ok := bytes.CutPrefix(kv, []byte(attemptVar+"=")); ok {
			_, running := r.attempts[string(tok)]
			return running
		}
	}
	return false
}

// children lists this process's children: every thread's
// /proc/self/task/*/children (re-parented orphans are given to one of the
// threads), or, without CONFIG_PROC_CHILDREN, a scan of /proc.
func (r *Reaper) children() []int {
	files, _ := filepath.Glob("/proc/self/task/*/children")
	var pids []int
	read := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		read++
		for _, s := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(s); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	if read > 0 {
		return pids
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, _, err := stat(pid); err == nil && ppid == r.self {
			pids = append(pids, pid)
		}
	}
	return pids
}

// zombie says whether pid has exited and waits to be reaped.
func zombie(pid int) bool {
	_, state, err := stat(pid)
	return err == nil && state == 'Z'
}

// stat reads a process's parent and state from /proc/<pid>/stat.
func stat(pid int) (ppid int, state byte, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses,
	// so read after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, errors.New("malformed stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 || len(f[0]) != 1 {
		return 0, 0, errors.New("malformed stat")
	}
	ppid, err = strconv.Atoi(f[1])
	return ppid, f[0][0], err
}
