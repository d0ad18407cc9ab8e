package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/herald/heraldtest"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/subscriber"
	"github.com/heraldhq/herald/pkg/topic"
)

var bigTopicSize = envInt("HERALD_BIG_TOPIC", 20000)

func envInt(k string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(k)); err == nil {
		return v
	}
	return def
}

// maxFanOutHeapGrowth bounds how much the live heap may grow from the first
// recipient batch to any later one while a 20,000-member topic is fanned out.
// Keeping only the loaded subscriber documents adds about 0.55 KiB per
// recipient (measured: 3.3 MiB at 6,000, so about 11 MiB at 20,000); keeping
// messages and deliver payloads too, several times more.
const maxFanOutHeapGrowth = 4 << 20

// A 20,000-subscriber topic is fanned out in batches of at most BatchSize
// with bounded memory, and every member receives the message exactly once.
func TestFanOutLargeTopic(t *testing.T) {
	if testing.Short() {
		t.Skip("large fan-out")
	}
	e := heraldtest.New(t)
	s := e.Services
	ctx := context.Background()
	began := time.Now()

	in := e.Request("POST", "/v1/integrations", map[string]any{"providerId": "slack", "channel": "chat", "active": true, "credentials": map[string]any{}}).Must(t, 201)
	integrationID, err := primitive.ObjectIDFromHex(in.Data().(map[string]any)["_id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	// Subscribers are inserted with InsertMany in chunks, channels included
	// (FerretDB v1 scans the collection for every update, so upserting
	// 20,000 subscribers one by one takes minutes); members are added with
	// the topic store, 1000 at a time (through the API each chunk would also
	// scan the subscribers: over a minute more).
	hook, err := s.Cipher.Encrypt("https://hooks.slack.com/services/T1/B1/member")
	if err != nil {
		t.Fatal(err)
	}
	env := e.Environment
	ids := make([]string, bigTopicSize)
	for i := range ids {
		ids[i] = fmt.Sprintf("member-%05d", i)
	}
	const chunk = 1000
	tp, err := s.Topics.Create(ctx, env.ID, env.OrganizationID, "everyone", "Everyone")
	if err != nil {
		t.Fatal(err)
	}
	for start := 0; start < len(ids); start += chunk {
		subs := make([]any, 0, chunk)
		members := make([]topic.NewMember, 0, chunk)
		now := store.Now()
		for _, id := range ids[start:min(start+chunk, len(ids))] {
			oid := primitive.NewObjectID()
			subs = append(subs, subscriber.Subscriber{ID: oid, EnvironmentID: env.ID, OrganizationID: env.OrganizationID, SubscriberID: id,
				Channels: []subscriber.Channel{{IntegrationID: integrationID, ProviderID: "slack", Credentials: subscriber.Credentials{WebhookURL: hook},
					Status: subscriber.StatusConnected, UpdatedAt: now}}, CreatedAt: now, UpdatedAt: now})
			members = append(members, topic.NewMember{SubscriberID: id, SubscriberOID: oid})
		}
		if _, err := s.Store.C(store.Subscribers).InsertMany(ctx, subs); err != nil {
			t.Fatal(err)
		}
		if err := s.Topics.AddMembers(ctx, tp, members); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Topics.CountMembers(ctx, env.ID, "everyone"); err != nil || n != int64(bigTopicSize) {
		t.Fatalf("topic has %d members %v", n, err)
	}
	e.Request("POST", "/v1/workflows", map[string]any{"name": "big", "steps": []any{map[string]any{"template": map[string]any{"type": "chat", "content": "hi {{subscriber.subscriberId}}"}}}}).Must(t, 201)
	t.Logf("setup: %v", time.Since(began))

	// One member is also named directly: still one delivery.
	e.Request("POST", "/v1/events/trigger", map[string]any{"name": "big", "transactionId": "tx-big",
		"to": []any{map[string]any{"type": "Topic", "topicKey": "everyone"}, ids[7]}}).Must(t, 201)
	insp := asynq.NewInspector(s.QueueRedis)
	defer insp.Close()
	triggers, err := insp.ListPendingTasks(delivery.QueueTrigger)
	if err != nil || len(triggers) != 1 {
		t.Fatalf("trigger tasks %v %v", triggers, err)
	}
	if err := insp.DeleteTask(delivery.QueueTrigger, triggers[0].ID); err != nil {
		t.Fatal(err)
	}

	// Fan out in this goroutine, watching batch sizes and the heap.
	w := delivery.NewWorker(delivery.WorkerDeps{
		Logger: s.Logger, Queue: s.Queue, Workflows: s.Workflows, Subscribers: s.Subscribers, Topics: s.Topics,
		Integrations: s.Integrations, Log: s.Deliveries, Cipher: s.Cipher, Templates: s.Templates,
		Senders: map[string]notify.Sender{"slack": notify.SenderFunc(func(context.Context, notify.Message) (notify.Result, error) {
			return notify.Result{StatusCode: 200}, nil
		})},
	})
	// At each batch boundary the live heap (after a GC) is sampled: the
	// database runs in this process too, so garbage is excluded, and what
	// the fan-out keeps from batch to batch is what would grow.
	var batches []int
	var live []uint64
	var mu sync.Mutex
	last := time.Now()
	stop := delivery.ObserveBatches(func(n int) {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		mu.Lock()
		batches = append(batches, n)
		live = append(live, m.HeapAlloc)
		if os.Getenv("HERALD_BIG_TOPIC_TRACE") != "" {
			t.Logf("batch %d: %d ids, live heap %.1f MiB, %v", len(batches), n, float64(m.HeapAlloc)/(1<<20), time.Since(last))
		}
		last = time.Now()
		mu.Unlock()
	})
	defer stop()
	fanStart := time.Now()
	err = w.HandleTrigger(ctx, asynq.NewTask(triggers[0].Type, triggers[0].Payload))
	if err != nil {
		t.Fatal(err)
	}
	stop()
	first, peak := live[0], live[0]
	for _, v := range live {
		peak = max(peak, v)
	}
	growth := int64(peak) - int64(first)
	t.Logf("fan-out of %d: %v, %d batches, live heap at the first batch %.1f MiB, growth to the peak %.1f MiB",
		bigTopicSize, time.Since(fanStart), len(batches), float64(first)/(1<<20), float64(growth)/(1<<20))

	total := 0
	for _, n := range batches {
		if n > delivery.BatchSize {
			t.Fatalf("a batch of %d recipients (BatchSize %d)", n, delivery.BatchSize)
		}
		total += n
	}
	// ids[7] once as named, then the topic's 20,000 members minus it.
	if total != bigTopicSize || len(batches) < bigTopicSize/delivery.BatchSize {
		t.Fatalf("%d recipients in %d batches", total, len(batches))
	}
	if growth > maxFanOutHeapGrowth {
		t.Fatalf("heap grew by %d MiB during the fan-out (bound %d MiB)", growth>>20, maxFanOutHeapGrowth>>20)
	}
	// Fully fanned out: one deliver task per member, none twice.
	perSub := make(map[string]int, bigTopicSize)
	for page := 1; ; page++ {
		tasks, err := insp.ListPendingTasks(delivery.QueueDeliver, asynq.PageSize(5000), asynq.Page(page))
		if err != nil {
			t.Fatal(err)
		}
		for _, ti := range tasks {
			var dp delivery.DeliverPayload
			if err := json.Unmarshal(ti.Payload, &dp); err != nil {
				t.Fatal(err)
			}
			perSub[dp.SubscriberID]++
		}
		if len(tasks) < 5000 {
			break
		}
	}
	if len(perSub) != bigTopicSize {
		t.Fatalf("deliver tasks for %d subscribers, want %d", len(perSub), bigTopicSize)
	}
	for id, n := range perSub {
		if n != 1 {
			t.Fatalf("%d deliver tasks for %s", n, id)
		}
	}
	if os.Getenv("HERALD_BIG_TOPIC_DELIVER") == "" {
		// Delivering 20,000 messages on FerretDB takes well over 5 minutes;
		// the topic tests in pkg/httpapi count real sends per subscriber.
		return
	}

	// Deliver them: every member exactly once.
	var mu2 sync.Mutex
	got := map[string]int{}
	var sent atomic.Int64
	e.StartWorker(map[string]notify.Sender{"slack": notify.SenderFunc(func(_ context.Context, m notify.Message) (notify.Result, error) {
		mu2.Lock()
		got[m.SubscriberID]++
		mu2.Unlock()
		sent.Add(1)
		return notify.Result{StatusCode: 200, Body: "ok"}, nil
	})})
	deliverStart := time.Now()
	// Every delivery updates its message; FerretDB v1 scans the messages
	// collection for each update, so this phase takes many minutes.
	e.Eventually(20*time.Minute, "every delivery", func() bool { return sent.Load() >= int64(bigTopicSize) })
	e.Eventually(time.Minute, "deliver queue drained", func() bool {
		q, err := insp.GetQueueInfo(delivery.QueueDeliver)
		return err == nil && q.Pending+q.Active+q.Retry == 0
	})
	t.Logf("delivery of %d: %v", bigTopicSize, time.Since(deliverStart))
	mu2.Lock()
	defer mu2.Unlock()
	if len(got) != bigTopicSize || sent.Load() != int64(bigTopicSize) {
		t.Fatalf("%d subscribers reached with %d messages", len(got), sent.Load())
	}
	for id, n := range got {
		if n != 1 {
			t.Fatalf("%s received %d messages", id, n)
		}
	}
}
