package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/herald"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

var (
	urlRE = regexp.MustCompile(`Herald is running at (http://localhost:\d+)`)
	keyRE = regexp.MustCompile(`shown only this once:\s+([0-9a-f]{48})`)
)

// start runs the standalone (serve) until the returned stop is called.
func start(t *testing.T, env map[string]string) (out *syncBuf, base string, stop func() int) {
	t.Helper()
	out, errOut := &syncBuf{}, &syncBuf{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- Run(ctx, []string{"herald"}, func(k string) string { return env[k] }, out, errOut) }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := urlRE.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("standalone exited with %d: %s %s", code, out.String(), errOut.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if base == "" {
		cancel()
		t.Fatalf("standalone did not start: %s %s", out.String(), errOut.String())
	}
	return out, base, func() int { cancel(); return <-done }
}

func get(t *testing.T, url, key string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "ApiKey "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestStandaloneZeroSetup runs the standalone exactly as `make run` does:
// embedded FerretDB on SQLite and in-process Redis, nothing installed.
func TestStandaloneZeroSetup(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HERALD_DATA_DIR": dir, "PORT": "0", "LOG_LEVEL": "warn"}

	out, base, stop := start(t, env)
	m := keyRE.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("first start did not print the API key: %s", out.String())
	}
	key := m[1]
	if !strings.Contains(out.String(), "Outbound webhooks may reach loopback addresses") {
		t.Fatalf("the standalone does not say it allows loopback targets: %s", out.String())
	}
	if code := get(t, base+"/v1/environments/me", key); code != 200 {
		t.Fatalf("environments/me = %d", code)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit code %d", code)
	}

	// A later start does not print the key again, but says how to read it.
	out, base, stop = start(t, env)
	if strings.Contains(out.String(), key) || !strings.Contains(out.String(), "make api-key") {
		t.Fatalf("second start output: %s", out.String())
	}
	if code := get(t, base+"/v1/environments/me", key); code != 200 {
		t.Fatalf("key not valid after restart: %d", code)
	}
	stop()

	// `api-key` prints it.
	var keyOut, errOut syncBuf
	if code := Run(context.Background(), []string{"herald", "api-key"}, func(k string) string { return env[k] }, &keyOut, &errOut); code != 0 {
		t.Fatalf("api-key exit %d: %s", code, errOut.String())
	}
	if strings.TrimSpace(keyOut.String()) != key {
		t.Fatalf("api-key printed %q, want %q", keyOut.String(), key)
	}
}

func TestStandaloneHonoursAPIKeyAndRejectsBadConfig(t *testing.T) {
	const fixed = "scripted-setup-key-0123456789"
	env := map[string]string{"HERALD_DATA_DIR": t.TempDir(), "PORT": "0", "HERALD_API_KEY": fixed, "LOG_LEVEL": "warn"}
	out, base, stop := start(t, env)
	defer stop()
	if strings.Contains(out.String(), fixed) {
		t.Fatal("the configured key was printed")
	}
	if code := get(t, base+"/v1/environments/me", fixed); code != 200 {
		t.Fatalf("HERALD_API_KEY not honoured: %d", code)
	}

	var o, e syncBuf
	code := Run(context.Background(), []string{"herald"}, func(k string) string {
		return map[string]string{"PORT": "-1", "LOG_LEVEL": "chatty"}[k]
	}, &o, &e)
	if code != 2 || !strings.Contains(e.String(), "PORT") || !strings.Contains(e.String(), "LOG_LEVEL") {
		t.Fatalf("bad config: code %d, %s", code, e.String())
	}
}

// The standalone boots on :0 with embedded backends and delivers a trigger
// through its in-process worker to a fake Slack webhook.
func TestStandaloneDeliversTrigger(t *testing.T) {
	if testing.Short() {
		t.Skip("boots embedded FerretDB")
	}
	const key = "standalone-test-key-0123456789"
	env := map[string]string{"PORT": "0", "HERALD_DATA_DIR": t.TempDir(), "HERALD_API_KEY": key, "HERALD_ALLOW_PRIVATE_TARGETS": "true"}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	ctx := context.Background()
	a, err := New(ctx, cfg, herald.NewLogger(cfg, &logs))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = a.Stop(sctx)
	})

	var mu sync.Mutex
	var got []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(b))
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	defer hook.Close()

	client := &http.Client{Timeout: 10 * time.Second}
	base := fmt.Sprintf("http://127.0.0.1:%d/v1", a.http.Port())
	call := func(method, path string, body any, want int) map[string]any {
		t.Helper()
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(raw))
		req.Header.Set("Authorization", "ApiKey "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out)
		}
		var m map[string]any
		_ = json.Unmarshal(out, &m)
		return m
	}
	call("POST", "/integrations", map[string]any{"providerId": "slack", "channel": "chat", "active": true, "credentials": map[string]any{}}, 201)
	call("POST", "/subscribers", map[string]any{"subscriberId": "u1", "firstName": "Ada"}, 201)
	call("PUT", "/subscribers/u1/credentials", map[string]any{"providerId": "slack", "credentials": map[string]any{"webhookUrl": hook.URL + "/services/T/B/x"}}, 200)
	call("POST", "/workflows", map[string]any{"name": "hello", "steps": []any{map[string]any{"template": map[string]any{"type": "chat", "content": "Hi {{subscriber.firstName}} #{{n}}"}}}}, 201)
	call("POST", "/events/trigger", map[string]any{"name": "hello", "to": "u1", "payload": map[string]any{"n": 7}}, 201)

	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || !strings.Contains(got[0], `"text":"Hi Ada #7"`) {
		t.Fatalf("webhook got %v", got)
	}
}
