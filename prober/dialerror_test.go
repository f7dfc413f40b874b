package prober

import (
	"context"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestDialErrorText: dialErrorText says what err.Error() says, for every
// shape of dial error, made up and real, in one allocation where it
// writes the text itself.
func TestDialErrorText(t *testing.T) {
	refused := func(ip string, zone string, port int, errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.ParseIP(ip), Port: port, Zone: zone},
			Err: os.NewSyscallError("connect", errno)}
	}
	v4 := net.IPv4(10, 1, 2, 3).To4()
	cases := []error{
		refused("10.0.0.1", "", 80, syscall.ECONNREFUSED),
		refused("10.0.0.1", "", 0, syscall.ECONNREFUSED),
		refused("255.255.255.255", "", 65535, syscall.ETIMEDOUT),
		refused("::1", "", 8080, syscall.ECONNREFUSED),
		refused("fe80::1", "eth0", 80, syscall.ENETUNREACH),
		refused("2001:db8::ffff:ffff:ffff:ffff", "", 443, syscall.EHOSTUNREACH),
		refused("::ffff:10.0.0.1", "", 80, syscall.ECONNREFUSED), // 16-byte IPv4: dotted
		refused("10.0.0.1", "a:b", 80, syscall.ECONNREFUSED),     // a zone with a colon: bracketed
		refused("10.0.0.1", "", 80, syscall.Errno(9999)),         // no text of its own
		&net.OpError{Op: "dial", Net: "tcp4", Addr: &net.TCPAddr{IP: v4, Port: 1}, Err: os.NewSyscallError("socket", syscall.EMFILE)},
		&net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{Port: 1}, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)},
		&net.OpError{Op: "dial", Net: "tcp", Source: &net.TCPAddr{IP: v4, Port: 2}, Addr: &net.TCPAddr{IP: v4, Port: 1}, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)},
		&net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: v4, Port: 1}, Err: context.DeadlineExceeded},
		&net.OpError{Op: "dial", Net: "tcp", Addr: &net.UnixAddr{Name: "/x", Net: "unix"}, Err: os.NewSyscallError("connect", syscall.ENOENT)},
		&net.OpError{Op: "dial", Addr: &net.TCPAddr{IP: v4, Port: 1}, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)},
		&net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: v4, Port: 1}, Err: os.NewSyscallError("connect", os.ErrDeadlineExceeded)},
		&net.DNSError{Err: "no such host", Name: "x.test"},
	}
	// Real ones: nothing listens on port 1 of loopback.
	for _, addr := range []string{"127.0.0.1:1", "[::1]:1"} {
		d := net.Dialer{Timeout: time.Second}
		if _, err := d.Dial("tcp", addr); err != nil {
			cases = append(cases, err)
		}
	}
	if len(cases) < 18 {
		t.Error("no refused dial to loopback to compare with")
	}
	for _, err := range cases {
		if got, want := dialErrorText(err), err.Error(); got != want {
			t.Errorf("%#v:\n got %q\nwant %q", err, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = dialErrorText(cases[3]) }); n != 1 {
		t.Errorf("%v allocations, want 1", n)
	}
}
