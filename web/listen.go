// Package web owns the exporter's HTTP side: the listeners, the mux and
// its endpoints — /metrics (scrapes.go), /-/healthy, /-/ready, /-/reload
// and the landing page (server.go), /probe (probe.go), the status page
// and its API (targets.go), the demo target (demo.go), pprof (pprof.go).
package web

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/mdlayher/vsock"
)

// Listen opens every listen address up front, so that the embedded
// default can probe what was really bound (":0" included). An address is
// host:port (TCP) or vsock://[cid]:port, as exporter-toolkit's flag help
// says; vsock listens on the port for any context ID, as the toolkit's
// own listener does.
func Listen(addrs []string) ([]net.Listener, error) {
	var ls []net.Listener
	fail := func(err error) ([]net.Listener, error) {
		for _, l := range ls {
			l.Close()
		}
		return nil, err
	}
	for _, a := range addrs {
		var l net.Listener
		var err error
		if strings.HasPrefix(a, "vsock://") {
			var port uint32
			if port, err = vsockPort(a); err == nil {
				l, err = vsock.Listen(port, nil)
			}
			if err != nil {
				err = fmt.Errorf("--web.listen-address=%s: %w", a, err)
			}
		} else {
			l, err = net.Listen("tcp", a)
		}
		if err != nil {
			return fail(err)
		}
		ls = append(ls, l)
	}
	if len(ls) == 0 {
		return nil, errors.New("no --web.listen-address")
	}
	return ls, nil
}

func vsockPort(address string) (uint32, error) {
	u, err := url.Parse(address)
	if err != nil {
		return 0, err
	}
	_, p, err := net.SplitHostPort(u.Host)
	if err != nil {
		return 0, fmt.Errorf("want vsock://[cid]:port: %w", err)
	}
	port, err := strconv.ParseUint(p, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("port %q: want a number", p)
	}
	return uint32(port), nil
}

// SelfAddress is where the exporter can reach itself over TCP: the first
// TCP listener's address, with an unspecified IP (":9878", "[::]:9878")
// replaced by 127.0.0.1. ok is false when no
// listener is TCP (vsock only).
func SelfAddress(ls []net.Listener) (host string, port int, ok bool) {
	for _, l := range ls {
		a, isTCP := l.Addr().(*net.TCPAddr)
		if !isTCP {
			continue
		}
		// Go listens on an unspecified address (":9878", "0.0.0.0:...",
		// "[::]:...") with one dual-stack socket: 127.0.0.1 reaches it
		// even where IPv6 is off.
		host = "127.0.0.1"
		if ip := a.IP; ip != nil && !ip.IsUnspecified() {
			host = ip.String()
		}
		return host, a.Port, true
	}
	return "", 0, false
}
