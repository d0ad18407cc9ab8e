package subscriber_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/heraldhq/herald/pkg/subscriber"
	"github.com/heraldhq/herald/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Stream hands the environment's subscribers (or the named ones) in batches
// of at most the batch size, each exactly once, and stops at fn's error;
// GetMany returns the named ones. Both id-list strategies: FerretDB's
// (environment read, ids tested here) and MongoDB's ($in).
func TestStreamBatches(t *testing.T) {
	cipher := testenv.Cipher(t)
	st := testenv.Mongo(t)
	if !st.FerretDB {
		t.Fatal("the test database is FerretDB, but buildInfo did not say so")
	}
	for _, mode := range []struct {
		name string
		s    *subscriber.Store
	}{{"FerretDB id set", subscriber.NewStore(st, cipher)}, {"$in", subscriber.WithIn(subscriber.NewStore(st, cipher))}} {
		t.Run(mode.name, func(t *testing.T) { testStream(t, mode.s) })
	}
}

func testStream(t *testing.T, s *subscriber.Store) {
	ctx := context.Background()
	env, org := primitive.NewObjectID(), primitive.NewObjectID()
	var items []subscriber.BulkItem
	for i := 0; i < 120; i++ {
		items = append(items, subscriber.BulkItem{SubscriberID: fmt.Sprintf("st-%03d", i)})
	}
	if _, failed, err := s.BulkUpsert(ctx, env, org, items); err != nil || len(failed) > 0 {
		t.Fatalf("%v %v", err, failed)
	}
	if _, _, err := s.BulkUpsert(ctx, primitive.NewObjectID(), org, items[:5]); err != nil {
		t.Fatal(err)
	}
	collect := func(ids []string) (map[string]int, []int) {
		seen := map[string]int{}
		var sizes []int
		err := s.Stream(ctx, env, ids, 50, func(subs []subscriber.Subscriber) error {
			sizes = append(sizes, len(subs))
			for _, sub := range subs {
				seen[sub.SubscriberID]++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return seen, sizes
	}
	all, sizes := collect(nil)
	if len(all) != 120 || fmt.Sprint(sizes) != "[50 50 20]" {
		t.Fatalf("whole environment: %d subscribers in batches %v", len(all), sizes)
	}
	for id, n := range all {
		if n != 1 {
			t.Fatalf("%s streamed %d times", id, n)
		}
	}
	some, _ := collect([]string{"st-001", "st-077", "nobody"})
	if len(some) != 2 || some["st-001"] != 1 || some["st-077"] != 1 {
		t.Fatalf("named: %v", some)
	}
	many, err := s.GetMany(ctx, env, []string{"st-001", "st-002", "nobody"})
	if err != nil || len(many) != 2 || many[0].EnvironmentID != env || many[1].EnvironmentID != env {
		t.Fatalf("GetMany of two known ids (also in another environment): %d %v", len(many), err)
	}
	if none, sizes := collect([]string{}); len(none) != 0 || len(sizes) != 0 {
		t.Fatalf("empty id list streamed %v", none)
	}
	stop := errors.New("stop")
	calls := 0
	if err := s.Stream(ctx, env, nil, 10, func([]subscriber.Subscriber) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("fn error not returned at once: %v after %d calls", err, calls)
	}
}
