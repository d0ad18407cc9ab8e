package httpapi_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/herald/heraldtest"
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
