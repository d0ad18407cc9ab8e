package httpapi_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/heraldhq/herald/pkg/herald/heraldtest"
	"github.com/heraldhq/herald/pkg/store"
)

func TestIntegrationsCRUD(t *testing.T) {
	e := heraldtest.New(t)
	in := createSlackIntegration(t, e, "slack-main", true)
	id := in["_id"].(string)
	cred := in["credentials"].(map[string]any)
	if in["providerId"] != "slack" || in["channel"] != "chat" || in["active"] != true || cred["clientId"] != "123.456" || cred["hmac"] != true {
		t.Fatalf("create: %v", in)
	}
	if cred["secretKey"] != "********" {
		t.Fatalf("secret not masked: %v", cred)
	}
	// Duplicate identifier: 409.
	r := e.Request("POST", "/v1/integrations", map[string]any{"providerId": "slack", "identifier": "slack-main"}).Must(t, 409)
	if !strings.Contains(r.JSON()["message"].(string), "slack-main") {
		t.Fatalf("%s", r.Body)
	}
	// clientSecret is accepted as an alias; an identifier is generated when absent.
	r = e.Request("POST", "/v1/integrations", map[string]any{
		"providerId": "slack", "active": false, "credentials": map[string]any{"clientSecret": "other-secret-value"},
	}).Must(t, 201)
	second := r.Data().(map[string]any)
	if !strings.HasPrefix(second["identifier"].(string), "slack-") || second["credentials"].(map[string]any)["secretKey"] != "********" {
		t.Fatalf("%s", r.Body)
	}
	// Validation.
	for _, body := range []any{
		map[string]any{},
		map[string]any{"providerId": "twilio"},
		map[string]any{"providerId": "slack", "channel": "sms"},
		map[string]any{"providerId": "slack", "identifier": "has spaces"},
		map[string]any{"providerId": "slack", "credentials": map[string]any{"redirectUrl": "javascript:alert(1)"}},
	} {
		e.Request("POST", "/v1/integrations", body).Must(t, 400)
	}
	// Lists.
	if n := len(e.Request("GET", "/v1/integrations", nil).Must(t, 200).Data().([]any)); n != 2 {
		t.Fatalf("list: %d", n)
	}
	active := e.Request("GET", "/v1/integrations/active", nil).Must(t, 200).Data().([]any)
	if len(active) != 1 || active[0].(map[string]any)["_id"] != id {
		t.Fatalf("active: %v", active)
	}
	e.Request("GET", "/v1/integrations/"+id, nil).Must(t, 200)
	e.Request("GET", "/v1/integrations/000000000000000000000000", nil).Must(t, 404)
	e.Request("GET", "/v1/integrations/not-an-id", nil).Must(t, 404)

	// Update: partial, keeps the secret when none is given, 409 on a taken identifier.
	r = e.Request("PUT", "/v1/integrations/"+id, map[string]any{"name": "Slack (prod)", "credentials": map[string]any{"redirectUrl": "https://app.example.com/done"}}).Must(t, 200)
	up := r.Data().(map[string]any)
	if up["name"] != "Slack (prod)" || up["credentials"].(map[string]any)["redirectUrl"] != "https://app.example.com/done" ||
		up["credentials"].(map[string]any)["clientId"] != "123.456" || up["credentials"].(map[string]any)["secretKey"] != "********" {
		t.Fatalf("update: %s", r.Body)
	}
	e.Request("PUT", "/v1/integrations/"+id, map[string]any{"identifier": second["identifier"]}).Must(t, 409)
	e.Request("PUT", "/v1/integrations/000000000000000000000000", map[string]any{"name": "x"}).Must(t, 404)

	// The secret is encrypted at rest and never in responses or logs.
	var raw bson.M
	if err := e.Services.Store.C(store.Integrations).FindOne(context.Background(), bson.M{"identifier": "slack-main"}).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	if dump := fmt.Sprint(raw); strings.Contains(dump, "slack-client-secret-value") {
		t.Fatalf("secret stored in plaintext: %s", dump)
	}
	if strings.Contains(e.Logs.String(), "slack-client-secret-value") {
		t.Fatal("logs contain the client secret")
	}
	// Delete answers the remaining integrations.
	r = e.Request("DELETE", "/v1/integrations/"+id, nil).Must(t, 200)
	if rest := r.Data().([]any); len(rest) != 1 {
		t.Fatalf("delete: %s", r.Body)
	}
	e.Request("DELETE", "/v1/integrations/"+id, nil).Must(t, 404)
}
