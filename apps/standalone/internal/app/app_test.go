package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/herald"
	"github.com/heraldhq/herald/pkg/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

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
