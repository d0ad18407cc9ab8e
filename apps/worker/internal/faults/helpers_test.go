package faults_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/herald"
	"github.com/heraldhq/herald/pkg/herald/heraldtest"
	"github.com/heraldhq/herald/pkg/testenv"
	"github.com/heraldhq/herald/providers"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// triggerName is the trigger identifier of the probe workflow.
const triggerName = "fault-probe"

// baseEnv is the configuration every fault test runs with. Unknown variables
// are ignored by older builds; the retry schedule is short so retries happen
// within seconds, and the per-webhook rate is generous (each recipient also
// has its own webhook path).
func baseEnv(extra ...string) map[string]string {
	kv := map[string]string{
		"HERALD_ALLOW_PRIVATE_TARGETS": "loopback",
		"HERALD_RETRY_SCHEDULE":        "200ms,500ms,1s,1s,1s",
		"HERALD_WEBHOOK_RATE":          "1000/s",
		"HERALD_PROVIDER_TIMEOUT":      "2s",
		"WORKER_CONCURRENCY":           "20",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		kv[extra[i]] = extra[i+1]
	}
	return kv
}

// withEnv loads the whole configuration from kv (as the binaries would from
// their environment), keeping heraldtest's per-test encryption key, database
// name, log level and cache TTL.
func withEnv(t *testing.T, kv map[string]string) heraldtest.Option {
	return func(c *config.Config) {
		loaded, err := config.Load(func(k string) string { return kv[k] })
		if err != nil && kv["HERALD_WEBHOOK_RATE"] != "" && strings.Contains(err.Error(), "HERALD_WEBHOOK_RATE") {
			t.Logf("this build does not read HERALD_WEBHOOK_RATE=%s (%v); running without it", kv["HERALD_WEBHOOK_RATE"], err)
			delete(kv, "HERALD_WEBHOOK_RATE")
			loaded, err = config.Load(func(k string) string { return kv[k] })
		}
		if err != nil {
			t.Fatalf("configuration: %v", err)
		}
		keep := *c
		*c = loaded
		c.EncryptionKey, c.MongoDatabase, c.LogLevel, c.CacheTTL = keep.EncryptionKey, keep.MongoDatabase, keep.LogLevel, keep.CacheTTL
	}
}

// newEnv starts the API on the given backends ("" for testenv's shared ones).
func newEnv(t *testing.T, kv map[string]string, mongoURI, redisURL string) *heraldtest.Env {
	t.Helper()
	if mongoURI == "" && redisURL == "" {
		e := heraldtest.New(t, withEnv(t, kv))
		keepLogs(t, e.Logs)
		return e
	}
	if mongoURI == "" {
		mongoURI = testenv.MongoURI(t)
	}
	if redisURL == "" {
		redisURL = testenv.RedisURL(t)
	}
	cfg := heraldtest.Config(t, withEnv(t, kv))
	logs := &heraldtest.SyncBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svcs, err := herald.Open(ctx, cfg, herald.NewLogger(cfg, logs), mongoURI, redisURL)
	if err != nil {
		t.Fatalf("open services: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = svcs.Store.DB.Drop(ctx)
		svcs.Close(ctx)
	})
	env, key, _, err := svcs.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svcs.NewAPI())
	t.Cleanup(srv.Close)
	keepLogs(t, logs)
	return &heraldtest.Env{
		T: t, Config: cfg, Services: svcs, Server: srv, URL: srv.URL, APIKey: key,
		Environment: env, Logs: logs, Client: &http.Client{Timeout: 30 * time.Second},
	}
}

// startWorker runs the worker in-process with the real providers.
func startWorker(e *heraldtest.Env) {
	e.StartWorker(providers.New(e.Config, herald.NewLogger(e.Config, e.Logs)))
}

// setupWorkflow creates the Slack integration and a workflow whose text is
// the message's unique id: the payload's id and the subscriber id.
func setupWorkflow(t *testing.T, e *heraldtest.Env) {
	t.Helper()
	e.Request("POST", "/v1/integrations", map[string]any{"providerId": "slack", "channel": "chat", "active": true, "name": "Slack", "credentials": map[string]any{}}).Must(t, 201)
	e.Request("POST", "/v1/workflows", map[string]any{
		"name":  "Fault probe",
		"steps": []any{map[string]any{"name": "slack", "template": map[string]any{"type": "chat", "content": "{{id}}/{{subscriber.subscriberId}}"}}},
	}).Must(t, 201)
}

// recipient is an inline subscriber with its own webhook.
func recipient(id, hook string) map[string]any {
	return map[string]any{"subscriberId": id, "channels": []any{map[string]any{
		"providerId": "slack", "credentials": map[string]any{"webhookUrl": hook}}}}
}

// triggerBody is a trigger of the probe workflow; each recipient gets the
// message "<id>/<subscriberId>".
func triggerBody(tx, id string, to ...map[string]any) map[string]any {
	list := make([]any, len(to))
	for i, r := range to {
		list[i] = r
	}
	return map[string]any{"name": triggerName, "to": list, "transactionId": tx, "payload": map[string]any{"id": id}}
}

// reply is what the receiver answers to one request.
type reply struct {
	status int
	header map[string]string
	delay  time.Duration
}

// receiver is a local webhook receiver. It answers each path's n-th request
// (0-based) as script says (200 by default) and counts, per message text,
// the requests it processed to a 2xx answer — including ones whose sender
// had already given up (a slow answer): those messages did reach the
// receiver, so a later resend is a duplicate.
type receiver struct {
	*httptest.Server
	script func(path string, n int) reply

	mu       sync.Mutex
	got      map[string]int         // message text → 2xx-answered requests
	firstOK  map[string]time.Time   // message text → first 2xx answer
	requests map[string][]time.Time // path → request arrival times
	bad      []string
}

func newReceiver(t *testing.T, script func(path string, n int) reply) *receiver {
	r := &receiver{script: script, got: map[string]int{}, firstOK: map[string]time.Time{}, requests: map[string][]time.Time{}}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	raw, _ := io.ReadAll(req.Body)
	var body struct {
		Text string `json:"text"`
	}
	r.mu.Lock()
	if req.Method != http.MethodPost || json.Unmarshal(raw, &body) != nil || body.Text == "" {
		r.bad = append(r.bad, req.Method+" "+req.URL.Path+" "+string(raw))
	}
	n := len(r.requests[req.URL.Path])
	r.requests[req.URL.Path] = append(r.requests[req.URL.Path], time.Now())
	r.mu.Unlock()
	rep := reply{status: 200}
	if r.script != nil {
		rep = r.script(req.URL.Path, n)
	}
	if rep.delay > 0 {
		time.Sleep(rep.delay)
	}
	if rep.status >= 200 && rep.status < 300 {
		r.mu.Lock()
		if r.got[body.Text] == 0 {
			r.firstOK[body.Text] = time.Now()
		}
		r.got[body.Text]++
		r.mu.Unlock()
	}
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	w.WriteHeader(rep.status)
	if rep.status < 300 {
		_, _ = io.WriteString(w, "ok")
	} else {
		_, _ = io.WriteString(w, "scripted failure")
	}
}

// requestTimes returns the arrival times of a path's requests.
func (r *receiver) requestTimes(path string) []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.requests[path]...)
}

// delivered is how many distinct messages were received.
func (r *receiver) delivered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// tally compares what was received with the accepted messages.
type tally struct {
	accepted, delivered, missing, duplicates, unexpected int
	missingIDs                                           []string
}

func (r *receiver) tally(accepted []string) tally {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out tally
	want := map[string]bool{}
	for _, id := range accepted {
		want[id] = true
	}
	out.accepted = len(want)
	for id := range want {
		n := r.got[id]
		if n == 0 {
			out.missing++
			out.missingIDs = append(out.missingIDs, id)
			continue
		}
		out.delivered++
		out.duplicates += n - 1
	}
	for id := range r.got {
		if !want[id] {
			out.unexpected++
		}
	}
	sort.Strings(out.missingIDs)
	return out
}

func (tl tally) String() string {
	return fmt.Sprintf("accepted=%d delivered=%d missing=%d duplicates=%d", tl.accepted, tl.delivered, tl.missing, tl.duplicates)
}

// waitDelivered waits until every accepted message has been received.
func waitDelivered(t *testing.T, r *receiver, accepted []string, timeout time.Duration) tally {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		tl := r.tally(accepted)
		if tl.missing == 0 {
			return tl
		}
		if time.Now().After(deadline) {
			ids := tl.missingIDs
			if len(ids) > 10 {
				ids = ids[:10]
			}
			t.Fatalf("after %v: %s; missing for example %v", timeout, tl, ids)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitQueuesIdle waits until nothing is pending, active, scheduled or
// retrying in Herald's queues, so that any late duplicate has been sent.
func waitQueuesIdle(t *testing.T, e *heraldtest.Env, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		busy := 0
		for _, q := range []string{delivery.QueueTrigger, delivery.QueueDeliver} {
			info, err := e.Services.Inspector.GetQueueInfo(q)
			if err != nil {
				if strings.Contains(err.Error(), "does not exist") {
					continue
				}
				busy++
				continue
			}
			busy += info.Pending + info.Active + info.Scheduled + info.Retry
		}
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queues still busy (%d tasks) after %v", busy, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkWellFormed fails the test if the receiver got malformed requests or
// messages nobody triggered.
func checkWellFormed(t *testing.T, r *receiver, accepted []string) {
	t.Helper()
	r.mu.Lock()
	bad := append([]string(nil), r.bad...)
	r.mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("malformed webhook requests: %v", bad)
	}
	if tl := r.tally(accepted); tl.unexpected > 0 {
		t.Fatalf("%d messages nobody triggered were delivered", tl.unexpected)
	}
}

// notification is the part of GET /v1/notifications the tests read.
type notification struct {
	Status string `json:"status"`
	Jobs   []struct {
		Status           string `json:"status"`
		ExecutionDetails []struct {
			Detail  string `json:"detail"`
			Status  string `json:"status"`
			Raw     string `json:"raw"`
			IsRetry bool   `json:"isRetry"`
		} `json:"executionDetails"`
	} `json:"jobs"`
}

// notificationOf waits until the transaction's single notification has
// reached want ("sent", "error").
func notificationOf(t *testing.T, e *heraldtest.Env, tx, want string, timeout time.Duration) notification {
	t.Helper()
	var n notification
	e.Eventually(timeout, "notification of "+tx+" to be "+want, func() bool {
		var page struct {
			Data []notification `json:"data"`
		}
		e.Request("GET", "/v1/notifications?transactionId="+tx, nil).Must(t, 200).Decode(t, &page)
		if len(page.Data) != 1 || page.Data[0].Status != want || len(page.Data[0].Jobs) == 0 {
			return false
		}
		n = page.Data[0]
		return true
	})
	return n
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// keepLogs writes the app's logs to $HERALD_FAULTS_LOGS/<test>.log when the
// test fails and that variable names a directory.
func keepLogs(t *testing.T, logs *heraldtest.SyncBuffer) {
	dir := os.Getenv("HERALD_FAULTS_LOGS")
	if dir == "" {
		return
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("HERALD_FAULTS_LOGS_ALL") == "1" {
			name := filepath.Join(dir, fmt.Sprintf("%s-%d.log", strings.ReplaceAll(t.Name(), "/", "_"), time.Now().UnixNano()))
			_ = os.WriteFile(name, []byte(logs.String()), 0o644)
			t.Logf("app logs: %s", name)
		}
	})
}
