package subscriber_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/subscriber"
	"github.com/heraldhq/herald/pkg/testenv"
)

// A single-subscriber lookup is served from Redis; every write through any
// Store sharing that Redis (another process's too) shows at once; a write
// around the stores shows when the entry expires; a lookup racing a write
// never leaves the old document served.
func TestLookupCache(t *testing.T) {
	ctx := context.Background()
	cipher := testenv.Cipher(t)
	st := testenv.Mongo(t)
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	const ttl = 2 * time.Second
	api := subscriber.NewStore(st, cipher)    // the API process
	worker := subscriber.NewStore(st, cipher) // the worker process: same database and Redis
	api.UseCache(rdb, ttl, nil)
	worker.UseCache(rdb, ttl, nil)
	env, org := primitive.NewObjectID(), primitive.NewObjectID()
	raw := st.C(store.Subscribers)

	first := func(s *subscriber.Store) *subscriber.Subscriber {
		t.Helper()
		subs, err := s.GetMany(ctx, env, []string{"ada"})
		if err != nil {
			t.Fatal(err)
		}
		if len(subs) == 0 {
			return nil
		}
		return &subs[0]
	}
	name := func(s *subscriber.Store) string {
		t.Helper()
		if sub := first(s); sub != nil {
			return sub.FirstName
		}
		return ""
	}
	str := func(v string) *string { return &v }
	if first(worker) != nil {
		t.Fatal("unknown subscriber found")
	}
	if _, _, err := api.Upsert(ctx, env, org, "ada", subscriber.Profile{FirstName: str("Ada")}); err != nil {
		t.Fatal(err)
	}
	if got := name(worker); got != "Ada" {
		t.Fatalf("a subscriber created after a miss: %q", got)
	}
	// Served from Redis: a change made around the stores is not seen...
	if _, err := raw.UpdateOne(ctx, bson.M{"_environmentId": env, "subscriberId": "ada"}, bson.M{"$set": bson.M{"firstName": "Behind"}}); err != nil {
		t.Fatal(err)
	}
	if got := name(worker); got != "Ada" {
		t.Fatalf("not served from the cache: %q", got)
	}
	// ...but every write through a store is, in the other process too.
	if _, err := api.Update(ctx, env, "ada", subscriber.Profile{FirstName: str("Lovelace")}); err != nil {
		t.Fatal(err)
	}
	if got := name(worker); got != "Lovelace" {
		t.Fatalf("after Update: %q", got)
	}
	if _, err := api.SetCredentials(ctx, env, "ada", subscriber.Channel{
		IntegrationID: primitive.NewObjectID(), ProviderID: "slack", IntegrationIdentifier: "slack-1",
		Credentials: subscriber.Credentials{WebhookURL: "https://hooks.slack.com/services/T/B/x"},
	}, true); err != nil {
		t.Fatal(err)
	}
	if sub := first(worker); sub == nil || len(sub.Channels) != 1 {
		t.Fatalf("after SetCredentials: %+v", sub)
	}
	if err := worker.MarkChannel(ctx, env, "ada", first(api).Channels[0].IntegrationID, subscriber.StatusNeedsReconnect, "404 no_service"); err != nil {
		t.Fatal(err)
	}
	if sub := first(api); sub.Channels[0].Status != subscriber.StatusNeedsReconnect {
		t.Fatalf("after MarkChannel: %+v", sub.Channels[0])
	}
	if _, _, err := api.BulkUpsert(ctx, env, org, []subscriber.BulkItem{{SubscriberID: "ada", Profile: subscriber.Profile{FirstName: str("Bulk")}}}); err != nil {
		t.Fatal(err)
	}
	if got := name(worker); got != "Bulk" {
		t.Fatalf("after BulkUpsert: %q", got)
	}

	// A lookup racing a write: it read the document before the write but
	// stores it after the write's invalidation. The next lookup must not
	// serve that old document.
	stale := subscriber.RacedLookup(worker, ctx, env, "ada", func() {
		if _, err := api.Update(ctx, env, "ada", subscriber.Profile{FirstName: str("New")}); err != nil {
			t.Fatal(err)
		}
	})
	if stale != "Bulk" {
		t.Fatalf("the race was not staged: the lookup read %q", stale)
	}
	if got := name(worker); got != "New" {
		t.Fatalf("after a racing write the cache serves %q", got)
	}

	if err := api.Delete(ctx, env, "ada"); err != nil {
		t.Fatal(err)
	}
	if first(worker) != nil {
		t.Fatal("a deleted subscriber is still served")
	}

	// A write around the stores shows once the entry has expired.
	if _, _, err := api.Upsert(ctx, env, org, "ada", subscriber.Profile{FirstName: str("Again")}); err != nil {
		t.Fatal(err)
	}
	_ = name(worker)
	if _, err := raw.UpdateOne(ctx, bson.M{"_environmentId": env, "subscriberId": "ada"}, bson.M{"$set": bson.M{"firstName": "Later"}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(ttl + 100*time.Millisecond)
	if got := name(worker); got != "Later" {
		t.Fatalf("after the TTL: %q", got)
	}

	// Without Redis, lookups go to the database.
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = down.Close() })
	offline := subscriber.NewStore(st, cipher)
	offline.UseCache(down, ttl, nil)
	if got := name(offline); got != "Later" {
		t.Fatalf("with Redis down: %q", got)
	}
}
