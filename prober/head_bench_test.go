package prober

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/probe-exporter/probe-exporter/internal/memtest"
)

// BenchmarkHostileHead: the peak heap of one attempt against a response
// head just under the 10 MiB cap, through net/http.Transport (the
// kubelet's transport: the baseline) and through ours, in the same run.
// "x-net/http" is ours over the baseline. The worst shape for net/http is
// a million tiny fields (a header map entry each); for ours it was 1xx
// heads by the hundred thousand ("early-hints": each one crossing the read
// buffer wrapped the reader in a new one, 350–690 MB).
func BenchmarkHostileHead(b *testing.B) {
	const size = 10<<20 - 1<<10
	final := "HTTP/1.1 200 OK\r\n"
	shapes := map[string]func() string{
		"one-line": func() string { return final + "X-Big: " + strings.Repeat("a", size) + "\r\n" },
		"tiny-fields": func() string {
			var sb strings.Builder
			sb.WriteString(final)
			for i := 0; sb.Len() < size; i++ {
				fmt.Fprintf(&sb, "%x:\r\n", i)
			}
			return sb.String()
		},
		"early-hints": func() string {
			hint := "HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload\r\n\r\n"
			return strings.Repeat(hint, (size-len(final))/len(hint)) + final
		},
	}
	for _, name := range []string{"one-line", "tiny-fields", "early-hints"} {
		reply := shapes[name]() + "Content-Length: 2\r\n\r\nok"
		b.Run(name, func(b *testing.B) {
			url := replyServer(b, reply)
			std := &http.Transport{Proxy: nil, DisableKeepAlives: true, DisableCompression: true}
			ours := &oneShotTransport{dialer: &net.Dialer{}, tls: std}
			var base uint64
			for _, rt := range []struct {
				name string
				rt   http.RoundTripper
			}{{"net-http", std}, {"ours", ours}} {
				b.Run(rt.name, func(b *testing.B) {
					b.ReportAllocs()
					peak := memtest.PeakHeap(func() {
						for i := 0; i < b.N; i++ {
							ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
							req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
							res, err := (&http.Client{Transport: rt.rt}).Do(req)
							if err != nil {
								b.Fatal(err)
							}
							_, _ = io.Copy(io.Discard, res.Body)
							res.Body.Close()
							cancel()
						}
					})
					b.ReportMetric(float64(peak)/(1<<20), "peak-MB")
					if rt.name == "net-http" {
						base = peak
					} else if base > 0 {
						b.ReportMetric(float64(peak)/float64(base), "x-net/http")
					}
				})
			}
		})
	}
}

// replyServer answers every request with reply, after reading it.
func replyServer(b *testing.B, text string) string {
	reply := []byte(text) // once: a conversion per write would count
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				var got []byte
				for !strings.Contains(string(got), "\r\n\r\n") {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					got = append(got, buf[:n]...)
				}
				_, _ = c.Write(reply)
			}()
		}
	}()
	return "http://" + l.Addr().String() + "/"
}
