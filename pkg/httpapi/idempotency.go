package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

// IdempotencyWindow is how long a transactionId stays used in an
// environment: a trigger repeating it within the window is answered with the
// original result and delivers nothing.
const IdempotencyWindow = 24 * time.Hour

// ReplayHeader is set (to "true") on a trigger answer that repeats the
// original result of an earlier trigger with the same transactionId.
const ReplayHeader = "Idempotent-Replay"

// Timing of the wait for a concurrent trigger with the same transactionId.
const (
	claimPoll = 25 * time.Millisecond
	// claimStale is how old a pending claim must be before another request
	// takes it over: its owner crashed or lost Redis between the claim and
	// the enqueue. The trigger task id still stops a double enqueue.
	claimStale = 30 * time.Second
)

const (
	claimPending = "pending"
	claimDone    = "done"
)

// claimRecord is the value of a transactionId's Redis key.
type claimRecord struct {
	State  string         `json:"state"`
	Token  string         `json:"token,omitempty"`
	At     time.Time      `json:"at"`
	Result *triggerResult `json:"result,omitempty"`
}

// compare-and-set keeping the TTL, and compare-and-delete: a request only
// changes the claim it holds.
var (
	casSet = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL') end return false`)
	casDel = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)
)

func idempotencyKey(env primitive.ObjectID, txID string) string {
	return "herald:txid:" + env.Hex() + ":" + txID
}

// claim is a held transactionId.
type claim struct {
	rdb   redis.Cmdable
	key   string
	value string // the pending record as stored
}

// claimTransaction reserves (environment, transactionId) before a trigger is
// enqueued, with SET NX and a 24-hour TTL. When the id was already used it
// returns the original result instead (replay non-nil). While another request
// holds the id it waits for that one to finish or give up. A nil Redis
// disables the check (claim and replay both nil).
func (s *Server) claimTransaction(ctx context.Context, env primitive.ObjectID, txID string) (*claim, *triggerResult, error) {
	if s.Redis == nil {
		return nil, nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, enqueueTimeout)
	defer cancel()
	key := idempotencyKey(env, txID)
	rec, _ := json.Marshal(claimRecord{State: claimPending, Token: uuid.NewString(), At: time.Now().UTC()})
	mine := string(rec)
	busy := errConflict(fmt.Sprintf("a trigger with transactionId %s is being processed; retry to get its result", txID))
	waited := false
	// fail maps a Redis error: the wait for another request ran out, or Redis is unreachable.
	fail := func(err error) (*claim, *triggerResult, error) {
		if waited && ctx.Err() != nil {
			return nil, nil, busy
		}
		return nil, nil, errUnavailable("Queue unavailable, try again later", err)
	}
	for {
		ok, err := s.Redis.SetNX(ctx, key, mine, IdempotencyWindow).Result()
		if err != nil {
			return fail(err)
		}
		if ok {
			return &claim{rdb: s.Redis, key: key, value: mine}, nil, nil
		}
		old, err := s.Redis.Get(ctx, key).Result()
		if errors.Is(err, redis.Nil) {
			continue // released meanwhile: try again
		}
		if err != nil {
			return fail(err)
		}
		var r claimRecord
		if jerr := json.Unmarshal([]byte(old), &r); jerr != nil {
			return nil, nil, errInternal(fmt.Errorf("idempotency record of %s: %w", key, jerr))
		}
		if r.State == claimDone && r.Result != nil {
			return nil, r.Result, nil
		}
		if time.Since(r.At) > claimStale {
			took, err := casSet.Run(ctx, s.Redis, []string{key}, old, mine).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return fail(err)
			}
			if took != nil {
				return &claim{rdb: s.Redis, key: key, value: mine}, nil, nil
			}
			continue
		}
		waited = true
		select {
		case <-ctx.Done():
			return nil, nil, busy
		case <-time.After(claimPoll):
		}
	}
}

// finish stores the result the id answers with from now on.
func (c *claim) finish(ctx context.Context, res triggerResult) error {
	if c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), enqueueTimeout)
	defer cancel()
	rec, _ := json.Marshal(claimRecord{State: claimDone, At: time.Now().UTC(), Result: &res})
	_, err := casSet.Run(ctx, c.rdb, []string{c.key}, c.value, string(rec)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	return nil
}

// release frees the id when nothing was enqueued, so the client can retry.
func (c *claim) release(ctx context.Context) error {
	if c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), enqueueTimeout)
	defer cancel()
	return casDel.Run(ctx, c.rdb, []string{c.key}, c.value).Err()
}
