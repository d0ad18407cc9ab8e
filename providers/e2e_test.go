package providers_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/herald"
	"github.com/heraldhq/herald/pkg/herald/heraldtest"
	"github.com/heraldhq/herald/pkg/testenv"
	"github.com/heraldhq/herald/providers"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// fakeSlack is an httptest fake of Slack's incoming webhooks: each path
// answers with a scripted sequence of (status, body) and records what it got.
type fakeSlack struct {
	*httptest.Server
	mu       sync.Mutex
	got      map[string][]map[string]any
	scripts  map[string][]answer
	failures []string
}

type answer struct {
	status int
	body   string
}

func newFakeSlack(t *testing.T) *fakeSlack {
	f := &fakeSlack{got: map[string][]map[string]any{}, scripts: map[string][]answer{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		var body map[string]any
		raw, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(raw, &body) != nil {
			f.failures = append(f.failures, r.Method+" "+string(raw))
		}
		f.got[r.URL.Path] = append(f.got[r.URL.Path], body)
		a := answer{200, "ok"}
		if s := f.scripts[r.URL.Path]; len(s) > 0 {
			a = s[0]
			if len(s) > 1 {
				f.scripts[r.URL.Path] = s[1:]
			}
		}
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeSlack) requests(path string) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.got[path]...)
}

func setup(t *testing.T) (*heraldtest.Env, *fakeSlack) {
	e := heraldtest.New(t, heraldtest.WithEnv(map[string]string{"HERALD_ALLOW_PRIVATE_TARGETS": "true", "HERALD_PROVIDER_TIMEOUT": "2s"}))
	e.StartWorker(providers.New(e.Config, herald.NewLogger(e.Config, e.Logs)))
	fake := newFakeSlack(t)
	e.Request("POST", "/v1/integrations", map[string]any{"providerId": "slack", "channel": "chat", "active": true, "name": "Slack", "credentials": map[string]any{}}).Must(t, 201)
	e.Request("POST", "/v1/workflows", map[string]any{
		"name": "Comment added",
		"steps": []any{map[string]any{"name": "slack", "template": map[string]any{
			"type": "chat", "content": "Hi {{subscriber.firstName}}: {{comment}}",
			"blocks": []any{map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "*{{title}}* by {{author.name}}"}}},
		}}},
	}).Must(t, 201)
	return e, fake
}

func addSubscriber(t *testing.T, e *heraldtest.Env, id, webhook string) {
	e.Request("POST", "/v1/subscribers", map[string]any{"subscriberId": id, "firstName": strings.ToUpper(id[:1]) + id[1:]}).Must(t, 201)
	if webhook != "" {
		e.Request("PUT", "/v1/subscribers/"+id+"/credentials", map[string]any{"providerId": "slack", "credentials": map[string]any{"webhookUrl": webhook}}).Must(t, 200)
	}
}

func trigger(t *testing.T, e *heraldtest.Env, tx string, to any) {
	r := e.Request("POST", "/v1/events/trigger", map[string]any{
		"name": "comment-added", "to": to, "transactionId": tx,
		"payload": map[string]any{"comment": "Looks good", "title": "Review", "author": map[string]any{"name": "Grace"}},
	}).Must(t, 201)
	if d := r.Data().(map[string]any); d["status"] != "processed" || d["transactionId"] != tx {
		t.Fatalf("trigger: %s", r.Body)
	}
}

type job struct {
	ID               string            `json:"_id"`
	Status           string            `json:"status"`
	ExecutionDetails []detail          `json:"executionDetails"`
	Step             map[string]any    `json:"step"`
	Extra            map[string]string `json:"-"`
}

type detail struct {
	Detail  string `json:"detail"`
	Status  string `json:"status"`
	Source  string `json:"source"`
	Raw     string `json:"raw"`
	IsRetry bool   `json:"isRetry"`
}

type notification struct {
	ID            string         `json:"_id"`
	TransactionID string         `json:"transactionId"`
	Subscriber    map[string]any `json:"subscriber"`
	Status        string         `json:"status"`
	Jobs          []job          `json:"jobs"`
}

// notificationsOf waits until every message of the transaction has left
// pending and returns its notifications.
func notificationsOf(t *testing.T, e *heraldtest.Env, tx string, want int) []notification {
	var list []notification
	e.Eventually(15*time.Second, "notifications of "+tx, func() bool {
		var page struct {
			Data []notification `json:"data"`
		}
		e.Request("GET", "/v1/notifications?transactionId="+tx, nil).Must(t, 200).Decode(t, &page)
		if len(page.Data) != want {
			return false
		}
		for _, n := range page.Data {
			if n.Status == "pending" || len(n.Jobs) == 0 {
				return false
			}
		}
		list = page.Data
		return true
	})
	return list
}

func details(j job) []string {
	var out []string
	for _, d := range j.ExecutionDetails {
		out = append(out, d.Detail+"/"+d.Status)
	}
	return out
}

func TestEndToEndDelivery(t *testing.T) {
	e, fake := setup(t)
	hookPath := "/services/T0AAA/B0BBB/secretTOKEN1"
	addSubscriber(t, e, "ada", fake.URL+hookPath)
	trigger(t, e, "tx-e2e", "ada")

	list := notificationsOf(t, e, "tx-e2e", 1)
	time.Sleep(300 * time.Millisecond) // a duplicate send would show up here
	reqs := fake.requests(hookPath)
	if len(reqs) != 1 {
		t.Fatalf("fake Slack got %d requests, want exactly 1: %v", len(reqs), reqs)
	}
	got := reqs[0]
	if got["text"] != "Hi Ada: Looks good" {
		t.Fatalf("text %v", got)
	}
	blocks, _ := got["blocks"].([]any)
	if len(blocks) != 1 || blocks[0].(map[string]any)["text"].(map[string]any)["text"] != "*Review* by Grace" {
		t.Fatalf("blocks %v", got)
	}

	n := list[0]
	if n.Status != "sent" || len(n.Jobs) != 1 || n.Jobs[0].Status != "completed" || n.Subscriber["subscriberId"] != "ada" {
		t.Fatalf("notification %+v", n)
	}
	want := []string{"Step created/Pending", "Step queued/Queued", "Start sending message/Pending",
		"Integration instance selected/Pending", "Message created/Pending", "Message sent/Success"}
	if got := details(n.Jobs[0]); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("details %v, want %v", got, want)
	}
	if raw := n.Jobs[0].ExecutionDetails[5].Raw; !strings.Contains(raw, "200") || !strings.Contains(raw, "ok") {
		t.Fatalf("Message sent raw %q", raw)
	}

	msgs := e.Request("GET", "/v1/messages?channel=chat&subscriberId=ada&transactionId=tx-e2e", nil).Must(t, 200)
	var mp struct {
		TotalCount int              `json:"totalCount"`
		Data       []map[string]any `json:"data"`
	}
	msgs.Decode(t, &mp)
	if mp.TotalCount != 1 || mp.Data[0]["status"] != "sent" || mp.Data[0]["content"] != "Hi Ada: Looks good" || mp.Data[0]["providerId"] != "slack" {
		t.Fatalf("messages %s", msgs.Body)
	}
	ed := e.Request("GET", "/v1/execution-details?notificationId="+n.ID+"&subscriberId=ada", nil).Must(t, 200)
	if flat := ed.Data().([]any); len(flat) != 6 || flat[5].(map[string]any)["detail"] != "Message sent" || flat[5].(map[string]any)["transactionId"] != "tx-e2e" {
		t.Fatalf("execution details %s", ed.Body)
	}
	e.Request("GET", "/v1/notifications/"+n.ID, nil).Must(t, 200)
	for _, r := range []*heraldtest.Response{msgs, ed, e.Request("GET", "/v1/notifications/"+n.ID, nil), e.Request("GET", "/v1/subscribers/ada", nil)} {
		if strings.Contains(string(r.Body), "secretTOKEN1") {
			t.Fatalf("response reveals the webhook URL: %s", r.Body)
		}
	}
	if strings.Contains(e.Logs.String(), "secretTOKEN1") {
		t.Fatal("logs reveal the webhook URL")
	}

	t.Run("filters", func(t *testing.T) {
		for q, want := range map[string]float64{
			"status=sent&transactionId=tx-e2e": 1, "status=error&transactionId=tx-e2e": 0,
			"subscriberIds=ada": 1, "subscriberIds[]=nobody": 0, "channels=chat": 1,
		} {
			if got := e.Request("GET", "/v1/notifications?"+q, nil).Must(t, 200).JSON()["totalCount"]; got != want {
				t.Errorf("%s: totalCount %v, want %v", q, got, want)
			}
		}
	})
	t.Run("delete message", func(t *testing.T) {
		id := mp.Data[0]["_id"].(string)
		e.Request("DELETE", "/v1/messages/"+id, nil).Must(t, 200)
		e.Request("DELETE", "/v1/messages/"+id, nil).Must(t, 404)
	})
}

func TestEndToEndFailures(t *testing.T) {
	e, fake := setup(t)
	gone := "/services/T0AAA/B0BBB/goneTOKEN"
	flaky := "/services/T0AAA/B0BBB/flakyTOKEN"
	fake.mu.Lock()
	fake.scripts[gone] = []answer{{404, "no_service"}}
	fake.scripts[flaky] = []answer{{503, "try later"}, {200, "ok"}}
	fake.mu.Unlock()
	addSubscriber(t, e, "bob", fake.URL+gone)
	addSubscriber(t, e, "dan", fake.URL+flaky)
	addSubscriber(t, e, "carl", "")
	trigger(t, e, "tx-fail", []any{"bob", "carl", "dan"})

	list := notificationsOf(t, e, "tx-fail", 3)
	by := map[string]notification{}
	for _, n := range list {
		by[n.Subscriber["subscriberId"].(string)] = n
	}

	bob := by["bob"]
	if bob.Status != "error" || bob.Jobs[0].Status != "failed" {
		t.Fatalf("bob %+v", bob)
	}
	last := bob.Jobs[0].ExecutionDetails[len(bob.Jobs[0].ExecutionDetails)-1]
	if last.Detail != "Unexpected provider error" || last.Status != "Failed" || !strings.Contains(last.Raw, "404") || !strings.Contains(last.Raw, "no_service") {
		t.Fatalf("bob's last detail %+v", last)
	}
	msgs := e.Request("GET", "/v1/messages?subscriberId=bob", nil).Must(t, 200).JSON()["data"].([]any)
	if m := msgs[0].(map[string]any); m["status"] != "error" || !strings.Contains(m["errorText"].(string), "no_service") {
		t.Fatalf("bob's message %v", m)
	}
	sub := e.Request("GET", "/v1/subscribers/bob", nil).Must(t, 200).Data().(map[string]any)
	if ch := sub["channels"].([]any)[0].(map[string]any); ch["status"] != "needs_reconnect" {
		t.Fatalf("bob's channel %v", ch)
	}

	carl := by["carl"]
	if got := details(carl.Jobs[0]); carl.Status != "error" || strings.Join(got, ",") != "Step created/Pending,Subscriber does not have an active integration/Failed" {
		t.Fatalf("carl %v %v", carl.Status, got)
	}

	dan := by["dan"]
	if dan.Status != "sent" {
		t.Fatalf("dan %+v", dan)
	}
	var failedFirst, retried bool
	for _, d := range dan.Jobs[0].ExecutionDetails {
		if d.Detail == "Unexpected provider error" && !d.IsRetry && strings.Contains(d.Raw, "503") {
			failedFirst = true
		}
		if d.Detail == "Message sent" && d.IsRetry {
			retried = true
		}
	}
	if !failedFirst || !retried {
		t.Fatalf("dan's details %v", dan.Jobs[0].ExecutionDetails)
	}
	if n := len(fake.requests(flaky)); n != 2 {
		t.Fatalf("flaky webhook got %d requests, want 2", n)
	}
	// A permanent failure is not retried: still one request after the
	// first retry delay has passed.
	time.Sleep(1500 * time.Millisecond)
	if n := len(fake.requests(gone)); n != 1 {
		t.Fatalf("gone webhook got %d requests, want exactly 1", n)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.failures) > 0 {
		t.Fatalf("malformed requests: %v", fake.failures)
	}
}
