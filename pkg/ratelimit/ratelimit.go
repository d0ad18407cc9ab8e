package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Limit is a rate: Rate events per Period with bursts up to Burst.
type Limit struct {
	Rate   int
	Burst  int
	Period time.Duration
}

// PerSecond returns a limit of n per second with the given burst.
func PerSecond(n, burst int) Limit { return Limit{Rate: n, Burst: burst, Period: time.Second} }

// Limiter checks limits in Redis (GCRA, as redis_rate implements it).
type Limiter struct {
	rl     *redis_rate.Limiter
	prefix string
}

// New returns a Limiter on rdb; keys are prefixed with "herald:rl:".
func New(rdb redis.UniversalClient) *Limiter {
	return &Limiter{rl: redis_rate.NewLimiter(rdb), prefix: "herald:rl:"}
}

// Allow takes one event for key. It returns 0 when allowed, else how long to
// wait before the event would be allowed.
func (l *Limiter) Allow(ctx context.Context, key string, lim Limit) (time.Duration, error) {
	res, err := l.rl.Allow(ctx, l.prefix+key, redis_rate.Limit{Rate: lim.Rate, Burst: lim.Burst, Period: lim.Period})
	if err != nil {
		return 0, err
	}
	if res.Allowed > 0 {
		return 0, nil
	}
	if res.RetryAfter < 0 {
		return lim.Period, nil
	}
	return res.RetryAfter, nil
}

// WebhookKey is the limiter key of a webhook URL: a hash, so the URL (a
// secret) never lands in Redis.
func WebhookKey(url string) string {
	sum := sha256.Sum256([]byte(url))
	return "webhook:" + hex.EncodeToString(sum[:12])
}

// EnvironmentKey is the limiter key of an environment's triggers.
func EnvironmentKey(envID string) string { return "trigger:" + envID }
