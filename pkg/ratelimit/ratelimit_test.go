package ratelimit

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/heraldhq/herald/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestWebhookLimitAcrossClients(t *testing.T) {
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	// Two clients stand for two worker processes sharing one limit.
	a, b := redis.NewClient(opt), redis.NewClient(opt)
	defer a.Close()
	defer b.Close()
	la, lb := New(a), New(b)
	ctx := context.Background()
	key := WebhookKey("https://hooks.slack.com/services/T/B/secret")
	lim := PerSecond(1, 3)
	allowed := 0
	var wait time.Duration
	for i := 0; i < 6; i++ {
		l := la
		if i%2 == 1 {
			l = lb
		}
		w, err := l.Allow(ctx, key, lim)
		if err != nil {
			t.Fatal(err)
		}
		if w == 0 {
			allowed++
		} else {
			wait = w
		}
	}
	if allowed != 3 {
		t.Fatalf("allowed %d of 6 immediate events, want the burst of 3", allowed)
	}
	if wait <= 0 || wait > time.Second {
		t.Fatalf("wait %v, want (0, 1s]", wait)
	}
	// Another webhook has its own budget.
	if w, _ := la.Allow(ctx, WebhookKey("https://hooks.slack.com/services/T/B/other"), lim); w != 0 {
		t.Fatalf("independent key limited: %v", w)
	}
	if strings.Contains(key, "secret") {
		t.Fatal("key contains the URL")
	}
}

// Queued callers are each refused once and handed distinct slots one
// interval apart; coming back at their slot they go without a second wait.
func TestReserveHandsOutSlots(t *testing.T) {
	opt, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	a, b := redis.NewClient(opt), redis.NewClient(opt)
	defer a.Close()
	defer b.Close()
	la, lb := New(a), New(b)
	ctx := context.Background()
	key := WebhookKey("https://hooks.slack.com/services/T/B/reserve-" + t.Name() + time.Now().String())
	lim := Limit{Rate: 10, Period: time.Second, Burst: 2} // one slot per 100ms
	var waits []time.Duration
	for i := 0; i < 6; i++ {
		l := la
		if i%2 == 1 {
			l = lb
		}
		d, err := l.Reserve(ctx, key, fmt.Sprint("task", i), lim)
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, d)
	}
	if waits[0] != 0 || waits[1] != 0 {
		t.Fatalf("burst of 2 not allowed: %v", waits)
	}
	for i := 2; i < 6; i++ {
		if waits[i] <= waits[i-1] || waits[i]-waits[i-1] < 80*time.Millisecond || waits[i]-waits[i-1] > 120*time.Millisecond {
			t.Fatalf("slots not one interval apart: %v", waits)
		}
	}
	// Before its slot the caller is told the remaining wait, not a new slot.
	if d, _ := la.Reserve(ctx, key, "task5", lim); d <= 0 || d > waits[5] {
		t.Fatalf("task5 early: %v (slot %v)", d, waits[5])
	}
	time.Sleep(waits[2] + 5*time.Millisecond)
	if d, err := lb.Reserve(ctx, key, "task2", lim); err != nil || d != 0 {
		t.Fatalf("task2 at its slot: %v %v", d, err)
	}
	// A newcomer queues behind the reservations.
	if d, _ := la.Reserve(ctx, key, "late", lim); d <= waits[5]-waits[2] {
		t.Fatalf("newcomer jumped the queue: %v", d)
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]Limit{
		"1/s": {Rate: 1, Period: time.Second, Burst: 1}, "100/m": {Rate: 100, Period: time.Minute, Burst: 100},
		"10/2s": {Rate: 10, Period: 2 * time.Second, Burst: 10}, "off": {}, "": {},
	} {
		got, err := ParseRate(in)
		if err != nil || got != want {
			t.Errorf("ParseRate(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"1", "x/s", "-1/s", "1/fortnight"} {
		if _, err := ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q) accepted", bad)
		}
	}
}

func BenchmarkReserve(b *testing.B) {
	opt, err := redis.ParseURL(testenv.RedisURL(b))
	if err != nil {
		b.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	l := New(c)
	ctx := context.Background()
	lim := Limit{Rate: 1000000, Period: time.Second, Burst: 1000000}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Reserve(ctx, WebhookKey(fmt.Sprint("bench", i%100)), fmt.Sprint(i), lim); err != nil {
			b.Fatal(err)
		}
	}
}
