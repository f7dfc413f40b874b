package resolver

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"
)

// hosts is a hosts file, read again when it changes (checked at most
// every hostsRecheck, as the Go stub resolver does), so that an edit on
// a bastion takes effect without a restart.
type hosts struct {
	path string
	now  func() time.Time

	mu      sync.Mutex
	checked time.Time
	mtime   time.Time
	size    int64
	byName  map[string][]netip.Addr
}

const hostsRecheck = 5 * time.Second

// lookup is name's addresses in the file, in file order.
func (h *hosts) lookup(name string) []netip.Addr {
	if h == nil || h.path == "" {
		return nil
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	h.mu.Lock()
	defer h.mu.Unlock()
	if now := h.now(); now.Sub(h.checked) >= hostsRecheck || h.checked.IsZero() {
		h.checked = now
		h.reload()
	}
	return h.byName[name]
}

func (h *hosts) reload() {
	fi, err := os.Stat(h.path)
	if err != nil {
		h.byName, h.mtime, h.size = nil, time.Time{}, 0
		return
	}
	if h.byName != nil && fi.ModTime().Equal(h.mtime) && fi.Size() == h.size {
		return
	}
	data, err := os.ReadFile(h.path)
	if err != nil {
		return
	}
	h.mtime, h.size = fi.ModTime(), fi.Size()
	h.byName = parseHosts(data)
}

// parseHosts reads "address name [alias...]" lines; # starts a comment.
// Lines that don't parse are skipped, as the stub resolver skips them.
func parseHosts(data []byte) map[string][]netip.Addr {
	out := map[string][]netip.Addr{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		addr, err := netip.ParseAddr(f[0])
		if err != nil {
			continue
		}
		for _, n := range f[1:] {
			n = strings.ToLower(strings.TrimSuffix(n, "."))
			out[n] = append(out[n], addr)
		}
	}
	return out
}
