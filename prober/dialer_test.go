package prober

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"
)

// TestKeepAliveOnlyWhereItCouldMatter: a dial for an attempt that ends
// before the first keep-alive probe could be sent (15 s idle, net.Dialer's
// default, which the kubelet's dialer keeps) leaves keep-alive off; a
// longer attempt, or a dial with no deadline, gets exactly what a plain
// net.Dialer sets.
func TestKeepAliveOnlyWhereItCouldMatter(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	opts := func(t *testing.T, c net.Conn) [2]int {
		t.Helper()
		defer c.Close()
		raw, err := c.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var on, idle int
		var serr error
		if err := raw.Control(func(fd uintptr) {
			on, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
			if serr == nil {
				idle, serr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE)
			}
		}); err != nil || serr != nil {
			t.Fatal(err, serr)
		}
		return [2]int{on, idle}
	}
	std, err := (&net.Dialer{}).Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	standard := opts(t, std)
	if standard[0] != 1 || standard[1] != 15 {
		t.Fatalf("net.Dialer's default keep-alive is %v, want on after 15 s: this test's premise moved", standard)
	}
	for _, c := range []struct {
		timeout time.Duration // 0: no deadline
		want    [2]int
	}{
		{time.Second, [2]int{0, 0}},
		{keepAliveIdle, [2]int{0, 0}},
		{30 * time.Second, standard},
		{0, standard},
	} {
		ctx := context.Background()
		if c.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, c.timeout)
			defer cancel()
		}
		conn, err := NewDialer().DialContext(ctx, "tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		got := opts(t, conn)
		if got[0] != c.want[0] || (c.want[0] == 1 && got[1] != c.want[1]) {
			t.Errorf("timeout %v: keep-alive %v, want %v", c.timeout, got, c.want)
		}
	}
}
