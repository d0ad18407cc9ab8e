package delivery_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/herald/heraldtest"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// A redelivered trigger task must not enqueue deliveries twice, nor again
// once they were sent.
func TestRedeliveredTriggerIsIdempotent(t *testing.T) {
	e := heraldtest.New(t)
	s := e.Services
	sent := 0
	w := delivery.NewWorker(delivery.WorkerDeps{
		Logger: s.Logger, Queue: s.Queue, Workflows: s.Workflows, Subscribers: s.Subscribers,
		Integrations: s.Integrations, Log: s.Deliveries, Cipher: s.Cipher, Templates: s.Templates,
		Senders: map[string]notify.Sender{"slack": notify.SenderFunc(func(ctx context.Context, m notify.Message) (notify.Result, error) {
			sent++
			return notify.Result{StatusCode: 200, Body: "ok"}, nil
		})},
	})
	e.Request("POST", "/v1/integrations", map[string]any{"providerId": "slack", "channel": "chat", "active": true, "credentials": map[string]any{}}).Must(t, 201)
	e.Request("POST", "/v1/subscribers", map[string]any{"subscriberId": "s1"}).Must(t, 201)
	e.Request("PUT", "/v1/subscribers/s1/credentials", map[string]any{"providerId": "slack", "credentials": map[string]any{"webhookUrl": "https://hooks.example/T/B/x"}}).Must(t, 200)
	e.Request("POST", "/v1/workflows", map[string]any{"name": "w", "steps": []any{map[string]any{"template": map[string]any{"type": "chat", "content": "hi {{subscriber.subscriberId}}"}}}}).Must(t, 201)
	e.Request("POST", "/v1/events/trigger", map[string]any{"name": "w", "to": "s1", "transactionId": "tx1"}).Must(t, http.StatusCreated)

	insp := asynq.NewInspector(s.QueueRedis)
	defer insp.Close()
	triggers, err := insp.ListPendingTasks(delivery.QueueTrigger)
	if err != nil || len(triggers) != 1 {
		t.Fatalf("trigger tasks %v %v", triggers, err)
	}
	task := asynq.NewTask(triggers[0].Type, triggers[0].Payload)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := w.HandleTrigger(ctx, task); err != nil {
			t.Fatalf("trigger run %d: %v", i, err)
		}
	}
	pending, err := insp.ListPendingTasks(delivery.QueueDeliver)
	if err != nil || len(pending) != 1 {
		t.Fatalf("deliver tasks after two runs: %d %v", len(pending), err)
	}
	if strings.Contains(string(pending[0].Payload), "hooks.example") {
		t.Fatalf("plaintext webhook URL in the deliver task: %s", pending[0].Payload)
	}
	// Until its first attempt the message is not written: the notification
	// is listed, pending, with no jobs yet.
	queued := e.Request("GET", "/v1/notifications?transactionId=tx1", nil).Must(t, 200).JSON()
	if data := queued["data"].([]any); len(data) != 1 || data[0].(map[string]any)["status"] != "pending" || len(data[0].(map[string]any)["jobs"].([]any)) != 0 {
		t.Fatalf("queued notification: %v", queued)
	}
	if none := e.Request("GET", "/v1/messages?transactionId=tx1", nil).Must(t, 200).JSON(); none["totalCount"] != float64(0) {
		t.Fatalf("message written before its first attempt: %v", none)
	}
	if err := w.HandleDeliver(ctx, asynq.NewTask(pending[0].Type, pending[0].Payload)); err != nil {
		t.Fatal(err)
	}
	if err := insp.DeleteTask(delivery.QueueDeliver, pending[0].ID); err != nil {
		t.Fatal(err)
	}
	// The deliver task is gone; the message is sent: a third run (asynq's
	// retry after a crash) enqueues nothing.
	if err := w.HandleTrigger(delivery.AsRerun(ctx), task); err != nil {
		t.Fatal(err)
	}
	if again, _ := insp.ListPendingTasks(delivery.QueueDeliver); len(again) != 0 {
		t.Fatalf("sent message enqueued again: %d", len(again))
	}
	page := e.Request("GET", "/v1/notifications?transactionId=tx1", nil).Must(t, 200).JSON()
	if page["totalCount"] != float64(1) || sent != 1 || page["data"].([]any)[0].(map[string]any)["status"] != "sent" {
		t.Fatalf("notifications %v, sent %d", page["totalCount"], sent)
	}
	msgs := e.Request("GET", "/v1/messages?transactionId=tx1", nil).Must(t, 200).JSON()
	if msgs["totalCount"] != float64(1) || msgs["data"].([]any)[0].(map[string]any)["status"] != "sent" {
		t.Fatalf("messages %v", msgs)
	}
}
