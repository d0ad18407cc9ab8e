package delivery_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/testenv"
)

func message(env primitive.ObjectID, id primitive.ObjectID) delivery.Message {
	return delivery.Message{ID: id, EnvironmentID: env, Channel: "chat", Status: delivery.StatusPending,
		ExecutionDetails: []delivery.Detail{}, DeliveredAt: []time.Time{}, CreatedAt: store.Now(), UpdatedAt: store.Now()}
}

// messages returns n new pending messages of env and their ids.
func messages(env primitive.ObjectID, n int) ([]primitive.ObjectID, []delivery.Message) {
	ids := make([]primitive.ObjectID, n)
	msgs := make([]delivery.Message, n)
	for i := range ids {
		ids[i] = primitive.NewObjectID()
		msgs[i] = message(env, ids[i])
	}
	return ids, msgs
}

// Concurrent inserts are written together; each caller still learns which
// of its own documents already existed.
func TestConcurrentInsertsReportTheirOwnDuplicates(t *testing.T) {
	st := testenv.Mongo(t)
	log := delivery.NewLog(st)
	ctx := context.Background()
	env := primitive.NewObjectID()
	existing, first := messages(env, 20)
	if dups, err := log.InsertMessages(ctx, first); err != nil || len(dups) != 0 {
		t.Fatalf("first insert: dups %v, err %v", dups, err)
	}
	var wg sync.WaitGroup
	errs := make([]string, len(existing))
	for i := range existing {
		wg.Add(1)
		go func() {
			defer wg.Done()
			docs := []delivery.Message{message(env, primitive.NewObjectID()), message(env, existing[i]), message(env, primitive.NewObjectID())}
			if i%2 == 0 {
				docs = docs[1:] // the duplicate first
			}
			want := 1
			if i%2 == 0 {
				want = 0
			}
			dups, err := log.InsertMessages(ctx, docs)
			if err != nil || len(dups) != 1 || dups[0] != want {
				errs[i] = fmt.Sprintf("call %d: dups %v (want [%d]), err %v", i, dups, want, err)
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Error(e)
		}
	}
	n, err := st.C(store.Messages).CountDocuments(ctx, bson.M{"_environmentId": env})
	if err != nil || n != 20+30 {
		t.Fatalf("%d messages stored (err %v), want 50", n, err)
	}
}

// With write-behind on, every attempt is written once, and stopping it
// writes what is still queued.
func TestWriteBehindWritesEveryAttemptOnce(t *testing.T) {
	st := testenv.Mongo(t)
	log := delivery.NewLog(st)
	ctx := context.Background()
	env := primitive.NewObjectID()
	ids, msgs := messages(env, 40)
	if _, err := log.InsertMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	log.StartWriteBehind(delivery.WriteBehind{MaxBatch: 7, Writers: 2})
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := delivery.NewDetail(delivery.TextMessageSent, delivery.DetailSuccess, delivery.SourceInternal, "", false)
			if err := log.RecordAttempt(ctx, id, nil, delivery.Attempt{Status: delivery.StatusSent, Details: []delivery.Detail{d}, Delivered: true}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	log.StopWriteBehind()
	for _, id := range ids {
		var m delivery.Message
		if err := st.C(store.Messages).FindOne(ctx, bson.M{"_id": id}).Decode(&m); err != nil {
			t.Fatal(err)
		}
		if m.Status != delivery.StatusSent || m.Attempts != 1 || len(m.ExecutionDetails) != 1 || len(m.DeliveredAt) != 1 {
			t.Fatalf("message %s: status %s, attempts %d, %d details, %d deliveredAt", id.Hex(), m.Status, m.Attempts, len(m.ExecutionDetails), len(m.DeliveredAt))
		}
	}
	// Stopped: RecordAttempt writes synchronously again.
	if err := log.RecordAttempt(ctx, ids[0], nil, delivery.Attempt{Status: delivery.StatusError, Details: []delivery.Detail{}}); err != nil {
		t.Fatal(err)
	}
	var m delivery.Message
	if err := st.C(store.Messages).FindOne(ctx, bson.M{"_id": ids[0]}).Decode(&m); err != nil || m.Status != delivery.StatusError || m.Attempts != 2 {
		t.Fatalf("after stop: %+v, %v", m, err)
	}
}
