package ldapcheck

import (
	"container/list"
	"sync"
	"time"
)

// cache remembers answers: a found address for ttl, one not found for
// negTTL, at most size entries (the least recently used goes first).
type cache struct {
	mu          sync.Mutex
	size        int
	ttl, negTTL time.Duration
	now         func() time.Time
	order       *list.List // front: most recently used
	entries     map[string]*list.Element
}

type cacheEntry struct {
	key     string
	found   bool
	expires time.Time
}

func newCache(size int, ttl, negTTL time.Duration, now func() time.Time) *cache {
	return &cache{size: size, ttl: ttl, negTTL: negTTL, now: now, order: list.New(), entries: map[string]*list.Element{}}
}

func (c *cache) get(key string) (found, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.entries[key]
	if el == nil {
		return false, false
	}
	e := el.Value.(*cacheEntry)
	if !c.now().Before(e.expires) {
		c.order.Remove(el)
		delete(c.entries, key)
		return false, false
	}
	c.order.MoveToFront(el)
	return e.found, true
}

func (c *cache) put(key string, found bool) {
	ttl := c.ttl
	if !found {
		ttl = c.negTTL
	}
	if ttl <= 0 || c.size <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el := c.entries[key]; el != nil {
		c.order.Remove(el)
	}
	c.entries[key] = c.order.PushFront(&cacheEntry{key: key, found: found, expires: c.now().Add(ttl)})
	for c.order.Len() > c.size {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.entries, old.Value.(*cacheEntry).key)
	}
}

func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
