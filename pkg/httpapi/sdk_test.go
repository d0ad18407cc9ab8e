package httpapi_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/herald/heraldtest"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/testenv"
)

// nodeSDK returns the directory of the Novu SDK test project, skipping (or,
// under CI, failing) when Node.js or its node_modules are missing.
func nodeSDK(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs("testdata/novu-sdk")
	_, nodeErr := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "@novu", "node"))
	if nodeErr != nil || modErr != nil {
		msg := "Node.js and testdata/novu-sdk/node_modules are needed (run: cd pkg/httpapi/testdata/novu-sdk && npm ci)"
		if testenv.InCI() {
			t.Fatal(msg)
		}
		t.Skip("SKIPPED LOUDLY: " + msg)
	}
	return dir
}

// TestNovuNodeSDKSubscribers drives Herald with Novu's official Node SDK
// (@novu/node 2.x): identify, update, get, list, set/unset/delete credentials, delete.
func TestNovuNodeSDKSubscribers(t *testing.T) {
	dir := nodeSDK(t)
	e := heraldtest.New(t)
	createSlackIntegration(t, e, "slack-sdk", true)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "subscribers.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HERALD_URL="+e.URL, "HERALD_API_KEY="+e.APIKey)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("SDK script failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `"ok":true`) {
		t.Fatalf("SDK script output: %s", out)
	}
	t.Logf("SDK: %s", strings.TrimSpace(string(out)))
}

// TestNovuNodeSDKEvents drives trigger, bulkTrigger, messages.list,
// executionDetails.get and message deletion with Novu's Node SDK against
// Herald with a running worker.
func TestNovuNodeSDKEvents(t *testing.T) {
	dir := nodeSDK(t)
	e := heraldtest.New(t)
	var sent atomic.Int32
	e.StartWorker(map[string]notify.Sender{"slack": notify.SenderFunc(func(ctx context.Context, m notify.Message) (notify.Result, error) {
		sent.Add(1)
		return notify.Result{StatusCode: 200, Body: "ok"}, nil
	})})
	createSlackIntegration(t, e, "slack-sdk", true)
	e.Request("POST", "/v1/subscribers", map[string]any{"subscriberId": "sdk-1"}).Must(t, 201)
	e.Request("PUT", "/v1/subscribers/sdk-1/credentials", map[string]any{
		"providerId": "slack", "credentials": map[string]any{"webhookUrl": "https://hooks.slack.com/services/T1/B1/sdk"},
	}).Must(t, 200)
	e.Request("POST", "/v1/workflows", map[string]any{"name": "SDK workflow", "steps": []any{
		map[string]any{"template": map[string]any{"type": "chat", "content": "Hello {{subscriber.firstName}} #{{n}}"}},
	}}).Must(t, 201)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "events.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HERALD_URL="+e.URL, "HERALD_API_KEY="+e.APIKey)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"ok":true`) {
		t.Fatalf("SDK script failed: %v\n%s", err, out)
	}
	if n := sent.Load(); n != 3 {
		t.Fatalf("provider called %d times, want 3", n)
	}
	t.Logf("SDK: %s", strings.TrimSpace(string(out)))
}
