package ttlcache

import (
	"testing"
	"time"
)

func TestExpiryAndEviction(t *testing.T) {
	c := New[string, int](time.Minute, 2)
	now := time.Unix(1000, 0)
	c.now = func() time.Time { return now }
	c.Set("a", 1)
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Fatalf("Get(a) = %v, %v", v, ok)
	}
	now = now.Add(2 * time.Minute)
	if _, ok := c.Get("a"); ok {
		t.Fatal("expired entry returned")
	}
	c.Set("b", 2)
	c.Set("c", 3)
	c.Set("d", 4)
	if len(c.items) > 2 {
		t.Fatalf("cache grew past max: %d", len(c.items))
	}
	if v, ok := c.Get("d"); !ok || v != 4 {
		t.Fatal("newest entry missing")
	}
	c.DeleteFunc(func(k string, v int) bool { return v == 4 })
	if _, ok := c.Get("d"); ok {
		t.Fatal("DeleteFunc kept entry")
	}
}
