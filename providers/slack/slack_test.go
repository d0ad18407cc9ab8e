package slack_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/netguard"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/secret"
	"github.com/heraldhq/herald/pkg/testenv"
	"github.com/heraldhq/herald/providers/slack"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const secretPath = "/services/T0SECRET/B0SECRET/xyzSECRETtoken"

// newSender is the production sender with loopback allowed (the fakes
// listen on 127.0.0.1), as the standalone runs by default.
func newSender(timeout time.Duration) *slack.Sender {
	return slack.New(slack.NewGuardedClient(netguard.Policy{AllowLoopback: true}, timeout), slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func TestSendPostsTextBlocksAndOverrides(t *testing.T) {
	var got map[string]any
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if r.Method != http.MethodPost || r.URL.Path != secretPath || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("unexpected request %s %s %s", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		_ = json.NewDecoder(r.Body).Decode(&got)
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	res, err := newSender(time.Second).Send(context.Background(), notify.Message{
		WebhookURL: secret.String(srv.URL + secretPath), Text: "hello",
		Blocks:    json.RawMessage(`[{"type":"section","text":{"type":"mrkdwn","text":"*hi*"}}]`),
		Overrides: map[string]any{"unfurl_links": false, "username": "Herald"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || res.Body != "ok" || calls != 1 {
		t.Fatalf("result %+v calls %d", res, calls)
	}
	blocks, _ := got["blocks"].([]any)
	if got["text"] != "hello" || len(blocks) != 1 || got["unfurl_links"] != false || got["username"] != "Herald" {
		t.Fatalf("body %v", got)
	}
	if _, ok := got["replace_original"]; ok {
		t.Fatalf("interactive-only field sent: %v", got)
	}
}

func TestSendClassifiesAndNeverLeaksURL(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		header map[string]string
		kind   notify.Kind
		after  time.Duration
	}{
		{"invalid_payload", 400, "invalid_payload", nil, notify.Permanent, 0},
		{"action_prohibited", 403, "action_prohibited", nil, notify.Permanent, 0},
		{"no_service", 404, "no_service", nil, notify.Permanent, 0},
		{"channel_is_archived", 410, "channel_is_archived", nil, notify.Permanent, 0},
		{"rate limited", 429, "rate_limited", map[string]string{"Retry-After": "3"}, notify.RateLimited, 3 * time.Second},
		{"server error", 500, "rollup_error", nil, notify.Transient, 0},
		{"unavailable", 503, "", nil, notify.Transient, 0},
		{"redirect not followed", 302, "", map[string]string{"Location": "/elsewhere"}, notify.Permanent, 0},
		{"body echoes the URL", 400, "bad url PLACEHOLDER", nil, notify.Permanent, 0},
		{"body echoes the token path", 404, "no_service for /services/T0SECRET/B0SECRET/xyzSECRETtoken (token xyzSECRETtoken)", nil, notify.Permanent, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hook string
			calls := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls++
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, strings.ReplaceAll(tc.body, "PLACEHOLDER", hook))
			}))
			defer srv.Close()
			hook = srv.URL + secretPath
			_, err := newSender(time.Second).Send(context.Background(), notify.Message{WebhookURL: secret.String(hook), Text: "x"})
			if err == nil {
				t.Fatal("want an error")
			}
			e := notify.AsError(err)
			if e.Kind != tc.kind || e.StatusCode != tc.status || e.RetryAfter != tc.after {
				t.Fatalf("got %+v", e)
			}
			if tc.body != "" && !strings.Contains(tc.body, "PLACEHOLDER") && !strings.Contains(tc.body, "SECRET") && e.Body != tc.body {
				t.Fatalf("body %q, want %q", e.Body, tc.body)
			}
			if calls != 1 {
				t.Fatalf("%d requests, want exactly one", calls)
			}
			assertNoSecret(t, err)
		})
	}
}

func TestSendTransportErrorsAreTransientWithoutURL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().String()
	ln.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(500 * time.Millisecond)
	}))
	defer slow.Close()
	for name, hook := range map[string]string{
		"connection refused": "http://" + closedAddr + secretPath,
		"timeout":            slow.URL + secretPath,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := newSender(100*time.Millisecond).Send(context.Background(), notify.Message{WebhookURL: secret.String(hook), Text: "x"})
			e := notify.AsError(err)
			if err == nil || e.Kind != notify.Transient {
				t.Fatalf("got %v", err)
			}
			assertNoSecret(t, err)
		})
	}
	t.Run("malformed URL", func(t *testing.T) {
		_, err := newSender(time.Second).Send(context.Background(), notify.Message{WebhookURL: "::not a url SECRET", Text: "x"})
		if notify.AsError(err).Kind != notify.Permanent || strings.Contains(err.Error(), "SECRET") {
			t.Fatalf("got %v", err)
		}
	})
}

func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	for _, s := range []string{"SECRET", "T0SECRET", secretPath} {
		if strings.Contains(err.Error(), s) {
			t.Fatalf("error text reveals the webhook URL: %q", err.Error())
		}
	}
}

// With the strict policy (production default) the dial is refused after
// name resolution: neither 127.0.0.1 nor a name resolving to it is reached,
// and the failure is permanent (retrying cannot help).
func TestGuardedClientRefusesLoopbackAtDialTime(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls++ }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	strict := slack.New(slack.NewGuardedClient(netguard.Policy{}, time.Second), slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, hook := range []string{srv.URL + secretPath, "http://localhost:" + port + secretPath} {
		_, err := strict.Send(context.Background(), notify.Message{WebhookURL: secret.String(hook), Text: "x"})
		e := notify.AsError(err)
		if err == nil || e.Kind != notify.Permanent || !strings.Contains(e.Reason, "not allowed") {
			t.Fatalf("%s: got %v", hook, err)
		}
		assertNoSecret(t, err)
	}
	if calls != 0 {
		t.Fatalf("the guarded client reached loopback %d times", calls)
	}
}

// The guard refuses, before any request, a webhook off the Slack hosts or
// over plain http.
func TestGuardRefusesNonSlackHosts(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls++ }))
	defer srv.Close()
	s := newSender(time.Second).WithGuard(slack.Guard{Policy: netguard.Policy{}, Hosts: []string{"hooks.slack.com"}})
	for _, hook := range []string{srv.URL + secretPath, "https://evil.example.com" + secretPath, "http://hooks.slack.com" + secretPath} {
		_, err := s.Send(context.Background(), notify.Message{WebhookURL: secret.String(hook), Text: "x"})
		e := notify.AsError(err)
		if err == nil || e.Kind != notify.Permanent || !strings.Contains(e.Reason, "refused") {
			t.Fatalf("%s: got %v", hook, err)
		}
		assertNoSecret(t, err)
	}
	if calls != 0 {
		t.Fatalf("%d requests made", calls)
	}
}

// A huge answer is read up to a cap and kept truncated.
func TestSendCapsResponseBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		_, _ = io.WriteString(w, strings.Repeat("a", 4<<20))
	}))
	defer srv.Close()
	_, err := newSender(5*time.Second).Send(context.Background(), notify.Message{WebhookURL: secret.String(srv.URL + secretPath), Text: "x"})
	e := notify.AsError(err)
	if e.Kind != notify.Transient || len(e.Body) > notify.MaxBodyLen+len("…") || len(e.Body) < notify.MaxBodyLen {
		t.Fatalf("kind %v body length %d", e.Kind, len(e.Body))
	}
}
