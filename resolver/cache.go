package resolver

import (
	"container/list"
	"net"
	"net/netip"
	"sync"
	"time"
)

// cache holds answers for as long as their TTL says, negative ones
// (NXDOMAIN, no records of the type) for the SOA's negative TTL (RFC
// 2308), and at most size of them: the least recently used goes first.
// Failures (SERVFAIL, timeouts) are never cached: the next lookup asks
// again.
type cache struct {
	size int
	m    *metrics

	mu    sync.Mutex
	items map[cacheKey]*list.Element
	lru   *list.List // front: most recently used
}

type cacheKey struct {
	resolver string // Config.key: servers and search list change answers
	name     string // fully qualified
	qtype    uint16
}

type cacheItem struct {
	key     cacheKey
	addrs   []netip.Addr
	err     *net.DNSError // a negative answer
	expires time.Time
}

// maxTTL bounds how long anything is kept, whatever a record says.
const maxTTL = time.Hour

func newCache(size int, m *metrics) *cache {
	return &cache{size: size, m: m, items: map[cacheKey]*list.Element{}, lru: list.New()}
}

// get returns a live entry for k.
func (c *cache) get(k cacheKey, now time.Time) (*cacheItem, bool) {
	if c.size <= 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		c.m.cacheMisses.Inc()
		return nil, false
	}
	it := el.Value.(*cacheItem)
	if !now.Before(it.expires) {
		c.lru.Remove(el)
		delete(c.items, k)
		c.m.cacheMisses.Inc()
		return nil, false
	}
	c.lru.MoveToFront(el)
	if it.err != nil {
		c.m.cacheHits.WithLabelValues("negative").Inc()
	} else {
		c.m.cacheHits.WithLabelValues("positive").Inc()
	}
	return it, true
}

// put keeps an answer for ttl (capped at maxTTL); a zero TTL keeps
// nothing, as a resolver must not cache it.
func (c *cache) put(k cacheKey, addrs []netip.Addr, err *net.DNSError, ttl time.Duration, now time.Time) {
	if c.size <= 0 || ttl <= 0 {
		return
	}
	ttl = min(ttl, maxTTL)
	c.mu.Lock()
	defer c.mu.Unlock()
	it := &cacheItem{key: k, addrs: addrs, err: err, expires: now.Add(ttl)}
	if el, ok := c.items[k]; ok {
		el.Value = it
		c.lru.MoveToFront(el)
		return
	}
	c.items[k] = c.lru.PushFront(it)
	for c.lru.Len() > c.size {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.items, old.Value.(*cacheItem).key)
		c.m.cacheEvictions.Inc()
	}
}

// len is how many entries are held (expired ones included until they are
// asked for or pushed out).
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
