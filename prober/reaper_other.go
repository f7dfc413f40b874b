//go:build !linux

package prober

import (
	"errors"
	"os/exec"
)

// Reaper is Linux-only (PR_SET_CHILD_SUBREAPER); elsewhere exec probes
// rely on their process group alone.
type Reaper struct{}

// StartReaper reports that there is no subreaper here.
func StartReaper() (*Reaper, error) {
	return nil, errors.New("a child subreaper needs Linux")
}

// Stop does nothing.
func (r *Reaper) Stop() {}

// Counts is always zero.
func (r *Reaper) Counts() (killed, reaped uint64) { return 0, 0 }

func (r *Reaper) begin() string             { return "" }
func (r *Reaper) end(string)                {}
func (r *Reaper) start(cmd *exec.Cmd) error { return cmd.Start() }
func (r *Reaper) waited(*exec.Cmd)          {}
