package subscriber

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

// lookupCache keeps single-subscriber lookups (the recipient of a
// one-subscriber trigger) in Redis, shared by every API and worker process.
//
// Consistency does not rest on deleting entries in time. Every write through
// the Store sets the subscriber's version key to a fresh random token after
// the database write; an entry is stored with the version read before the
// database read, and served only while that version is still current. A
// lookup racing a write therefore caches what it read under the old version,
// and the next lookup finds the version changed and reads the database.
// Version keys live three times as long as entries, and a lookup that took
// longer than an entry's life caches nothing, so an entry never outlives the
// version it was checked against. A write made around the Store (by hand in
// the database) shows once entries expire (ttl).
type lookupCache struct {
	rdb redis.UniversalClient
	ttl time.Duration
	log *slog.Logger
}

// UseCache makes GetMany serve single-subscriber lookups from Redis for up
// to ttl; every write through this Store (in any process using the same
// Redis) invalidates them at once. A nil client or zero ttl turns it off.
func (s *Store) UseCache(rdb redis.UniversalClient, ttl time.Duration, log *slog.Logger) {
	if rdb == nil || ttl <= 0 {
		s.cache = nil
		return
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s.cache = &lookupCache{rdb: rdb, ttl: ttl, log: log}
}

func entryKey(env primitive.ObjectID, id string) string {
	return "herald:sub:" + env.Hex() + ":" + id
}

func versionKey(env primitive.ObjectID, id string) string {
	return "herald:subv:" + env.Hex() + ":" + id
}

// get returns the cached subscriber (ok) or, on a miss, the version to
// store a fresh read under.
func (c *lookupCache) get(ctx context.Context, env primitive.ObjectID, id string) (sub *Subscriber, version string, ok bool) {
	vals, err := c.rdb.MGet(ctx, entryKey(env, id), versionKey(env, id)).Result()
	if err != nil {
		return nil, "", false
	}
	version, _ = vals[1].(string)
	entry, _ := vals[0].(string)
	tag, doc, found := strings.Cut(entry, "\n")
	if !found || tag != "v"+version {
		return nil, version, false
	}
	var out Subscriber
	if err := bson.Unmarshal([]byte(doc), &out); err != nil {
		return nil, version, false
	}
	return &out, version, true
}

// put stores a subscriber read since started under version, unless the
// read took so long that the entry could outlive the version check.
func (c *lookupCache) put(ctx context.Context, env primitive.ObjectID, sub *Subscriber, version string, started time.Time) {
	if time.Since(started) > c.ttl/2 {
		return
	}
	doc, err := bson.Marshal(sub)
	if err != nil {
		return
	}
	if err := c.rdb.Set(ctx, entryKey(env, sub.SubscriberID), "v"+version+"\n"+string(doc), c.ttl).Err(); err != nil {
		c.log.Debug("subscriber cache: could not store", "error", err.Error())
	}
}

// bump gives the subscribers a new version after a write (one round trip).
func (c *lookupCache) bump(ctx context.Context, env primitive.ObjectID, ids ...string) {
	if len(ids) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	pipe := c.rdb.Pipeline()
	for _, id := range ids {
		pipe.Set(ctx, versionKey(env, id), newVersion(), 3*c.ttl)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		// The database has the change; entries may be served until they
		// expire. Said loudly: it is the one way this cache goes stale.
		c.log.Warn("subscriber cache: could not invalidate; cached lookups may be stale until they expire",
			"subscribers", len(ids), "ttl", c.ttl.String(), "error", err.Error())
	}
}

func newVersion() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// invalidate bumps after a write that may have changed the subscribers
// (also after a failed one: it may have been applied).
func (s *Store) invalidate(ctx context.Context, env primitive.ObjectID, ids ...string) {
	if s.cache != nil {
		s.cache.bump(ctx, env, ids...)
	}
}

// getOne is the single-subscriber lookup of GetMany, through the cache.
func (s *Store) getOne(ctx context.Context, env primitive.ObjectID, id string) ([]Subscriber, error) {
	var version string
	started := time.Now()
	if s.cache != nil {
		sub, v, ok := s.cache.get(ctx, env, id)
		if ok {
			return []Subscriber{*sub}, nil
		}
		version = v
	}
	out := []Subscriber{}
	err := s.stream(ctx, env, []string{id}, 0, func(sub Subscriber) error {
		out = append(out, sub)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.cache != nil && len(out) == 1 {
		s.cache.put(ctx, env, &out[0], version, started)
	}
	return out, nil
}
