package httpapi_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/heraldhq/herald/pkg/herald/heraldtest"
)

func createWorkflow(t *testing.T, e *heraldtest.Env, body map[string]any) {
	t.Helper()
	e.Request("POST", "/v1/workflows", body).Must(t, http.StatusCreated)
}

func TestTriggerValidation(t *testing.T) {
	e := heraldtest.New(t)
	createWorkflow(t, e, chatWorkflow("alert", "Hi {{name}}"))
	inactive := chatWorkflow("off", "x")
	inactive["active"] = false
	createWorkflow(t, e, inactive)
	createWorkflow(t, e, map[string]any{"name": "empty", "steps": []any{}})
	createWorkflow(t, e, map[string]any{"name": "paused", "steps": []any{map[string]any{"active": false, "template": map[string]any{"type": "chat", "content": "x"}}}})

	cases := []struct {
		name   string
		body   any
		code   int
		status string // for 201
		msg    string // substring of the error body
	}{
		{"processed with string to", map[string]any{"name": "alert", "to": "sub-1", "payload": map[string]any{"name": "Ada"}}, 201, "processed", ""},
		{"processed with object and array", map[string]any{"name": "alert", "to": []any{"a", map[string]any{"subscriberId": "b", "firstName": "B"}}}, 201, "processed", ""},
		{"unknown workflow", map[string]any{"name": "nope", "to": "s"}, 422, "", "workflow_not_found"},
		{"inactive", map[string]any{"name": "off", "to": "s"}, 201, "trigger_not_active", ""},
		{"no steps", map[string]any{"name": "empty", "to": "s"}, 201, "no_workflow_steps_defined", ""},
		{"no active steps", map[string]any{"name": "paused", "to": "s"}, 201, "no_workflow_active_steps_defined", ""},
		{"missing to", map[string]any{"name": "alert"}, 400, "", "to should not be empty"},
		{"empty to array", map[string]any{"name": "alert", "to": []any{}}, 400, "", "to should not be empty"},
		{"empty to string", map[string]any{"name": "alert", "to": ""}, 400, "", "subscriberId should not be empty"},
		{"object without subscriberId", map[string]any{"name": "alert", "to": map[string]any{"email": "a@b.co"}}, 400, "", "subscriberId should not be empty"},
		{"payload not object", map[string]any{"name": "alert", "to": "s", "payload": []any{1}}, 400, "", "payload must be an object"},
		{"missing name", map[string]any{"to": "s"}, 400, "", "name should not be empty"},
		{"unknown topic", map[string]any{"name": "alert", "to": map[string]any{"type": "Topic", "topicKey": "k"}}, 422, "", `topic_not_found: no topic with key \"k\"`},
		{"topic without key", map[string]any{"name": "alert", "to": []any{map[string]any{"type": "Topic"}}}, 400, "", "to[0]: topicKey should not be empty"},
		{"actor not a subscriber", map[string]any{"name": "alert", "to": "s", "actor": 5}, 400, "", "actor must be a subscriberId or a subscriber object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.Request("POST", "/v1/events/trigger", tc.body).Must(t, tc.code)
			if tc.code == 201 {
				d := r.Data().(map[string]any)
				if d["acknowledged"] != true || d["status"] != tc.status || d["transactionId"] == "" {
					t.Fatalf("%s", r.Body)
				}
				return
			}
			if !strings.Contains(string(r.Body), tc.msg) {
				t.Fatalf("want %q in %s", tc.msg, r.Body)
			}
		})
	}

	t.Run("transactionId kept and duplicate answered with the original result", func(t *testing.T) {
		body := map[string]any{"name": "alert", "to": "s", "transactionId": "tx-dup"}
		r := e.Request("POST", "/v1/events/trigger", body).Must(t, 201)
		if r.Data().(map[string]any)["transactionId"] != "tx-dup" || r.Header.Get("Idempotent-Replay") != "" {
			t.Fatalf("%s %v", r.Body, r.Header)
		}
		again := e.Request("POST", "/v1/events/trigger", map[string]any{"name": "alert", "to": "other", "transactionId": "tx-dup"}).Must(t, 201)
		if string(again.Body) != string(r.Body) || again.Header.Get("Idempotent-Replay") != "true" {
			t.Fatalf("replay %s %v, original %s", again.Body, again.Header, r.Body)
		}
	})
	t.Run("inline webhook never reaches the queue in plaintext", func(t *testing.T) {
		e.Request("POST", "/v1/integrations", map[string]any{"providerId": "slack", "channel": "chat", "active": true, "credentials": map[string]any{}}).Must(t, 201)
		hook := "https://hooks.slack.com/services/T1/B1/very-secret"
		e.Request("POST", "/v1/events/trigger", map[string]any{"name": "alert", "transactionId": "tx-inline",
			"to": map[string]any{"subscriberId": "inline", "channels": []any{map[string]any{"providerId": "slack", "credentials": map[string]any{"webhookUrl": hook}}}}}).Must(t, 201)
		info, err := asynq.NewInspector(e.Services.QueueRedis).ListPendingTasks("herald_trigger", asynq.PageSize(100))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, ti := range info {
			if strings.Contains(ti.ID, "tx-inline") {
				found = true
			}
			if strings.Contains(string(ti.Payload), "very-secret") {
				t.Fatalf("plaintext webhook in task payload: %s", ti.Payload)
			}
		}
		if !found {
			t.Fatal("trigger task not found in the queue")
		}
	})
}

func TestTriggerBulk(t *testing.T) {
	e := heraldtest.New(t)
	createWorkflow(t, e, chatWorkflow("alert", "Hi"))
	r := e.Request("POST", "/v1/events/trigger/bulk", map[string]any{"events": []any{
		map[string]any{"name": "alert", "to": "a"},
		map[string]any{"name": "nope", "to": "b", "transactionId": "bad-1"},
		"not an event",
		map[string]any{"name": "alert", "to": []any{}},
		map[string]any{"name": "alert", "to": "c", "transactionId": "good-2"},
	}}).Must(t, 201)
	res := r.Data().([]any)
	if len(res) != 5 {
		t.Fatalf("%s", r.Body)
	}
	wantStatus := []string{"processed", "error", "error", "error", "processed"}
	for i, w := range wantStatus {
		got := res[i].(map[string]any)
		if got["status"] != w {
			t.Fatalf("event %d: %v (%s)", i, got, r.Body)
		}
		if w == "error" && (got["acknowledged"] != false || len(got["error"].([]any)) == 0) {
			t.Fatalf("event %d error shape: %v", i, got)
		}
	}
	if res[1].(map[string]any)["transactionId"] != "bad-1" || res[4].(map[string]any)["transactionId"] != "good-2" {
		t.Fatalf("%s", r.Body)
	}
	e.Request("POST", "/v1/events/trigger/bulk", map[string]any{"events": []any{}}).Must(t, 400)
	many := make([]any, 101)
	for i := range many {
		many[i] = map[string]any{"name": "alert", "to": "a"}
	}
	e.Request("POST", "/v1/events/trigger/bulk", map[string]any{"events": many}).Must(t, 400)
}

// With Redis unreachable the trigger is refused with 503 and Retry-After, never 201.
func TestTriggerQueueUnavailable(t *testing.T) {
	cfg := heraldtest.Config(t)
	logs := &heraldtest.SyncBuffer{}
	svcs := heraldtest.Open(t, cfg, logs)
	_, key, _, err := svcs.Bootstrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	good := svcs.Queue
	svcs.Queue = asynq.NewClient(asynq.RedisClientOpt{Addr: closed, DialTimeout: 200e6})
	t.Cleanup(func() { svcs.Queue.Close(); svcs.Queue = good })
	srv := httptest.NewServer(svcs.NewAPI())
	t.Cleanup(srv.Close)
	e := &heraldtest.Env{T: t, Services: svcs, Server: srv, URL: srv.URL, APIKey: key, Client: srv.Client(), Logs: logs}
	createWorkflow(t, e, chatWorkflow("alert", "Hi"))
	r := e.Request("POST", "/v1/events/trigger", map[string]any{"name": "alert", "to": "a"}).Must(t, http.StatusServiceUnavailable)
	if r.Header.Get("Retry-After") == "" {
		t.Fatalf("no Retry-After: %v", r.Header)
	}
	r = e.Request("POST", "/v1/events/trigger/bulk", map[string]any{"events": []any{map[string]any{"name": "alert", "to": "a"}}}).Must(t, http.StatusServiceUnavailable)
	if r.Header.Get("Retry-After") == "" {
		t.Fatalf("no Retry-After on bulk: %v", r.Header)
	}
}
