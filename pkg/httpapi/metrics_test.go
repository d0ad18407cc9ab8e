package httpapi_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/notify"

	"github.com/heraldhq/herald/pkg/herald/heraldtest"
)

func TestMetricsEndpoint(t *testing.T) {
	e := heraldtest.New(t)
	e.Request("POST", "/v1/events/trigger", map[string]any{"name": "no-such-workflow", "to": "u1"}).Must(t, 422)
	e.Request("POST", "/v1/events/trigger", map[string]any{"to": "u1"}).Must(t, 400)
	r := e.RequestWithKey("GET", "/metrics", nil, "").Must(t, 200)
	out := string(r.Body)
	for _, want := range []string{
		`herald_triggers_total{result="rejected",status="422"} 1`,
		`herald_triggers_total{result="rejected",status="400"} 1`,
		`herald_deliveries_total{outcome="sent",provider="slack",reason="200"} 0`,
		"go_goroutines",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(out, e.APIKey) {
		t.Fatal("metrics expose the API key")
	}
}

// TestMetricsDeliveryLatency shows the trigger → provider answer histogram
// is fed by real deliveries: the worker carries the trigger's acceptance
// time through the queue to the instrumented sender.
func TestMetricsDeliveryLatency(t *testing.T) {
	e := heraldtest.New(t)
	var seen atomic.Int64 // nanoseconds between acceptance and the send
	e.StartWorker(map[string]notify.Sender{"slack": notify.SenderFunc(func(ctx context.Context, m notify.Message) (notify.Result, error) {
		if !m.TriggeredAt.IsZero() {
			seen.Store(int64(time.Since(m.TriggeredAt)))
		}
		return notify.Result{StatusCode: 200, Body: "ok"}, nil
	})})
	createSlackIntegration(t, e, "slack-metrics", true)
	e.Request("POST", "/v1/subscribers", map[string]any{"subscriberId": "m-1"}).Must(t, 201)
	e.Request("PUT", "/v1/subscribers/m-1/credentials", map[string]any{
		"providerId": "slack", "credentials": map[string]any{"webhookUrl": "https://hooks.slack.com/services/T1/B1/m"},
	}).Must(t, 200)
	createWorkflow(t, e, chatWorkflow("latency", "hi"))
	e.Request("POST", "/v1/events/trigger", map[string]any{"name": "latency", "to": "m-1"}).Must(t, 201)
	e.Eventually(10*time.Second, "delivery", func() bool { return seen.Load() > 0 })
	if d := time.Duration(seen.Load()); d > time.Minute {
		t.Fatalf("trigger time not carried: %v since acceptance", d)
	}
	out := string(e.RequestWithKey("GET", "/metrics", nil, "").Must(t, 200).Body)
	if !strings.Contains(out, `herald_delivery_latency_seconds_count{provider="slack"} 1`) {
		t.Fatalf("latency histogram not fed:\n%s", grepLines(out, "herald_delivery_latency"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
