package prober

import (
	"net"
	"syscall"
)

// probeDialer is the kubelet's ProbeDialer: SO_LINGER {on, 1s}, so that the
// many short connections probes make don't pile up in TIME-WAIT
// (kubernetes#89898).
func probeDialer() *net.Dialer {
	return &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptLinger(int(fd), syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 1})
		})
		if err != nil {
			return err
		}
		return serr
	}}
}
