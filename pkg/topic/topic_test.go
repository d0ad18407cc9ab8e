package topic_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/testenv"
	"github.com/heraldhq/herald/pkg/topic"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestMembersKeysetPagination(t *testing.T) {
	ctx := context.Background()
	s := topic.NewStore(testenv.Mongo(t))
	env, org := primitive.NewObjectID(), primitive.NewObjectID()
	tp, created, err := s.Ensure(ctx, env, org, "big")
	if err != nil || !created || tp.Name != "big" {
		t.Fatalf("ensure: %v %v %+v", err, created, tp)
	}
	const n = 2500
	want := make([]string, 0, n)
	batch := []topic.NewMember{}
	for i := 0; i < n; i++ {
		// Not zero-padded: the order is the string order, not insertion order.
		id := fmt.Sprintf("user-%d", (i*7919)%n)
		want = append(want, id)
		batch = append(batch, topic.NewMember{SubscriberID: id, SubscriberOID: primitive.NewObjectID()})
		if len(batch) == 500 {
			if err := s.AddMembers(ctx, tp, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	sort.Strings(want)
	// Adding members again is a no-op.
	if err := s.AddMembers(ctx, tp, []topic.NewMember{{SubscriberID: want[0]}, {SubscriberID: want[n-1]}}); err != nil {
		t.Fatal(err)
	}
	// Another topic's and another environment's members never leak in.
	other, _, _ := s.Ensure(ctx, env, org, "other")
	otherEnv, _, _ := s.Ensure(ctx, primitive.NewObjectID(), org, "big")
	for _, o := range []*topic.Topic{other, otherEnv} {
		if err := s.AddMembers(ctx, o, []topic.NewMember{{SubscriberID: "user-5"}, {SubscriberID: "zzz"}}); err != nil {
			t.Fatal(err)
		}
	}

	if c, err := s.CountMembers(ctx, env, "big"); err != nil || c != n {
		t.Fatalf("count = %d, %v; want %d", c, err, n)
	}
	for _, limit := range []int{1000, 333} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			var got []string
			after, batches := "", 0
			for {
				ids, err := s.Members(ctx, env, "big", after, limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(ids) > limit {
					t.Fatalf("batch of %d, limit %d", len(ids), limit)
				}
				got = append(got, ids...)
				batches++
				if len(ids) < limit {
					break
				}
				after = ids[len(ids)-1]
			}
			if len(got) != n {
				t.Fatalf("got %d members, want %d", len(got), n)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("member %d = %q, want %q", i, got[i], want[i])
				}
			}
			if wantBatches := n/limit + 1; batches != wantBatches {
				t.Fatalf("%d batches, want %d", batches, wantBatches)
			}
		})
	}

	if err := s.Delete(ctx, env, "big"); !errors.Is(err, topic.ErrHasMembers) {
		t.Fatalf("delete with members: %v", err)
	}
	if err := s.RemoveMembers(ctx, env, "big", want); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.CountMembers(ctx, env, "big"); c != 0 {
		t.Fatalf("count after removal = %d", c)
	}
	if err := s.Delete(ctx, env, "big"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, env, "big"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if c, _ := s.CountMembers(ctx, env, "other"); c != 2 {
		t.Fatalf("other topic lost members: %d", c)
	}
}

func TestCreateDuplicateAndValidation(t *testing.T) {
	ctx := context.Background()
	s := topic.NewStore(testenv.Mongo(t))
	env, org := primitive.NewObjectID(), primitive.NewObjectID()
	if _, err := s.Create(ctx, env, org, "k", "K"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, env, org, "k", "again"); !errors.Is(err, topic.ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := s.Create(ctx, primitive.NewObjectID(), org, "k", "K"); err != nil {
		t.Fatalf("same key in another environment: %v", err)
	}

	cases := []struct {
		key  string
		want bool
	}{
		{"orders:eu-1.v2_x", true},
		{"", false},
		{"has space", false},
		{"emoji🙂", false},
		{string(make([]byte, 101)), false},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			if got := len(topic.ValidateKey(tc.key)) == 0; got != tc.want {
				t.Fatalf("ValidateKey(%q) valid = %v, want %v", tc.key, got, tc.want)
			}
		})
	}
}

func TestExisting(t *testing.T) {
	ctx := context.Background()
	s := topic.NewStore(testenv.Mongo(t))
	env, org := primitive.NewObjectID(), primitive.NewObjectID()
	for _, k := range []string{"a", "b"} {
		if _, err := s.Create(ctx, env, org, k, k); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Create(ctx, primitive.NewObjectID(), org, "c", "c"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Existing(ctx, env, []string{"a", "c", "b", "zz"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got["a"] || !got["b"] {
		t.Fatalf("existing = %v", got)
	}
	if got, err := s.Existing(ctx, env, nil); err != nil || len(got) != 0 {
		t.Fatalf("no keys: %v %v", got, err)
	}
}
