package providers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/herald"
	"github.com/heraldhq/herald/pkg/herald/heraldtest"
	"github.com/heraldhq/herald/providers"
)

// With the production policy (no private targets), a webhook that points at
// this machine — given inline in a trigger, past the credentials API's host
// check — is refused by the worker before any request: the message fails
// permanently, once, and the receiver gets nothing.
func TestWorkerRefusesPrivateWebhookTargets(t *testing.T) {
	e := heraldtest.New(t, heraldtest.WithEnv(map[string]string{"HERALD_ALLOW_PRIVATE_TARGETS": "false"}))
	e.StartWorker(providers.New(e.Config, herald.NewLogger(e.Config, e.Logs)))
	fake := newFakeSlack(t)
	e.Request("POST", "/v1/integrations", map[string]any{"providerId": "slack", "channel": "chat", "active": true, "credentials": map[string]any{}}).Must(t, 201)
	e.Request("POST", "/v1/workflows", map[string]any{"name": "w", "steps": []any{map[string]any{"template": map[string]any{"type": "chat", "content": "hi"}}}}).Must(t, 201)
	hook := fake.URL + "/services/T0/B0/ssrfTOKEN"
	e.Request("POST", "/v1/events/trigger", map[string]any{"name": "w", "transactionId": "tx-ssrf", "to": map[string]any{
		"subscriberId": "mallory", "channels": []any{map[string]any{"providerId": "slack", "credentials": map[string]any{"webhookUrl": hook}}},
	}}).Must(t, 201)

	var msg map[string]any
	e.Eventually(15*time.Second, "the message to fail", func() bool {
		data, _ := e.Request("GET", "/v1/messages?transactionId=tx-ssrf", nil).Must(t, 200).Data().([]any)
		if len(data) != 1 {
			return false
		}
		msg = data[0].(map[string]any)
		return msg["status"] != "pending"
	})
	time.Sleep(1500 * time.Millisecond) // a retry would show up here
	if msg["status"] != "error" || !strings.Contains(msg["errorText"].(string), "refused") || len(fake.requests("/services/T0/B0/ssrfTOKEN")) != 0 {
		t.Fatalf("message %v, receiver got %d requests", msg, len(fake.requests("/services/T0/B0/ssrfTOKEN")))
	}
	if strings.Contains(e.Logs.String(), "ssrfTOKEN") || strings.Contains(msg["errorText"].(string), "ssrfTOKEN") {
		t.Fatal("the webhook token leaked")
	}
}
