package httpapi_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/herald/heraldtest"
)

func TestEnvironmentRetryScheduleAPI(t *testing.T) {
	e := heraldtest.New(t, heraldtest.WithEnv(map[string]string{"HERALD_RETRY_SCHEDULE": "5s,30s"}))
	id := e.Environment.ID.Hex()
	me := e.Request("GET", "/v1/environments/me", nil).Must(t, 200).Data().(map[string]any)
	if me["retrySchedule"] != nil || fmt.Sprint(me["effectiveRetrySchedule"]) != "[5s 30s]" {
		t.Fatalf("defaults: %v", me)
	}
	r := e.Request("PUT", "/v1/environments/"+id, map[string]any{"retrySchedule": []string{"1s", "1m", "2h"}}).Must(t, 200)
	if d := r.Data().(map[string]any); fmt.Sprint(d["retrySchedule"]) != "[1s 1m0s 2h0m0s]" || fmt.Sprint(d["effectiveRetrySchedule"]) != "[1s 1m0s 2h0m0s]" {
		t.Fatalf("set: %s", r.Body)
	}
	if got := e.Request("GET", "/v1/environments/me", nil).Must(t, 200).Data().(map[string]any); fmt.Sprint(got["retrySchedule"]) != "[1s 1m0s 2h0m0s]" {
		t.Fatalf("not kept: %v", got)
	}
	// An empty list means no retries; null resets to the server's default.
	r = e.Request("PUT", "/v1/environments/"+id, map[string]any{"retrySchedule": []string{}}).Must(t, 200)
	if d := r.Data().(map[string]any); fmt.Sprint(d["effectiveRetrySchedule"]) != "[]" {
		t.Fatalf("empty: %s", r.Body)
	}
	r = e.Request("PUT", "/v1/environments/"+id, `{"retrySchedule":null}`).Must(t, 200)
	if d := r.Data().(map[string]any); d["retrySchedule"] != nil || fmt.Sprint(d["effectiveRetrySchedule"]) != "[5s 30s]" {
		t.Fatalf("reset: %s", r.Body)
	}
	for _, bad := range []any{
		map[string]any{"retrySchedule": []string{"5s", "soon"}},
		map[string]any{"retrySchedule": "5s"},
		map[string]any{"retrySchedule": []string{"48h"}},
		map[string]any{"triggerRateLimit": "fast"},
	} {
		r := e.Request("PUT", "/v1/environments/"+id, bad).Must(t, 400)
		if r.JSON()["statusCode"] != float64(400) {
			t.Fatalf("error shape: %s", r.Body)
		}
	}
	e.Request("PUT", "/v1/environments/000000000000000000000000", map[string]any{"retrySchedule": []string{"1s"}}).Must(t, 404)
}

func TestTriggerRateLimit(t *testing.T) {
	e := heraldtest.New(t, heraldtest.WithEnv(map[string]string{"HERALD_TRIGGER_RATE_LIMIT": "2/m"}))
	e.Request("POST", "/v1/workflows", map[string]any{"name": "w", "steps": []any{map[string]any{"template": map[string]any{"type": "chat", "content": "hi"}}}}).Must(t, 201)
	trigger := func() *heraldtest.Response {
		return e.Request("POST", "/v1/events/trigger", map[string]any{"name": "w", "to": "s1"})
	}
	trigger().Must(t, 201)
	trigger().Must(t, 201)
	r := trigger().Must(t, http.StatusTooManyRequests)
	secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || secs < 1 || secs > 30 {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	if j := r.JSON(); j["statusCode"] != float64(429) || j["error"] != "Too Many Requests" || !strings.Contains(fmt.Sprint(j["message"]), "rate limit") {
		t.Fatalf("error shape: %s", r.Body)
	}
	// Bulk shares the limit; other routes are not limited.
	e.Request("POST", "/v1/events/trigger/bulk", map[string]any{"events": []any{map[string]any{"name": "w", "to": "s1"}}}).Must(t, 429)
	e.Request("GET", "/v1/environments/me", nil).Must(t, 200)

	// A per-environment override lifts it.
	e.Request("PUT", "/v1/environments/"+e.Environment.ID.Hex(), map[string]any{"triggerRateLimit": "off"}).Must(t, 200)
	trigger().Must(t, 201)
	me := e.Request("GET", "/v1/environments/me", nil).Must(t, 200).Data().(map[string]any)
	if me["triggerRateLimit"] != "off" || me["effectiveTriggerRateLimit"] != "off" {
		t.Fatalf("me: %v", me)
	}
}

func TestTriggerRateLimitOffByDefault(t *testing.T) {
	e := heraldtest.New(t)
	e.Request("POST", "/v1/workflows", map[string]any{"name": "w", "steps": []any{map[string]any{"template": map[string]any{"type": "chat", "content": "hi"}}}}).Must(t, 201)
	for i := 0; i < 20; i++ {
		e.Request("POST", "/v1/events/trigger", map[string]any{"name": "w", "to": "s1"}).Must(t, 201)
	}
}

// With the strict outbound policy (production default), a Slack webhook
// must be https on SLACK_WEBHOOK_HOSTS.
func TestCredentialsRejectNonSlackWebhookWhenStrict(t *testing.T) {
	e := heraldtest.New(t, heraldtest.WithEnv(map[string]string{"HERALD_ALLOW_PRIVATE_TARGETS": "false"}))
	e.Request("POST", "/v1/integrations", map[string]any{"providerId": "slack", "channel": "chat", "active": true, "credentials": map[string]any{}}).Must(t, 201)
	e.Request("POST", "/v1/subscribers", map[string]any{"subscriberId": "s1"}).Must(t, 201)
	for _, hook := range []string{"https://evil.example.com/services/T/B/x", "http://hooks.slack.com/services/T/B/x", "http://127.0.0.1:9/services/T/B/x", "https://169.254.169.254/latest"} {
		r := e.Request("PUT", "/v1/subscribers/s1/credentials", map[string]any{"providerId": "slack", "credentials": map[string]any{"webhookUrl": hook}}).Must(t, 400)
		if !strings.Contains(string(r.Body), "webhookUrl") || strings.Contains(string(r.Body), "/services/T/B/x") {
			t.Fatalf("%s: %s", hook, r.Body)
		}
	}
	e.Request("PUT", "/v1/subscribers/s1/credentials", map[string]any{"providerId": "slack", "credentials": map[string]any{"webhookUrl": "https://hooks.slack.com/services/T/B/x"}}).Must(t, 200)
	e.Request("POST", "/v1/subscribers", map[string]any{"subscriberId": "s2", "channels": []any{map[string]any{"providerId": "slack", "credentials": map[string]any{"webhookUrl": "https://evil.example.com/x"}}}}).Must(t, 400)
}
