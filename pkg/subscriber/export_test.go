package subscriber

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"
)

// WithIn returns a copy of s that sends id lists as $in, as on MongoDB.
func WithIn(s *Store) *Store {
	c := *s
	c.scanForIDs = false
	return &c
}

// RacedLookup runs a cached lookup of id whose database read happens before
// write runs and whose cache store happens after it, and returns the first
// name it read.
func RacedLookup(s *Store, ctx context.Context, env primitive.ObjectID, id string, write func()) string {
	_, version, _ := s.cache.get(ctx, env, id)
	started := time.Now()
	var read Subscriber
	_ = s.stream(ctx, env, []string{id}, 0, func(sub Subscriber) error { read = sub; return nil })
	write()
	s.cache.put(ctx, env, &read, version, started)
	return read.FirstName
}
