package delivery_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/herald/heraldtest"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/ratelimit"
	"github.com/heraldhq/herald/pkg/store"
)

// scripted is a fake provider: each call takes the next scripted outcome
// (the last one repeats) and is recorded with the webhook it targeted.
type scripted struct {
	mu     sync.Mutex
	script []func() (notify.Result, error)
	calls  []call
}

type call struct {
	at   time.Time
	hook string
	text string
}

func ok() (notify.Result, error) { return notify.Result{StatusCode: 200, Body: "ok"}, nil }

func status(code int, body string) func() (notify.Result, error) {
	return func() (notify.Result, error) { return notify.Result{}, notify.FromHTTP(code, http.Header{}, body) }
}

func (s *scripted) Send(_ context.Context, m notify.Message) (notify.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, call{at: time.Now(), hook: m.WebhookURL.Reveal(), text: m.Text})
	step := s.script[0]
	if len(s.script) > 1 {
		s.script = s.script[1:]
	}
	return step()
}

func (s *scripted) set(steps ...func() (notify.Result, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = steps
}

func (s *scripted) n() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

func (s *scripted) callsTo(hook string) []call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []call
	for _, c := range s.calls {
		if c.hook == hook {
			out = append(out, c)
		}
	}
	return out
}

type detailJSON struct {
	Detail  string `json:"detail"`
	Status  string `json:"status"`
	Raw     string `json:"raw"`
	IsRetry bool   `json:"isRetry"`
}

type messageJSON struct {
	ID               string       `json:"_id"`
	Status           string       `json:"status"`
	ErrorID          string       `json:"errorId"`
	ErrorText        string       `json:"errorText"`
	SubscriberID     string       `json:"subscriberId"`
	ExecutionDetails []detailJSON `json:"executionDetails"`
}

const hookA = "https://hooks.slack.com/services/TA/BA/tokenAAAA"

// handWorker is a worker on e's services with the scripted sender, for
// tests that run its handlers by hand (no asynq server).
func handWorker(e *heraldtest.Env, fake *scripted) *delivery.Worker {
	s := e.Services
	return delivery.NewWorker(delivery.WorkerDeps{
		Logger: s.Logger, Queue: s.Queue, Workflows: s.Workflows, Subscribers: s.Subscribers,
		Integrations: s.Integrations, Log: s.Deliveries, Cipher: s.Cipher, Templates: s.Templates,
		Senders: map[string]notify.Sender{"slack": fake}, Environments: s.Environments, Redis: s.Redis,
	})
}

// setupPolicy boots Herald with env, a Slack integration, a workflow "w" and
// subscribers with webhooks; the worker runs with the scripted sender.
func setupPolicy(t *testing.T, env map[string]string, subs map[string]string) (*heraldtest.Env, *scripted) {
	t.Helper()
	e := heraldtest.New(t, heraldtest.WithEnv(env))
	fake := &scripted{script: []func() (notify.Result, error){ok}}
	e.Request("POST", "/v1/integrations", map[string]any{"providerId": "slack", "channel": "chat", "active": true, "credentials": map[string]any{}}).Must(t, 201)
	e.Request("POST", "/v1/workflows", map[string]any{"name": "w", "steps": []any{map[string]any{"template": map[string]any{"type": "chat", "content": "hi {{subscriber.subscriberId}}"}}}}).Must(t, 201)
	for id, hook := range subs {
		e.Request("POST", "/v1/subscribers", map[string]any{"subscriberId": id}).Must(t, 201)
		e.Request("PUT", "/v1/subscribers/"+id+"/credentials", map[string]any{"providerId": "slack", "credentials": map[string]any{"webhookUrl": hook}}).Must(t, 200)
	}
	return e, fake
}

func triggerTo(t *testing.T, e *heraldtest.Env, tx string, to ...string) {
	t.Helper()
	e.Request("POST", "/v1/events/trigger", map[string]any{"name": "w", "to": to, "transactionId": tx}).Must(t, 201)
}

// waitMessages waits until every message of tx has left pending.
func waitMessages(t *testing.T, e *heraldtest.Env, tx string, want int, timeout time.Duration) []messageJSON {
	t.Helper()
	var out []messageJSON
	e.Eventually(timeout, "messages of "+tx, func() bool {
		// The API's message view has no execution details: read the log.
		list, _, err := e.Services.Deliveries.ListMessages(context.Background(), e.Environment.ID,
			delivery.MessageFilter{TransactionIDs: []string{tx}}, 0, 100)
		if err != nil || len(list) != want {
			return false
		}
		out = out[:0]
		for _, m := range list {
			if m.Status == "pending" {
				return false
			}
			mj := messageJSON{ID: m.ID.Hex(), Status: m.Status, ErrorID: m.ErrorID, ErrorText: m.ErrorText, SubscriberID: m.SubscriberID}
			for _, d := range m.ExecutionDetails {
				mj.ExecutionDetails = append(mj.ExecutionDetails, detailJSON{Detail: d.Detail, Status: d.Status, Raw: d.Raw, IsRetry: d.IsRetry})
			}
			out = append(out, mj)
		}
		return true
	})
	return out
}

func providerErrors(m messageJSON) []map[string]any {
	var out []map[string]any
	for _, d := range m.ExecutionDetails {
		if d.Detail == delivery.TextProviderError {
			var raw map[string]any
			_ = json.Unmarshal([]byte(d.Raw), &raw)
			raw["_isRetry"] = d.IsRetry
			out = append(out, raw)
		}
	}
	return out
}

// Transient failures retry on the configured schedule, each attempt logged
// with isRetry, status, body and nextRetryAt; once the schedule is spent the
// task is archived (dead letter) and the message is in error; the retry API
// re-sends it and the log shows it.
func TestTransientFailuresRetryOnScheduleThenDeadLetter(t *testing.T) {
	e, fake := setupPolicy(t, map[string]string{"HERALD_RETRY_SCHEDULE": "300ms,600ms"}, map[string]string{"ada": hookA})
	fake.set(status(500, "rollup_error "+hookA))
	e.StartWorker(map[string]notify.Sender{"slack": fake})
	triggerTo(t, e, "tx-sched", "ada")
	m := waitMessages(t, e, "tx-sched", 1, 20*time.Second)[0]

	if m.Status != "error" || fake.n() != 3 {
		t.Fatalf("status %s after %d calls, want error after 3 (1 + 2 retries)", m.Status, fake.n())
	}
	calls := fake.callsTo(hookA)
	if gap := calls[1].at.Sub(calls[0].at); gap < 300*time.Millisecond {
		t.Fatalf("first retry after %v, schedule says 300ms", gap)
	}
	if gap := calls[2].at.Sub(calls[1].at); gap < 600*time.Millisecond {
		t.Fatalf("second retry after %v, schedule says 600ms", gap)
	}
	errs := providerErrors(m)
	if len(errs) != 3 {
		t.Fatalf("provider errors %v", errs)
	}
	for i, raw := range errs {
		if raw["statusCode"] != float64(500) || raw["kind"] != "transient" || raw["_isRetry"] != (i > 0) {
			t.Fatalf("attempt %d raw %v", i, raw)
		}
		if strings.Contains(raw["body"].(string), "tokenAAAA") {
			t.Fatalf("webhook token in the log: %v", raw)
		}
		if i < 2 {
			next, err := time.Parse(time.RFC3339Nano, raw["nextRetryAt"].(string))
			if err != nil || raw["willRetry"] != true || next.Before(calls[i].at) {
				t.Fatalf("attempt %d nextRetryAt %v", i, raw)
			}
		} else if raw["retriesExhausted"] != true || raw["nextRetryAt"] != nil {
			t.Fatalf("last attempt %v", raw)
		}
	}
	// Dead letter: the task is in asynq's archive.
	insp := asynq.NewInspector(e.Services.QueueRedis)
	defer insp.Close()
	archived, err := insp.ListArchivedTasks(delivery.QueueDeliver)
	if err != nil || len(archived) != 1 {
		t.Fatalf("archived %d %v", len(archived), err)
	}

	// The retry API re-sends it.
	fake.set(ok)
	e.Request("POST", "/v1/messages/"+m.ID+"/retry", nil).Must(t, 201)
	m = waitMessages(t, e, "tx-sched", 1, 10*time.Second)[0]
	last := m.ExecutionDetails[len(m.ExecutionDetails)-1]
	var requested bool
	for _, d := range m.ExecutionDetails {
		requested = requested || d.Detail == delivery.TextRetryRequested
	}
	if m.Status != "sent" || !requested || last.Detail != delivery.TextMessageSent || !last.IsRetry || fake.n() != 4 {
		t.Fatalf("after retry: %s, %d calls, %+v", m.Status, fake.n(), m.ExecutionDetails)
	}
	if strings.Contains(e.Logs.String(), "tokenAAAA") {
		t.Fatal("the logs reveal the webhook URL")
	}
}

// An environment's own retry schedule wins over the server's.
func TestEnvironmentRetryScheduleApplies(t *testing.T) {
	e, fake := setupPolicy(t, map[string]string{"HERALD_RETRY_SCHEDULE": "200ms,200ms,200ms,200ms"}, map[string]string{"ada": hookA})
	e.Request("PUT", "/v1/environments/"+e.Environment.ID.Hex(), map[string]any{"retrySchedule": []string{"200ms"}}).Must(t, 200)
	fake.set(status(503, "busy"))
	e.StartWorker(map[string]notify.Sender{"slack": fake})
	triggerTo(t, e, "tx-env", "ada")
	if m := waitMessages(t, e, "tx-env", 1, 15*time.Second)[0]; m.Status != "error" || fake.n() != 2 {
		t.Fatalf("status %s after %d calls, want 2 (the environment allows one retry)", m.Status, fake.n())
	}
}

// A 429 waits as told and does not spend the retry schedule: with one retry
// allowed, three 429s, a 500 and then a 200 still end in sent.
func TestRateLimitedAnswersDoNotCountAsFailures(t *testing.T) {
	e, fake := setupPolicy(t, map[string]string{"HERALD_RETRY_SCHEDULE": "200ms"}, map[string]string{"ada": hookA})
	limited := func() (notify.Result, error) {
		return notify.Result{}, &notify.Error{Kind: notify.RateLimited, StatusCode: 429, Body: "rate_limited", RetryAfter: 300 * time.Millisecond}
	}
	fake.set(limited, limited, limited, status(500, "oops"), ok)
	e.StartWorker(map[string]notify.Sender{"slack": fake})
	triggerTo(t, e, "tx-429", "ada")
	m := waitMessages(t, e, "tx-429", 1, 20*time.Second)[0]
	if m.Status != "sent" || fake.n() != 5 {
		t.Fatalf("status %s after %d calls, want sent after 5", m.Status, fake.n())
	}
	calls := fake.callsTo(hookA)
	for i := 1; i < 3; i++ {
		if gap := calls[i].at.Sub(calls[i-1].at); gap < 300*time.Millisecond {
			t.Fatalf("429 #%d followed after %v, Retry-After said 300ms", i, gap)
		}
	}
	errs := providerErrors(m)
	if len(errs) != 4 || errs[0]["kind"] != "rate_limited" || errs[0]["statusCode"] != float64(429) || errs[0]["nextRetryAt"] == nil ||
		errs[0]["_isRetry"] != false || errs[1]["_isRetry"] != true || errs[3]["kind"] != "transient" {
		t.Fatalf("provider errors %v", errs)
	}
}

// Slack 403/404/410 stop at once and mark the channel needs_reconnect
// (visible in the subscriber API); later deliveries fail fast without a
// request until new credentials are set. 400 stops without marking.
func TestPermanentFailuresAndNeedsReconnect(t *testing.T) {
	for _, tc := range []struct {
		code int
		body string
	}{{403, "action_prohibited"}, {404, "no_service"}, {410, "channel_is_archived"}} {
		t.Run(tc.body, func(t *testing.T) {
			e, fake := setupPolicy(t, nil, map[string]string{"ada": hookA})
			fake.set(status(tc.code, tc.body), ok)
			e.StartWorker(map[string]notify.Sender{"slack": fake})
			triggerTo(t, e, "tx-1", "ada")
			m := waitMessages(t, e, "tx-1", 1, 10*time.Second)[0]
			if m.Status != "error" || m.ErrorID != "needs_reconnect" || fake.n() != 1 || len(providerErrors(m)) != 1 {
				t.Fatalf("first: %+v after %d calls", m, fake.n())
			}
			sub := e.Request("GET", "/v1/subscribers/ada", nil).Must(t, 200).Data().(map[string]any)
			ch := sub["channels"].([]any)[0].(map[string]any)
			if ch["status"] != "needs_reconnect" || !strings.Contains(ch["statusReason"].(string), tc.body) {
				t.Fatalf("channel %v", ch)
			}

			triggerTo(t, e, "tx-2", "ada")
			m = waitMessages(t, e, "tx-2", 1, 10*time.Second)[0]
			last := m.ExecutionDetails[len(m.ExecutionDetails)-1]
			if m.Status != "error" || m.ErrorID != "needs_reconnect" || last.Detail != delivery.TextChannelNeedsReconnect ||
				!strings.Contains(last.Raw, "channel needs reconnect") || fake.n() != 1 {
				t.Fatalf("fail fast: %+v after %d calls", m, fake.n())
			}

			// Reconnecting (new credentials) clears the mark.
			e.Request("PUT", "/v1/subscribers/ada/credentials", map[string]any{"providerId": "slack", "credentials": map[string]any{"webhookUrl": hookA + "new"}}).Must(t, 200)
			sub = e.Request("GET", "/v1/subscribers/ada", nil).Must(t, 200).Data().(map[string]any)
			if ch := sub["channels"].([]any)[0].(map[string]any); ch["status"] != "connected" {
				t.Fatalf("after reconnect %v", ch)
			}
			triggerTo(t, e, "tx-3", "ada")
			if m := waitMessages(t, e, "tx-3", 1, 10*time.Second)[0]; m.Status != "sent" || fake.n() != 2 || len(fake.callsTo(hookA+"new")) != 1 {
				t.Fatalf("after reconnect: %s, %d calls", m.Status, fake.n())
			}
		})
	}
	t.Run("invalid_payload", func(t *testing.T) {
		e, fake := setupPolicy(t, nil, map[string]string{"ada": hookA})
		fake.set(status(400, "invalid_payload"), ok)
		e.StartWorker(map[string]notify.Sender{"slack": fake})
		triggerTo(t, e, "tx-1", "ada")
		m := waitMessages(t, e, "tx-1", 1, 10*time.Second)[0]
		time.Sleep(500 * time.Millisecond) // a retry (200ms schedule) would show here
		if m.Status != "error" || m.ErrorID == "needs_reconnect" || fake.n() != 1 {
			t.Fatalf("%+v after %d calls", m, fake.n())
		}
		sub := e.Request("GET", "/v1/subscribers/ada", nil).Must(t, 200).Data().(map[string]any)
		if ch := sub["channels"].([]any)[0].(map[string]any); ch["status"] != "connected" {
			t.Fatalf("channel %v", ch)
		}
	})
}

// A task redelivered after the provider accepted its message (a crash or
// lease expiry before asynq saw it finish) is not sent again; if the crash
// came before the log was written, the message is recorded as sent.
func TestRedeliveredDeliverIsNotSentTwice(t *testing.T) {
	e, fake := setupPolicy(t, nil, map[string]string{"ada": hookA})
	s := e.Services
	w := handWorker(e, fake)
	w.Limiter, w.WebhookRate = ratelimit.New(s.Redis), ratelimit.PerSecond(1, 3)
	triggerTo(t, e, "tx-dup", "ada")
	insp := asynq.NewInspector(s.QueueRedis)
	defer insp.Close()
	ctx := context.Background()
	triggers, _ := insp.ListPendingTasks(delivery.QueueTrigger)
	if len(triggers) != 1 {
		t.Fatalf("trigger tasks %d", len(triggers))
	}
	if err := w.HandleTrigger(ctx, asynq.NewTask(triggers[0].Type, triggers[0].Payload)); err != nil {
		t.Fatal(err)
	}
	pending, _ := insp.ListPendingTasks(delivery.QueueDeliver)
	if len(pending) != 1 {
		t.Fatalf("deliver tasks %d", len(pending))
	}
	task := asynq.NewTask(pending[0].Type, pending[0].Payload)
	for i := 0; i < 2; i++ {
		if err := w.HandleDeliver(ctx, task); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	if fake.n() != 1 {
		t.Fatalf("sent %d times", fake.n())
	}
	m := waitMessages(t, e, "tx-dup", 1, 5*time.Second)[0]
	sent := 0
	for _, d := range m.ExecutionDetails {
		if d.Detail == delivery.TextMessageSent {
			sent++
		}
	}
	if m.Status != "sent" || sent != 1 {
		t.Fatalf("log: %+v", m)
	}
	// Simulate the crash between the provider's 200 and the log write.
	id, _ := store.ParseID(m.ID)
	if _, err := s.Store.C(store.Messages).UpdateOne(ctx, bson.M{"_id": id},
		bson.M{"$set": bson.M{"status": "pending", "executionDetails": bson.A{}}}); err != nil {
		t.Fatal(err)
	}
	if err := w.HandleDeliver(ctx, task); err != nil {
		t.Fatal(err)
	}
	m = waitMessages(t, e, "tx-dup", 1, 5*time.Second)[0]
	if fake.n() != 1 || m.Status != "sent" || len(m.ExecutionDetails) != 1 || m.ExecutionDetails[0].Detail != delivery.TextAlreadySent {
		t.Fatalf("after the simulated crash: %d sends, %+v", fake.n(), m)
	}
}

// At most Rate messages per period reach one webhook (after the burst),
// shared through Redis; deliveries over the limit are rescheduled, not slept
// on: another webhook's message goes through meanwhile on a one-slot worker.
func TestWebhookRateLimit(t *testing.T) {
	subs := map[string]string{"zed": "https://hooks.slack.com/services/TZ/BZ/other"}
	var ids []string
	for _, id := range []string{"s1", "s2", "s3", "s4", "s5", "s6"} {
		subs[id] = hookA
		ids = append(ids, id)
	}
	e, fake := setupPolicy(t, map[string]string{"HERALD_WEBHOOK_RATE": "4/s", "HERALD_WEBHOOK_BURST": "2", "WORKER_CONCURRENCY": "1"}, subs)
	e.StartWorker(map[string]notify.Sender{"slack": fake})
	triggerTo(t, e, "tx-burst", ids...)
	e.Eventually(5*time.Second, "the burst", func() bool { return len(fake.callsTo(hookA)) >= 2 })
	triggerTo(t, e, "tx-other", "zed")
	for _, m := range waitMessages(t, e, "tx-burst", 6, 20*time.Second) {
		if m.Status != "sent" {
			t.Fatalf("%+v", m)
		}
	}
	calls := fake.callsTo(hookA)
	if len(calls) != 6 {
		t.Fatalf("%d sends to the limited webhook", len(calls))
	}
	// Burst 2, then one per 250ms: send i (i ≥ 2) is at least (i-1)·250ms after the first.
	for i := 2; i < len(calls); i++ {
		if d := calls[i].at.Sub(calls[0].at); d < time.Duration(i-1)*250*time.Millisecond-30*time.Millisecond {
			t.Fatalf("send %d only %v after the first: %v", i, d, calls)
		}
	}
	other := fake.callsTo(subs["zed"])
	if len(other) != 1 || !other[0].at.Before(calls[5].at) {
		t.Fatalf("the other webhook waited behind the limited one: %v vs %v", other, calls[5].at)
	}
	if n := len(waitMessages(t, e, "tx-other", 1, 5*time.Second)); n != 1 {
		t.Fatal("other message")
	}
}

// Stopping the worker lets an in-flight delivery finish and be recorded.
func TestGracefulStopFinishesInFlight(t *testing.T) {
	e, _ := setupPolicy(t, map[string]string{"HERALD_SHUTDOWN_TIMEOUT": "10s"}, map[string]string{"ada": hookA})
	entered, release := make(chan struct{}), make(chan struct{})
	slow := notify.SenderFunc(func(ctx context.Context, m notify.Message) (notify.Result, error) {
		close(entered)
		<-release
		return notify.Result{StatusCode: 200, Body: "ok"}, nil
	})
	srv := e.Services.NewWorker(map[string]notify.Sender{"slack": slow})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	triggerTo(t, e, "tx-stop", "ada")
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("delivery never started")
	}
	stopped := make(chan struct{})
	go func() { srv.Stop(); close(stopped) }()
	time.Sleep(300 * time.Millisecond)
	select {
	case <-stopped:
		t.Fatal("Stop returned with a delivery in flight")
	default:
	}
	close(release)
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return")
	}
	if m := waitMessages(t, e, "tx-stop", 1, 5*time.Second)[0]; m.Status != "sent" {
		t.Fatalf("in-flight delivery not recorded: %+v", m)
	}
}

// Canceling a transaction stops its deliveries still waiting in the queue
// to be sent at once (a large fan-out being worked through): a worker taking
// one records it canceled and sends nothing. An operator's manual retry of a
// failed message of a canceled transaction is still sent.
func TestCancelStopsQueuedDeliveries(t *testing.T) {
	e, fake := setupPolicy(t, nil, map[string]string{"ada": hookA, "bob": hookA, "cy": hookA})
	s := e.Services
	w := handWorker(e, fake)
	insp := asynq.NewInspector(s.QueueRedis)
	defer insp.Close()
	ctx := context.Background()
	runTasks := func(queue string) int {
		t.Helper()
		tasks, err := insp.ListPendingTasks(queue)
		if err != nil {
			t.Fatal(err)
		}
		for _, ti := range tasks {
			task := asynq.NewTask(ti.Type, ti.Payload)
			var err error
			if queue == delivery.QueueTrigger {
				err = w.HandleTrigger(ctx, task)
			} else {
				err = w.HandleDeliver(ctx, task)
			}
			if err != nil && !errors.Is(err, asynq.SkipRetry) {
				t.Fatalf("%s: %v", ti.Type, err)
			}
			if err := insp.DeleteTask(queue, ti.ID); err != nil {
				t.Fatal(err)
			}
		}
		return len(tasks)
	}

	// cy's message fails for good; its transaction is over.
	fake.set(status(400, "invalid_payload"))
	triggerTo(t, e, "tx-failed", "cy")
	runTasks(delivery.QueueTrigger)
	runTasks(delivery.QueueDeliver)
	failed := waitMessages(t, e, "tx-failed", 1, 5*time.Second)[0]
	if failed.Status != "error" {
		t.Fatalf("setup: %+v", failed)
	}

	// A fan-out to ada and bob, its deliveries queued, then canceled.
	fake.set(ok)
	triggerTo(t, e, "tx-big", "ada", "bob")
	runTasks(delivery.QueueTrigger)
	if r := e.Request("DELETE", "/v1/events/trigger/tx-big", nil).Must(t, 200); r.Data() != true {
		t.Fatalf("cancel with deliveries queued: %s", r.Body)
	}
	if r := e.Request("DELETE", "/v1/events/trigger/tx-big", nil).Must(t, 200); r.Data() != false {
		t.Fatalf("second cancel: %s", r.Body)
	}
	if n := runTasks(delivery.QueueDeliver); n != 2 {
		t.Fatalf("%d deliveries were queued, want 2", n)
	}
	if fake.n() != 1 {
		t.Fatalf("a canceled delivery was sent (%d sends)", fake.n())
	}
	for _, m := range waitMessages(t, e, "tx-big", 2, 5*time.Second) {
		var canceled bool
		for _, d := range m.ExecutionDetails {
			canceled = canceled || d.Detail == delivery.TextStepCanceled
		}
		if m.Status != delivery.StatusCanceled || !canceled {
			t.Fatalf("%s: %+v", m.SubscriberID, m)
		}
	}
	page := e.Request("GET", "/v1/notifications?transactionId=tx-big", nil).Must(t, 200).JSON()
	for _, n := range page["data"].([]any) {
		if st := n.(map[string]any)["status"]; st != "canceled" {
			t.Fatalf("notification status %v", st)
		}
	}

	// Canceling the finished transaction stops nothing (false), and the
	// operator's retry of its failed message is sent all the same.
	if r := e.Request("DELETE", "/v1/events/trigger/tx-failed", nil).Must(t, 200); r.Data() != false {
		t.Fatalf("cancel of a finished transaction: %s", r.Body)
	}
	e.Request("POST", "/v1/messages/"+failed.ID+"/retry", nil).Must(t, 201)
	runTasks(delivery.QueueDeliver)
	if fake.n() != 2 || waitMessages(t, e, "tx-failed", 1, 5*time.Second)[0].Status != "sent" {
		t.Fatalf("manual retry after cancel: %d sends", fake.n())
	}
	// An unknown transaction is not marked: a later trigger with its id is sent.
	if r := e.Request("DELETE", "/v1/events/trigger/tx-later", nil).Must(t, 200); r.Data() != false {
		t.Fatalf("cancel of an unknown transaction: %s", r.Body)
	}
	triggerTo(t, e, "tx-later", "ada")
	runTasks(delivery.QueueTrigger)
	runTasks(delivery.QueueDeliver)
	if fake.n() != 3 {
		t.Fatalf("a trigger after canceling its unknown id was not sent (%d sends)", fake.n())
	}
}

// A cancel that lands while a long fan-out is under way stops it at the next
// batch: recipients after that get no notification and no delivery.
func TestCancelStopsFanOut(t *testing.T) {
	e, fake := setupPolicy(t, nil, map[string]string{"ada": hookA, "bob": hookA})
	s := e.Services
	w := handWorker(e, fake)
	insp := asynq.NewInspector(s.QueueRedis)
	defer insp.Close()
	// The first batch (BatchSize recipients) is new subscribers; ada and bob
	// come in the second.
	to := make([]string, 0, delivery.BatchSize+2)
	for i := 0; i < delivery.BatchSize; i++ {
		to = append(to, fmt.Sprintf("first-%03d", i))
	}
	to = append(to, "ada", "bob")
	triggerTo(t, e, "tx-stop", to...)
	triggers, err := insp.ListPendingTasks(delivery.QueueTrigger)
	if err != nil || len(triggers) != 1 {
		t.Fatalf("trigger tasks %d %v", len(triggers), err)
	}
	// The worker has taken the trigger task (we hold its payload) when the
	// cancel arrives.
	if r := e.Request("DELETE", "/v1/events/trigger/tx-stop", nil).Must(t, 200); r.Data() != true {
		t.Fatalf("cancel: %s", r.Body)
	}
	if err := w.HandleTrigger(context.Background(), asynq.NewTask(triggers[0].Type, triggers[0].Payload)); err != nil {
		t.Fatal(err)
	}
	notes, _, err := s.Deliveries.ListNotifications(context.Background(), e.Environment.ID, delivery.NotificationFilter{TransactionID: "tx-stop"}, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range notes {
		if n.SubscriberID == "ada" || n.SubscriberID == "bob" {
			t.Fatalf("the fan-out went on after the cancel: %s has a notification", n.SubscriberID)
		}
	}
	if len(notes) != delivery.BatchSize {
		t.Fatalf("%d notifications, want the first batch's %d", len(notes), delivery.BatchSize)
	}
	if pending, _ := insp.ListPendingTasks(delivery.QueueDeliver); len(pending) != 0 {
		t.Fatalf("%d deliveries enqueued", len(pending))
	}
	if fake.n() != 0 {
		t.Fatalf("%d sends", fake.n())
	}
}
