package ratelimit

import (
	"context"
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
