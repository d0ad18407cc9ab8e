package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
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
	rdb    redis.Scripter
	prefix string
}

// New returns a Limiter on rdb; keys are prefixed with "herald:rl:".
func New(rdb redis.UniversalClient) *Limiter {
	return &Limiter{rl: redis_rate.NewLimiter(rdb), rdb: rdb, prefix: "herald:rl:"}
}

// Allow takes one event for key. It returns 0 when allowed, else how long to
// wait before the event would be allowed.
func (l *Limiter) Allow(ctx context.Context, key string, lim Limit) (time.Duration, error) {
	if lim.IsZero() {
		return 0, nil
	}
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

// ParseRate reads a rate such as "1/s", "100/m", "5000/h" or "10/2s": events
// per period. "" , "0" and "off" mean no limit (a zero Limit).
func ParseRate(s string) (Limit, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || s == "0" || s == "off" {
		return Limit{}, nil
	}
	n, per, ok := strings.Cut(s, "/")
	rate, err := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err != nil || rate <= 0 {
		return Limit{}, fmt.Errorf("rate %q must look like 1/s, 100/m or 5000/h", s)
	}
	per = strings.TrimSpace(per)
	var period time.Duration
	switch per {
	case "s", "sec", "second":
		period = time.Second
	case "m", "min", "minute":
		period = time.Minute
	case "h", "hour":
		period = time.Hour
	default:
		period, err = time.ParseDuration(per)
		if err != nil || period <= 0 {
			return Limit{}, fmt.Errorf("rate %q: period must be s, m, h or a duration", s)
		}
	}
	return Limit{Rate: rate, Period: period, Burst: rate}, nil
}

// IsZero reports whether the limit is off.
func (l Limit) IsZero() bool { return l.Rate <= 0 || l.Period <= 0 }

// String renders the limit as ParseRate reads it, with its burst.
func (l Limit) String() string {
	if l.IsZero() {
		return "off"
	}
	return fmt.Sprintf("%d/%s (burst %d)", l.Rate, l.Period, l.Burst)
}

// reserveScript is GCRA with queueing, in milliseconds (Lua numbers print
// 14 significant digits, enough for ms timestamps). KEYS[1] holds the key's
// theoretical arrival time (TAT); KEYS[2] holds the reservation of one
// caller (the token). ARGV: interval, tolerance ((burst-1)·interval), key
// TTL. It returns 0 when the caller may go now, else the ms to wait. A
// refused caller is given the next free slot at once (its reservation), so
// that when it comes back at that time it goes without competing again: n
// waiting callers cost 2n checks, not n².
var reserveScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local resv = redis.call('GET', KEYS[2])
if resv then
  local slot = tonumber(resv)
  if slot <= now + 1 then
    redis.call('DEL', KEYS[2])
    return 0
  end
  return slot - now
end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
redis.call('SET', KEYS[1], string.format('%d', tat + interval), 'PX', ttl + tat - now)
if tat - now <= tolerance then
  return 0
end
local slot = tat - tolerance
redis.call('SET', KEYS[2], string.format('%d', slot), 'PX', ttl + slot - now)
return slot - now
`)

// Reserve takes one event for key on behalf of token (a caller that will come
// back, such as a queued task). It returns 0 when the caller may go now, else
// how long to wait; the slot at the end of that wait is reserved for token,
// so calling Reserve again with the same token after the wait returns 0.
func (l *Limiter) Reserve(ctx context.Context, key, token string, lim Limit) (time.Duration, error) {
	if lim.IsZero() {
		return 0, nil
	}
	burst := lim.Burst
	if burst < 1 {
		burst = 1
	}
	interval := lim.Period.Milliseconds() / int64(lim.Rate)
	if interval < 1 {
		interval = 1
	}
	tolerance := interval * int64(burst-1)
	ttl := (lim.Period + time.Minute).Milliseconds()
	ms, err := reserveScript.Run(ctx, l.rdb, []string{l.prefix + key, l.prefix + "resv:" + key + ":" + token},
		interval, tolerance, ttl).Int64()
	if err != nil {
		return 0, err
	}
	return time.Duration(ms) * time.Millisecond, nil
}

var holdScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local want = now + tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < want then
  redis.call('SET', KEYS[1], string.format('%d', want), 'PX', tonumber(ARGV[2]) + want - now)
end
return 0
`)

// Hold makes key refuse new events for d (after the provider answered 429
// with Retry-After d): callers that come later queue behind it.
func (l *Limiter) Hold(ctx context.Context, key string, lim Limit, d time.Duration) error {
	if lim.IsZero() || d <= 0 {
		return nil
	}
	burst := lim.Burst
	if burst < 1 {
		burst = 1
	}
	interval := lim.Period.Milliseconds() / int64(lim.Rate)
	tolerance := interval * int64(burst-1)
	return holdScript.Run(ctx, l.rdb, []string{l.prefix + key}, d.Milliseconds()+tolerance, time.Minute.Milliseconds()).Err()
}
