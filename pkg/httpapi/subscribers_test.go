package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/heraldhq/herald/pkg/herald/heraldtest"
	"github.com/heraldhq/herald/pkg/store"
)

func TestSubscriberUpsertSemantics(t *testing.T) {
	e := heraldtest.New(t)
	r := e.Request("POST", "/v1/subscribers", map[string]any{
		"subscriberId": "user-1", "firstName": "Ada", "email": "ada@example.com", "data": map[string]any{"plan": "pro"},
	}).Must(t, http.StatusCreated)
	first := r.Data().(map[string]any)
	if first["subscriberId"] != "user-1" || first["firstName"] != "Ada" || first["_id"] == "" {
		t.Fatalf("create: %s", r.Body)
	}
	// A second POST with the same subscriberId updates only the fields it names.
	r = e.Request("POST", "/v1/subscribers", map[string]any{"subscriberId": "user-1", "lastName": "Lovelace"}).Must(t, http.StatusCreated)
	second := r.Data().(map[string]any)
	if second["_id"] != first["_id"] {
		t.Fatalf("upsert created a second document: %v vs %v", second["_id"], first["_id"])
	}
	if second["firstName"] != "Ada" || second["lastName"] != "Lovelace" || second["email"] != "ada@example.com" {
		t.Fatalf("upsert lost fields: %s", r.Body)
	}
	// PUT changes named fields and replaces data.
	r = e.Request("PUT", "/v1/subscribers/user-1", map[string]any{"firstName": "Augusta", "data": map[string]any{"plan": "free"}}).Must(t, 200)
	got := r.Data().(map[string]any)
	if got["firstName"] != "Augusta" || got["lastName"] != "Lovelace" || got["data"].(map[string]any)["plan"] != "free" {
		t.Fatalf("update: %s", r.Body)
	}
	r = e.Request("GET", "/v1/subscribers/user-1", nil).Must(t, 200)
	if r.Data().(map[string]any)["firstName"] != "Augusta" {
		t.Fatalf("get: %s", r.Body)
	}
	r = e.Request("DELETE", "/v1/subscribers/user-1", nil).Must(t, 200)
	if d := r.Data().(map[string]any); d["acknowledged"] != true || d["status"] != "deleted" {
		t.Fatalf("delete: %s", r.Body)
	}
	for _, m := range []string{"GET", "PUT", "DELETE"} {
		r = e.Request(m, "/v1/subscribers/user-1", map[string]any{"firstName": "x"}).Must(t, 404)
		if r.JSON()["message"] != "Subscriber not found for id user-1" {
			t.Fatalf("%s missing: %s", m, r.Body)
		}
	}
}

func TestSubscriberValidation(t *testing.T) {
	e := heraldtest.New(t)
	cases := []struct {
		name string
		body any
		want []string
	}{
		{"missing id", map[string]any{"email": "a@b.co"}, []string{"subscriberId should not be empty"}},
		{"blank id", map[string]any{"subscriberId": "  "}, []string{"subscriberId should not be empty"}},
		{"long id", map[string]any{"subscriberId": strings.Repeat("x", 257)}, []string{"subscriberId must be shorter than or equal to 256 characters"}},
		{"every bad field at once", map[string]any{"subscriberId": "", "email": "not-an-email", "locale": "english!", "avatar": "ftp://x", "data": []int{1}},
			[]string{"subscriberId should not be empty", "email must be an email", "locale must be a locale such as en or en-US", "avatar must be an http(s) URL", "data must be an object"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.Request("POST", "/v1/subscribers", tc.body).Must(t, 400)
			msgs, ok := r.JSON()["message"].([]any)
			if !ok {
				t.Fatalf("message is not a list: %s", r.Body)
			}
			for _, w := range tc.want {
				found := false
				for _, m := range msgs {
					found = found || m == w
				}
				if !found {
					t.Errorf("missing %q in %s", w, r.Body)
				}
			}
		})
	}
	// Nothing was written.
	r := e.Request("GET", "/v1/subscribers", nil).Must(t, 200)
	if r.JSON()["totalCount"] != float64(0) {
		t.Fatalf("invalid requests wrote subscribers: %s", r.Body)
	}
	// A valid locale and phone pass.
	e.Request("POST", "/v1/subscribers", map[string]any{"subscriberId": "ok", "locale": "en-US", "phone": "+44 20 7946 0958"}).Must(t, 201)
}

func TestMalformedAndOversizedBodies(t *testing.T) {
	e := heraldtest.New(t)
	r := e.Request("POST", "/v1/subscribers", `{"subscriberId": "a",`).Must(t, 400)
	if !strings.Contains(r.JSON()["message"].(string), "Invalid JSON") {
		t.Fatalf("%s", r.Body)
	}
	r = e.Request("POST", "/v1/subscribers", `{"subscriberId": 12}`).Must(t, 400)
	if !strings.Contains(r.JSON()["message"].(string), "subscriberId must be a string") {
		t.Fatalf("%s", r.Body)
	}
	e.Request("POST", "/v1/subscribers", `[1,2]`).Must(t, 400)
	e.Request("POST", "/v1/subscribers", ``).Must(t, 400)
	big := `{"subscriberId":"big","data":{"blob":"` + strings.Repeat("a", 600<<10) + `"}}`
	r = e.Request("POST", "/v1/subscribers", big).Must(t, http.StatusRequestEntityTooLarge)
	if r.JSON()["statusCode"] != float64(413) {
		t.Fatalf("%s", r.Body)
	}
	e.Request("GET", "/v1/subscribers/big", nil).Must(t, 404)
}

func TestSubscriberListPagination(t *testing.T) {
	e := heraldtest.New(t)
	for i := 0; i < 12; i++ {
		e.Request("POST", "/v1/subscribers", map[string]any{"subscriberId": fmt.Sprintf("s%02d", i)}).Must(t, 201)
	}
	r := e.Request("GET", "/v1/subscribers", nil).Must(t, 200)
	b := r.JSON()
	if b["page"] != float64(0) || b["pageSize"] != float64(10) || b["totalCount"] != float64(12) || b["hasMore"] != true || len(b["data"].([]any)) != 10 {
		t.Fatalf("page 0: %s", r.Body)
	}
	r = e.Request("GET", "/v1/subscribers?page=1&limit=10", nil).Must(t, 200)
	b = r.JSON()
	data := b["data"].([]any)
	if b["hasMore"] != false || len(data) != 2 || data[0].(map[string]any)["subscriberId"] != "s10" {
		t.Fatalf("page 1: %s", r.Body)
	}
	for _, q := range []string{"limit=0", "limit=101", "page=-1", "limit=abc"} {
		e.Request("GET", "/v1/subscribers?"+q, nil).Must(t, 400)
	}
}

func TestBulkSubscribers(t *testing.T) {
	e := heraldtest.New(t)
	e.Request("POST", "/v1/subscribers", map[string]any{"subscriberId": "existing", "firstName": "Old"}).Must(t, 201)
	r := e.Request("POST", "/v1/subscribers/bulk", map[string]any{"subscribers": []any{
		map[string]any{"subscriberId": "new-1", "email": "n1@example.com"},
		map[string]any{"subscriberId": "existing", "firstName": "New"},
		map[string]any{"subscriberId": "bad", "email": "nope"},
		map[string]any{"email": "noid@example.com"},
		map[string]any{"subscriberId": "new-2"},
	}}).Must(t, 201)
	var out struct {
		Data struct {
			Created []struct{ SubscriberID string } `json:"created"`
			Updated []struct{ SubscriberID string } `json:"updated"`
			Failed  []struct {
				Message      string `json:"message"`
				SubscriberID string `json:"subscriberId"`
			} `json:"failed"`
		} `json:"data"`
	}
	r.Decode(t, &out)
	if len(out.Data.Created) != 2 || len(out.Data.Updated) != 1 || len(out.Data.Failed) != 2 {
		t.Fatalf("bulk result: %s", r.Body)
	}
	if out.Data.Updated[0].SubscriberID != "existing" || out.Data.Failed[0].Message != "email must be an email" {
		t.Fatalf("bulk result: %s", r.Body)
	}
	if e.Request("GET", "/v1/subscribers/existing", nil).Data().(map[string]any)["firstName"] != "New" {
		t.Fatal("bulk did not update existing subscriber")
	}
	e.Request("GET", "/v1/subscribers/bad", nil).Must(t, 404)
	e.Request("POST", "/v1/subscribers/bulk", map[string]any{"subscribers": []any{}}).Must(t, 400)
	many := make([]any, 501)
	for i := range many {
		many[i] = map[string]any{"subscriberId": fmt.Sprint(i)}
	}
	e.Request("POST", "/v1/subscribers/bulk", map[string]any{"subscribers": many}).Must(t, 400)
}

func createSlackIntegration(t *testing.T, e *heraldtest.Env, identifier string, active bool) map[string]any {
	t.Helper()
	r := e.Request("POST", "/v1/integrations", map[string]any{
		"providerId": "slack", "channel": "chat", "identifier": identifier, "active": active,
		"credentials": map[string]any{"clientId": "123.456", "secretKey": "slack-client-secret-value", "applicationId": "A01", "hmac": true},
	}).Must(t, 201)
	return r.Data().(map[string]any)
}

func TestCredentials(t *testing.T) {
	e := heraldtest.New(t)
	const hook = "https://hooks.slack.com/services/T0123456/B0123456/abcdefghijklmnopqrstuvwx"
	e.Request("POST", "/v1/subscribers", map[string]any{"subscriberId": "sub"}).Must(t, 201)

	// No active integration: 400, nothing stored.
	r := e.Request("PUT", "/v1/subscribers/sub/credentials", map[string]any{
		"providerId": "slack", "credentials": map[string]any{"webhookUrl": hook},
	}).Must(t, 400)
	if !strings.Contains(r.JSON()["message"].(string), "does not have an active slack integration") {
		t.Fatalf("%s", r.Body)
	}
	createSlackIntegration(t, e, "slack-inactive", false)
	e.Request("PUT", "/v1/subscribers/sub/credentials", map[string]any{
		"providerId": "slack", "credentials": map[string]any{"webhookUrl": hook},
	}).Must(t, 400)

	a := createSlackIntegration(t, e, "slack-a", true)
	b := createSlackIntegration(t, e, "slack-b", true)
	_ = a

	// Validation.
	for _, body := range []any{
		map[string]any{"credentials": map[string]any{"webhookUrl": hook}},
		map[string]any{"providerId": "carrier-pigeon", "credentials": map[string]any{"webhookUrl": hook}},
		map[string]any{"providerId": "slack"},
		map[string]any{"providerId": "slack", "credentials": map[string]any{"webhookUrl": "not a url"}},
	} {
		e.Request("PUT", "/v1/subscribers/sub/credentials", body).Must(t, 400)
	}
	e.Request("PUT", "/v1/subscribers/nobody/credentials", map[string]any{
		"providerId": "slack", "credentials": map[string]any{"webhookUrl": hook},
	}).Must(t, 404)
	e.Request("PUT", "/v1/subscribers/sub/credentials", map[string]any{
		"providerId": "slack", "integrationIdentifier": "missing", "credentials": map[string]any{"webhookUrl": hook},
	}).Must(t, 400)

	// One channel entry per (provider, integration).
	e.Request("PUT", "/v1/subscribers/sub/credentials", map[string]any{
		"providerId": "slack", "integrationIdentifier": "slack-a", "credentials": map[string]any{"webhookUrl": hook, "channel": "#general"},
	}).Must(t, 200)
	e.Request("PUT", "/v1/subscribers/sub/credentials", map[string]any{
		"providerId": "slack", "credentials": map[string]any{"webhookUrl": hook + "2"},
	}).Must(t, 200) // newest active integration: slack-b
	r = e.Request("PUT", "/v1/subscribers/sub/credentials", map[string]any{
		"providerId": "slack", "integrationIdentifier": "slack-a", "credentials": map[string]any{"webhookUrl": hook + "3"},
	}).Must(t, 200)
	channels := r.Data().(map[string]any)["channels"].([]any)
	if len(channels) != 2 {
		t.Fatalf("want 2 channels, got %s", r.Body)
	}
	chA := channels[0].(map[string]any)
	if chA["integrationIdentifier"] != "slack-a" || chA["credentials"].(map[string]any)["channel"] != "#general" {
		t.Fatalf("PUT did not keep the channel name: %s", r.Body)
	}
	if channels[1].(map[string]any)["_integrationId"] != b["_id"] {
		t.Fatalf("default integration should be the newest active one: %s", r.Body)
	}
	// Masked in responses, never the URL.
	if strings.Contains(string(r.Body), "abcdefghijklmnopqrstuvwx") || strings.Contains(string(r.Body), "B0123456") {
		t.Fatalf("response reveals the webhook URL: %s", r.Body)
	}
	if got := chA["credentials"].(map[string]any)["webhookUrl"]; got != "https://hooks.slack.com/services/T0…/****" {
		t.Fatalf("masked webhook = %v", got)
	}
	// PATCH replaces the credentials.
	r = e.Request("PATCH", "/v1/subscribers/sub/credentials", map[string]any{
		"providerId": "slack", "integrationIdentifier": "slack-a", "credentials": map[string]any{"webhookUrl": hook},
	}).Must(t, 200)
	if ch := r.Data().(map[string]any)["channels"].([]any)[0].(map[string]any); ch["credentials"].(map[string]any)["channel"] != nil {
		t.Fatalf("PATCH kept the old channel name: %s", r.Body)
	}

	// Encrypted at rest: the raw document holds no plaintext URL.
	var raw bson.M
	if err := e.Services.Store.C(store.Subscribers).FindOne(context.Background(), bson.M{"subscriberId": "sub"}).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	dump := fmt.Sprint(raw)
	if strings.Contains(dump, "hooks.slack.com") || !strings.Contains(dump, "enc:v1:") {
		t.Fatalf("webhook URL not encrypted at rest: %s", dump)
	}
	if strings.Contains(e.Logs.String(), "abcdefghijklmnopqrstuvwx") {
		t.Fatal("logs contain the webhook URL")
	}

	// DELETE removes the provider's channels: 204.
	r = e.Request("DELETE", "/v1/subscribers/sub/credentials/slack", nil).Must(t, 204)
	if len(r.Body) != 0 {
		t.Fatalf("204 with a body: %s", r.Body)
	}
	r = e.Request("GET", "/v1/subscribers/sub", nil).Must(t, 200)
	if len(r.Data().(map[string]any)["channels"].([]any)) != 0 {
		t.Fatalf("channels left after delete: %s", r.Body)
	}
	e.Request("DELETE", "/v1/subscribers/nobody/credentials/slack", nil).Must(t, 404)
}

func TestSubscriberCreateWithChannels(t *testing.T) {
	e := heraldtest.New(t)
	// Unknown integration: nothing is written.
	e.Request("POST", "/v1/subscribers", map[string]any{
		"subscriberId": "c1",
		"channels":     []any{map[string]any{"providerId": "slack", "credentials": map[string]any{"webhookUrl": "https://hooks.slack.com/services/T1/B1/x"}}},
	}).Must(t, 400)
	e.Request("GET", "/v1/subscribers/c1", nil).Must(t, 404)
	createSlackIntegration(t, e, "slack", true)
	r := e.Request("POST", "/v1/subscribers", map[string]any{
		"subscriberId": "c1",
		"channels":     []any{map[string]any{"providerId": "slack", "credentials": map[string]any{"webhookUrl": "https://hooks.slack.com/services/T1/B1/x"}}},
	}).Must(t, 201)
	if len(r.Data().(map[string]any)["channels"].([]any)) != 1 {
		t.Fatalf("%s", r.Body)
	}
}
