package integration_test

import (
	"context"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/heraldhq/herald/pkg/integration"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// ActiveCached serves the worker from memory; the store's own writes
// (create, update, delete) show at once, a change made behind its back
// (another process) once the TTL has passed.
func TestActiveCached(t *testing.T) {
	ctx := context.Background()
	cipher := testenv.Cipher(t)
	st := testenv.Mongo(t)
	const ttl = 2 * time.Second
	s := integration.NewStore(st, cipher, ttl)
	env := primitive.NewObjectID()
	names := func() []string {
		t.Helper()
		list, err := s.ActiveCached(ctx, env)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, in := range list {
			out = append(out, in.Identifier)
		}
		return out
	}
	a := &integration.Integration{EnvironmentID: env, ProviderID: "slack", Channel: integration.ChannelChat, Identifier: "a", Active: true}
	if err := s.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got := names(); len(got) != 1 || got[0] != "a" {
		t.Fatalf("after create: %v", got)
	}
	off := false
	if _, err := s.Update(ctx, env, a.ID, integration.Update{Active: &off}); err != nil {
		t.Fatal(err)
	}
	if got := names(); len(got) != 0 {
		t.Fatalf("deactivated through the store, still served: %v", got)
	}
	b := &integration.Integration{EnvironmentID: env, ProviderID: "slack", Channel: integration.ChannelChat, Identifier: "b", Active: true}
	if err := s.Create(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got := names(); len(got) != 1 || got[0] != "b" {
		t.Fatalf("after a second create: %v", got)
	}
	// Another process deactivates b: served from the cache until the TTL.
	if _, err := st.C(store.Integrations).UpdateOne(ctx, bson.M{"_id": b.ID}, bson.M{"$set": bson.M{"active": false}}); err != nil {
		t.Fatal(err)
	}
	if got := names(); len(got) != 1 {
		t.Fatalf("a change behind the store's back was seen before the TTL: %v", got)
	}
	time.Sleep(ttl + 100*time.Millisecond)
	if got := names(); len(got) != 0 {
		t.Fatalf("after the TTL: %v", got)
	}
	if err := s.Delete(ctx, env, b.ID); err != nil {
		t.Fatal(err)
	}
}
