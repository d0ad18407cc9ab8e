package subscriber_test

import (
	"context"
	"fmt"
	"sort"
	"testing"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/heraldhq/herald/pkg/secret"
	"github.com/heraldhq/herald/pkg/subscriber"
	"github.com/heraldhq/herald/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// IDsAfter pages through an environment's subscribers in subscriberId order,
// every id once, none from another environment.
func TestIDsAfterKeysetPagination(t *testing.T) {
	ctx := context.Background()
	key, _ := secret.ParseKey(secret.NewKey())
	cipher, err := secret.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	s := subscriber.NewStore(testenv.Mongo(t), cipher)
	env, org := primitive.NewObjectID(), primitive.NewObjectID()
	const n = 230
	var items []subscriber.BulkItem
	var want []string
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("s-%d", (i*37)%n)
		items = append(items, subscriber.BulkItem{SubscriberID: id})
		want = append(want, id)
	}
	if _, failed, err := s.BulkUpsert(ctx, env, org, items); err != nil || len(failed) > 0 {
		t.Fatalf("%v %v", err, failed)
	}
	if _, _, err := s.BulkUpsert(ctx, primitive.NewObjectID(), org, items[:10]); err != nil {
		t.Fatal(err)
	}
	sort.Strings(want)
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > n {
			t.Fatal("paging does not end")
		}
		ids, err := s.IDsAfter(ctx, env, after, 50)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ids...)
		if len(ids) < 50 {
			break
		}
		after = ids[len(ids)-1]
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("paged %d ids, want %d in order", len(got), len(want))
	}
	if _, err := s.IDsAfter(ctx, env, "", 0); err == nil {
		t.Fatal("limit 0 accepted")
	}
}
