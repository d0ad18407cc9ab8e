package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/herald/heraldtest"
	"github.com/heraldhq/herald/pkg/notify"
)

// sendCounter is a fake Slack sender counting deliveries per subscriber.
type sendCounter struct {
	mu    sync.Mutex
	count map[string]int
	total int
}

func startCountingWorker(e *heraldtest.Env) *sendCounter {
	c := &sendCounter{count: map[string]int{}}
	e.StartWorker(map[string]notify.Sender{"slack": notify.SenderFunc(func(ctx context.Context, m notify.Message) (notify.Result, error) {
		c.mu.Lock()
		c.count[m.SubscriberID]++
		c.total++
		c.mu.Unlock()
		return notify.Result{StatusCode: 200, Body: "ok"}, nil
	})})
	return c
}

func (c *sendCounter) snapshot() (map[string]int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.count))
	for k, v := range c.count {
		out[k] = v
	}
	return out, c.total
}

// waitSent waits for n deliveries, then for the queues to drain, so that a
// late duplicate would be counted too.
func (c *sendCounter) waitSent(t *testing.T, e *heraldtest.Env, n int) map[string]int {
	t.Helper()
	e.Eventually(30*time.Second, "deliveries", func() bool { _, total := c.snapshot(); return total >= n })
	waitQueuesIdle(t, e)
	got, total := c.snapshot()
	if total != n {
		t.Fatalf("sent %d messages, want %d: %v", total, n, got)
	}
	return got
}

func waitQueuesIdle(t *testing.T, e *heraldtest.Env) {
	t.Helper()
	insp := asynq.NewInspector(e.Services.QueueRedis)
	defer insp.Close()
	e.Eventually(30*time.Second, "idle queues", func() bool {
		for _, q := range []string{delivery.QueueTrigger, delivery.QueueDeliver} {
			info, err := insp.GetQueueInfo(q)
			if err != nil {
				if strings.Contains(err.Error(), "does not exist") {
					continue
				}
				t.Fatal(err)
			}
			if info.Pending+info.Active+info.Scheduled+info.Retry > 0 {
				return false
			}
		}
		return true
	})
}

// subscribersWithSlack creates subscribers with a Slack webhook each.
func subscribersWithSlack(t *testing.T, e *heraldtest.Env, ids ...string) {
	t.Helper()
	for _, id := range ids {
		e.Request("POST", "/v1/subscribers", map[string]any{"subscriberId": id}).Must(t, 201)
		e.Request("PUT", "/v1/subscribers/"+id+"/credentials", map[string]any{
			"providerId": "slack", "credentials": map[string]any{"webhookUrl": "https://hooks.slack.com/services/T1/B1/" + id},
		}).Must(t, 200)
	}
}

func addToTopic(t *testing.T, e *heraldtest.Env, key string, ids ...string) {
	t.Helper()
	e.Request("POST", "/v1/topics/"+key+"/subscribers", map[string]any{"subscribers": ids}).Must(t, 200)
}

func topicTo(key string) map[string]any { return map[string]any{"type": "Topic", "topicKey": key} }

func queuedTriggers(t *testing.T, e *heraldtest.Env) int {
	t.Helper()
	insp := asynq.NewInspector(e.Services.QueueRedis)
	defer insp.Close()
	info, err := insp.GetQueueInfo(delivery.QueueTrigger)
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return 0
		}
		t.Fatal(err)
	}
	return info.Pending + info.Active + info.Scheduled + info.Retry + info.Completed
}

// A subscriber named directly and in a topic, or in two topics, receives the
// message once; the actor receives nothing, even as a topic member.
func TestTriggerTopicsReachEachMemberOnce(t *testing.T) {
	e := heraldtest.New(t)
	createSlackIntegration(t, e, "slack-topics", true)
	subscribersWithSlack(t, e, "ann", "bob", "cid", "dan", "eve", "me")
	addToTopic(t, e, "team-a", "ann", "bob", "me")
	addToTopic(t, e, "team-b", "bob", "cid", "eve")
	createWorkflow(t, e, chatWorkflow("news", "hello {{subscriber.subscriberId}}"))
	sent := startCountingWorker(e)

	r := e.Request("POST", "/v1/events/trigger", map[string]any{
		"name": "news", "transactionId": "tx-topics", "actor": "me",
		"to": []any{"ann", topicTo("team-a"), topicTo("team-b"), "dan", map[string]any{"subscriberId": "dan"}, topicTo("team-a")},
	}).Must(t, 201)
	if d := r.Data().(map[string]any); d["status"] != "processed" || d["transactionId"] != "tx-topics" {
		t.Fatalf("%s", r.Body)
	}
	got := sent.waitSent(t, e, 5)
	want := map[string]int{"ann": 1, "bob": 1, "cid": 1, "dan": 1, "eve": 1}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("deliveries %v, want %v", got, want)
	}
	msgs := e.Request("GET", "/v1/messages?transactionId=tx-topics&limit=100", nil).Must(t, 200).JSON()
	if msgs["totalCount"] != float64(5) {
		t.Fatalf("messages recorded: %v", msgs["totalCount"])
	}

	// The actor given as an object is excluded too, also when named in `to`.
	// A deleted subscriber still listed in a topic is skipped, not recreated.
	e.Request("DELETE", "/v1/subscribers/eve", nil).Must(t, 200)
	e.Request("POST", "/v1/events/trigger", map[string]any{
		"name": "news", "actor": map[string]any{"subscriberId": "bob"}, "to": []any{"bob", topicTo("team-b")},
	}).Must(t, 201)
	got = sent.waitSent(t, e, 6)
	if got["bob"] != 1 || got["cid"] != 2 || got["eve"] != 1 {
		t.Fatalf("actor object not excluded: %v", got)
	}
	e.Request("GET", "/v1/subscribers/eve", nil).Must(t, 404)
}

// An unknown topic is refused when triggered, with nothing enqueued, and the
// transactionId stays free for a corrected retry.
func TestTriggerUnknownTopic(t *testing.T) {
	e := heraldtest.New(t)
	createWorkflow(t, e, chatWorkflow("news", "hi"))
	e.Request("POST", "/v1/topics", map[string]any{"key": "known", "name": "Known"}).Must(t, 201)
	body := map[string]any{"name": "news", "transactionId": "tx-unknown", "to": []any{"ann", topicTo("known"), topicTo("ghost-1"), topicTo("ghost-2")}}
	r := e.Request("POST", "/v1/events/trigger", body).Must(t, http.StatusUnprocessableEntity)
	j := r.JSON()
	if j["statusCode"] != float64(422) || j["message"] != `topic_not_found: no topic with key "ghost-1", "ghost-2" in this environment` {
		t.Fatalf("%s", r.Body)
	}
	if n := queuedTriggers(t, e); n != 0 {
		t.Fatalf("%d trigger tasks enqueued for a refused trigger", n)
	}
	// In a bulk, the event fails alone.
	r = e.Request("POST", "/v1/events/trigger/bulk", map[string]any{"events": []any{
		map[string]any{"name": "news", "to": topicTo("ghost-1")},
		map[string]any{"name": "news", "to": topicTo("known")},
	}}).Must(t, 201)
	res := r.Data().([]any)
	if res[0].(map[string]any)["status"] != "error" || !strings.Contains(string(r.Body), "ghost-1") || res[1].(map[string]any)["status"] != "processed" {
		t.Fatalf("%s", r.Body)
	}
	if n := queuedTriggers(t, e); n != 1 {
		t.Fatalf("%d trigger tasks enqueued, want 1", n)
	}
	// Once the topics exist the same transactionId is accepted (not a replay).
	e.Request("POST", "/v1/topics", map[string]any{"key": "ghost-1", "name": "1"}).Must(t, 201)
	e.Request("POST", "/v1/topics", map[string]any{"key": "ghost-2", "name": "2"}).Must(t, 201)
	r = e.Request("POST", "/v1/events/trigger", body).Must(t, 201)
	if r.Data().(map[string]any)["status"] != "processed" || r.Header.Get("Idempotent-Replay") != "" {
		t.Fatalf("%s %v", r.Body, r.Header)
	}
}

// Broadcast reaches every subscriber of the environment but the actor, and
// only this environment's.
func TestTriggerBroadcast(t *testing.T) {
	e := heraldtest.New(t)
	createSlackIntegration(t, e, "slack-broadcast", true)
	subscribersWithSlack(t, e, "s1", "s2", "s3", "s4", "actor")
	createWorkflow(t, e, chatWorkflow("all", "to everyone"))
	sent := startCountingWorker(e)
	r := e.Request("POST", "/v1/events/trigger/broadcast", map[string]any{"name": "all", "actor": "actor", "payload": map[string]any{"k": 1}, "transactionId": "tx-b"}).Must(t, 201)
	if d := r.Data().(map[string]any); d["status"] != "processed" || d["transactionId"] != "tx-b" || d["acknowledged"] != true {
		t.Fatalf("%s", r.Body)
	}
	got := sent.waitSent(t, e, 4)
	if !reflect.DeepEqual(got, map[string]int{"s1": 1, "s2": 1, "s3": 1, "s4": 1}) {
		t.Fatalf("broadcast deliveries %v", got)
	}
	// Idempotent too.
	again := e.Request("POST", "/v1/events/trigger/broadcast", map[string]any{"name": "all", "transactionId": "tx-b"}).Must(t, 201)
	if string(again.Body) != string(r.Body) || again.Header.Get("Idempotent-Replay") != "true" {
		t.Fatalf("%s", again.Body)
	}
	waitQueuesIdle(t, e)
	if _, total := sent.snapshot(); total != 4 {
		t.Fatalf("replayed broadcast delivered again: %d", total)
	}
	e.Request("POST", "/v1/events/trigger/broadcast", map[string]any{"name": "nope"}).Must(t, 422)
	e.Request("POST", "/v1/events/trigger/broadcast", map[string]any{"payload": map[string]any{}}).Must(t, 400)
}

// A repeated transactionId, even after the first trigger was delivered,
// sends nothing new and answers with the original body, in /trigger and in
// /trigger/bulk.
func TestTriggerDuplicateTransactionIDSendsOnce(t *testing.T) {
	e := heraldtest.New(t)
	createSlackIntegration(t, e, "slack-dup", true)
	subscribersWithSlack(t, e, "u1", "u2")
	createWorkflow(t, e, chatWorkflow("dup", "once"))
	sent := startCountingWorker(e)
	first := e.Request("POST", "/v1/events/trigger", map[string]any{"name": "dup", "to": "u1", "transactionId": "tx-once"}).Must(t, 201)
	sent.waitSent(t, e, 1)

	// A different body with the same id changes nothing.
	again := e.Request("POST", "/v1/events/trigger", map[string]any{"name": "dup", "to": []any{"u1", "u2"}, "transactionId": "tx-once"}).Must(t, 201)
	if string(again.Body) != string(first.Body) || again.Header.Get("Idempotent-Replay") != "true" {
		t.Fatalf("replay %s, original %s", again.Body, first.Body)
	}
	bulk := e.Request("POST", "/v1/events/trigger/bulk", map[string]any{"events": []any{
		map[string]any{"name": "dup", "to": "u2", "transactionId": "tx-once"},
		map[string]any{"name": "dup", "to": "u2", "transactionId": "tx-bulk"},
		map[string]any{"name": "dup", "to": "u2", "transactionId": "tx-bulk"},
	}}).Must(t, 201)
	res := bulk.Data().([]any)
	for i, r := range res {
		d := r.(map[string]any)
		if d["status"] != "processed" || d["acknowledged"] != true {
			t.Fatalf("event %d: %s", i, bulk.Body)
		}
	}
	if res[0].(map[string]any)["transactionId"] != "tx-once" || res[2].(map[string]any)["transactionId"] != "tx-bulk" {
		t.Fatalf("%s", bulk.Body)
	}
	got := sent.waitSent(t, e, 2)
	if !reflect.DeepEqual(got, map[string]int{"u1": 1, "u2": 1}) {
		t.Fatalf("deliveries %v", got)
	}
	// The key lives 24 hours.
	ttl, err := e.Services.Redis.TTL(context.Background(), "herald:txid:"+e.Environment.ID.Hex()+":tx-once").Result()
	if err != nil || ttl < 23*time.Hour || ttl > 24*time.Hour {
		t.Fatalf("idempotency key TTL %v %v", ttl, err)
	}
	// Without a transactionId every trigger is new.
	e.Request("POST", "/v1/events/trigger", map[string]any{"name": "dup", "to": "u1"}).Must(t, 201)
	e.Request("POST", "/v1/events/trigger", map[string]any{"name": "dup", "to": "u1"}).Must(t, 201)
	got = sent.waitSent(t, e, 4)
	if got["u1"] != 3 {
		t.Fatalf("deliveries %v", got)
	}
}

// When the enqueue fails the transactionId is released: the trigger answers
// 503, and the client's retry with the same id is processed, not replayed.
func TestTriggerEnqueueFailureReleasesTransactionID(t *testing.T) {
	e := heraldtest.New(t)
	createWorkflow(t, e, chatWorkflow("alert", "Hi"))
	good := e.Services.Queue
	broken := asynq.NewClient(asynq.RedisClientOpt{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { broken.Close() })
	e.Services.Queue = broken
	down := httptest.NewServer(e.Services.NewAPI())
	t.Cleanup(down.Close)
	e.Services.Queue = good
	body := map[string]any{"name": "alert", "to": "a", "transactionId": "tx-retry"}
	url := e.URL
	e.URL = down.URL
	r := e.Request("POST", "/v1/events/trigger", body).Must(t, http.StatusServiceUnavailable)
	e.URL = url
	if r.Header.Get("Retry-After") == "" {
		t.Fatalf("no Retry-After: %v", r.Header)
	}
	r = e.Request("POST", "/v1/events/trigger", body).Must(t, 201)
	if r.Data().(map[string]any)["status"] != "processed" || r.Header.Get("Idempotent-Replay") != "" {
		t.Fatalf("%s %v", r.Body, r.Header)
	}
	if n := queuedTriggers(t, e); n != 1 {
		t.Fatalf("%d trigger tasks", n)
	}
}

// Concurrent triggers with one transactionId: one is enqueued, every answer
// is the same 201 body.
func TestTriggerConcurrentDuplicates(t *testing.T) {
	e := heraldtest.New(t)
	createWorkflow(t, e, chatWorkflow("race", "hi"))
	const n = 8
	bodies := make([]string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := e.Request("POST", "/v1/events/trigger", map[string]any{"name": "race", "to": "a", "transactionId": "tx-race"})
			if r.Status != 201 {
				t.Errorf("request %d: %d %s", i, r.Status, r.Body)
			}
			bodies[i] = string(r.Body)
		}(i)
	}
	wg.Wait()
	for i := 1; i < n; i++ {
		if bodies[i] != bodies[0] {
			t.Fatalf("answers differ: %s vs %s", bodies[i], bodies[0])
		}
	}
	if n := queuedTriggers(t, e); n != 1 {
		t.Fatalf("%d trigger tasks for one transactionId", n)
	}
}

// A claim left pending by a request that died before enqueueing is taken
// over once stale, so the transactionId is not lost for 24 hours.
func TestTriggerStaleClaimTakenOver(t *testing.T) {
	e := heraldtest.New(t)
	createWorkflow(t, e, chatWorkflow("stale", "hi"))
	key := "herald:txid:" + e.Environment.ID.Hex() + ":tx-stale"
	stale := `{"state":"pending","token":"dead","at":"` + time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano) + `"}`
	if err := e.Services.Redis.Set(context.Background(), key, stale, 24*time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	r := e.Request("POST", "/v1/events/trigger", map[string]any{"name": "stale", "to": "a", "transactionId": "tx-stale"}).Must(t, 201)
	if r.Data().(map[string]any)["status"] != "processed" || r.Header.Get("Idempotent-Replay") != "" {
		t.Fatalf("%s %v", r.Body, r.Header)
	}
	if n := queuedTriggers(t, e); n != 1 {
		t.Fatalf("%d trigger tasks", n)
	}
	v, _ := e.Services.Redis.Get(context.Background(), key).Result()
	if !strings.Contains(v, `"state":"done"`) {
		t.Fatalf("record not finished: %s", v)
	}
	// A fresh pending claim is waited for, then answered 409 (the owner
	// neither finished nor released within the wait).
	fresh := `{"state":"pending","token":"busy","at":"` + time.Now().UTC().Format(time.RFC3339Nano) + `"}`
	if err := e.Services.Redis.Set(context.Background(), key+"2", fresh, 24*time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	e.Request("POST", "/v1/events/trigger", map[string]any{"name": "stale", "to": "a", "transactionId": "tx-stale2"}).Must(t, http.StatusConflict)
}
