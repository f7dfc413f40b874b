package prober

import (
	"net"
	"os"
	"syscall"
)

// dialErrorText is err.Error(), written in one allocation for what a
// dial to an IP address usually ends in — a *net.OpError around the
// connect(2) errno: "dial tcp 10.0.0.1:80: connect: connection refused".
// net words it in seven allocations (each concatenation, the address's
// text, the port's): 2.4 % of a core saturated with refused connects.
// Any other error is err.Error() itself;
// TestDialErrorText compares the two on every shape it takes.
func dialErrorText(err error) string {
	e, ok := err.(*net.OpError)
	if !ok || e.Source != nil || e.Net == "" {
		return err.Error()
	}
	a, ok := e.Addr.(*net.TCPAddr)
	if !ok || a == nil || (len(a.IP) != net.IPv4len && len(a.IP) != net.IPv6len) {
		return err.Error()
	}
	se, ok := e.Err.(*os.SyscallError)
	if !ok {
		return err.Error()
	}
	errno, ok := se.Err.(syscall.Errno)
	if !ok {
		return err.Error()
	}
	// The host as TCPAddr.String writes it: the address and its zone
	// (appendHostPort adds the brackets JoinHostPort adds).
	var hostBuf [64]byte
	host, _ := a.IP.AppendText(hostBuf[:0])
	if a.Zone != "" {
		host = append(append(host, '%'), a.Zone...)
	}
	var buf [160]byte
	b := append(buf[:0], e.Op...)
	b = append(append(append(b, ' '), e.Net...), ' ')
	b = appendHostPort(b, host, a.Port)
	b = append(append(append(b, ": "...), se.Syscall...), ": "...)
	b = append(b, errno.Error()...)
	return string(b)
}
