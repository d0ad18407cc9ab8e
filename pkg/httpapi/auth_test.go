package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/herald/heraldtest"
)

func TestAuthentication(t *testing.T) {
	e := heraldtest.New(t)
	cases := []struct {
		name, auth string
		status     int
		message    string
	}{
		{"missing header", "", 401, "Missing authorization header"},
		{"bearer scheme", "Bearer " + e.APIKey, 401, "Invalid authentication scheme"},
		{"unknown key", "ApiKey nope-not-a-key", 401, "API Key not found"},
		{"empty key", "ApiKey ", 401, "API Key not found"},
		{"valid key", "ApiKey " + e.APIKey, 200, ""},
		{"scheme case-insensitive", "apikey " + e.APIKey, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.RequestWithKey("GET", "/v1/environments/me", nil, tc.auth)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			if tc.message == "" {
				return
			}
			body := r.JSON()
			if body["message"] != tc.message || body["statusCode"] != float64(tc.status) ||
				body["error"] != "Unauthorized" || body["path"] != "/v1/environments/me" || body["timestamp"] == nil {
				t.Fatalf("error body %s", r.Body)
			}
		})
	}
}

func TestEnvironmentEndpointsMaskKeys(t *testing.T) {
	e := heraldtest.New(t)
	me := e.Request("GET", "/v1/environments/me", nil).Must(t, http.StatusOK)
	data := me.Data().(map[string]any)
	if data["name"] != "Development" || data["_id"] == "" {
		t.Fatalf("me: %s", me.Body)
	}
	keys := e.Request("GET", "/v1/environments/api-keys", nil).Must(t, http.StatusOK)
	list := keys.Data().([]any)
	if len(list) != 1 {
		t.Fatalf("api-keys: %s", keys.Body)
	}
	for _, r := range []*heraldtest.Response{me, keys} {
		if strings.Contains(string(r.Body), e.APIKey) {
			t.Fatalf("response reveals the API key: %s", r.Body)
		}
	}
	if !strings.HasSuffix(list[0].(map[string]any)["key"].(string), "****") {
		t.Fatalf("key not masked: %s", keys.Body)
	}
}

func TestUnknownRouteUsesErrorShape(t *testing.T) {
	e := heraldtest.New(t)
	r := e.Request("GET", "/v1/nope", nil).Must(t, 404)
	if r.JSON()["message"] != "Cannot GET /v1/nope" {
		t.Fatalf("%s", r.Body)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	e := heraldtest.New(t)
	e.RequestWithKey("GET", "/healthz", nil, "").Must(t, 200)
	e.RequestWithKey("GET", "/readyz", nil, "").Must(t, 200)
}
