package ttlcache

import (
	"sync"
	"time"
)

// Cache maps keys to values for at most TTL.
type Cache[K comparable, V any] struct {
	ttl   time.Duration
	max   int
	mu    sync.RWMutex
	items map[K]entry[V]
	now   func() time.Time
}

type entry[V any] struct {
	v       V
	expires time.Time
}

// New returns a cache holding at most max entries for ttl each.
func New[K comparable, V any](ttl time.Duration, max int) *Cache[K, V] {
	return &Cache[K, V]{ttl: ttl, max: max, items: make(map[K]entry[V]), now: time.Now}
}

// Get returns the value for k if present and not expired.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.RLock()
	e, ok := c.items[k]
	c.mu.RUnlock()
	if !ok || c.now().After(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Set stores v for k. When the cache is full, expired entries are dropped
// first, then arbitrary ones.
func (c *Cache[K, V]) Set(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.items) >= c.max {
		now := c.now()
		for key, e := range c.items {
			if now.After(e.expires) {
				delete(c.items, key)
			}
		}
		for key := range c.items {
			if len(c.items) < c.max {
				break
			}
			delete(c.items, key)
		}
	}
	c.items[k] = entry[V]{v: v, expires: c.now().Add(c.ttl)}
}

// Delete removes k.
func (c *Cache[K, V]) Delete(k K) {
	c.mu.Lock()
	delete(c.items, k)
	c.mu.Unlock()
}

// DeleteFunc removes every entry for which drop returns true.
func (c *Cache[K, V]) DeleteFunc(drop func(K, V) bool) {
	c.mu.Lock()
	for k, e := range c.items {
		if drop(k, e.v) {
			delete(c.items, k)
		}
	}
	c.mu.Unlock()
}
