package delivery_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/herald/heraldtest"
	"github.com/heraldhq/herald/pkg/notify"
)

// recorder is a fake Slack sender remembering what it was asked to send.
type recorder struct {
	mu   sync.Mutex
	sent []notify.Message
}

func (r *recorder) Send(_ context.Context, m notify.Message) (notify.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, m)
	return notify.Result{StatusCode: 200, Body: "ok"}, nil
}

func (r *recorder) all() []notify.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Message(nil), r.sent...)
}

func (r *recorder) count() int { return len(r.all()) }

const hook = "https://hooks.example/T/B/one"

// stepsEnv runs Herald with a worker whose Slack sender records, one Slack
// integration and subscriber s1 (data.plan "pro") connected to it.
func stepsEnv(t *testing.T) (*heraldtest.Env, *recorder) {
	t.Helper()
	e := heraldtest.New(t)
	rec := &recorder{}
	e.StartWorker(map[string]notify.Sender{"slack": rec})
	e.Request("POST", "/v1/integrations", map[string]any{"providerId": "slack", "channel": "chat", "active": true, "credentials": map[string]any{}}).Must(t, 201)
	e.Request("POST", "/v1/subscribers", map[string]any{"subscriberId": "s1", "firstName": "Ada", "data": map[string]any{"plan": "pro"}}).Must(t, 201)
	e.Request("PUT", "/v1/subscribers/s1/credentials", map[string]any{"providerId": "slack", "credentials": map[string]any{"webhookUrl": hook}}).Must(t, 200)
	return e, rec
}

func chat(content string, extra map[string]any) map[string]any {
	s := map[string]any{"template": map[string]any{"type": "chat", "content": content}}
	for k, v := range extra {
		s[k] = v
	}
	return s
}

func workflowWith(t *testing.T, e *heraldtest.Env, name string, steps ...any) {
	t.Helper()
	e.Request("POST", "/v1/workflows", map[string]any{"name": name, "steps": steps}).Must(t, http.StatusCreated)
}

func trigger(t *testing.T, e *heraldtest.Env, name, tx string, payload map[string]any) {
	t.Helper()
	e.Request("POST", "/v1/events/trigger", map[string]any{"name": name, "to": "s1", "transactionId": tx, "payload": payload}).Must(t, http.StatusCreated)
}

// messagesOf returns the transaction's messages (oldest first), with their details.
func messagesOf(t *testing.T, e *heraldtest.Env, tx string) []delivery.Message {
	t.Helper()
	list, _, err := e.Services.Deliveries.ListMessages(context.Background(), e.Environment.ID, delivery.MessageFilter{TransactionIDs: []string{tx}}, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(list)-1; i < j; i, j = i+1, j-1 {
		list[i], list[j] = list[j], list[i]
	}
	return list
}

func byStep(ms []delivery.Message) map[string]delivery.Message {
	out := map[string]delivery.Message{}
	for _, m := range ms {
		out[m.StepName] = m
	}
	return out
}

func detail(m delivery.Message, text string) *delivery.Detail {
	for i := range m.ExecutionDetails {
		if m.ExecutionDetails[i].Detail == text {
			return &m.ExecutionDetails[i]
		}
	}
	return nil
}

func waitSteps(t *testing.T, e *heraldtest.Env, tx string, n int, settled func(delivery.Message) bool) []delivery.Message {
	t.Helper()
	var ms []delivery.Message
	e.Eventually(15*time.Second, fmt.Sprintf("%d settled messages of %s", n, tx), func() bool {
		ms = messagesOf(t, e, tx)
		if len(ms) != n {
			return false
		}
		for _, m := range ms {
			if !settled(m) {
				return false
			}
		}
		return true
	})
	return ms
}

func notPending(m delivery.Message) bool { return m.Status != delivery.StatusPending }

func TestStepFilters(t *testing.T) {
	e, rec := stepsEnv(t)
	cond := func(on, field, op string, value any) map[string]any {
		return map[string]any{"on": on, "field": field, "operator": op, "value": value}
	}
	group := func(value string, negated bool, children ...any) []any {
		return []any{map[string]any{"isNegated": negated, "type": "GROUP", "value": value, "children": children}}
	}
	workflowWith(t, e, "filtered",
		chat("A {{tier}}", map[string]any{"name": "and", "filters": group("AND", false,
			cond("payload", "tier", "EQUAL", "gold"), cond("subscriber", "data.plan", "IN", []any{"pro", "enterprise"}))}),
		chat("B {{tier}}", map[string]any{"name": "or", "filters": group("OR", false,
			cond("payload", "amount", "LARGER", 100), cond("payload", "tier", "EQUAL", "silver"))}),
		chat("C {{tier}}", map[string]any{"name": "not-eu", "filters": group("AND", true, cond("payload", "region", "LIKE", "EU"))}),
		chat("D {{tier}}", map[string]any{"name": "always"}),
	)

	trigger(t, e, "filtered", "f1", map[string]any{"tier": "gold", "amount": 50, "region": "eu-west"})
	ms := byStep(waitSteps(t, e, "f1", 4, notPending))
	for name, want := range map[string]string{"and": delivery.StatusSent, "or": delivery.StatusCanceled, "not-eu": delivery.StatusCanceled, "always": delivery.StatusSent} {
		if ms[name].Status != want {
			t.Errorf("f1 step %s: status %s, want %s", name, ms[name].Status, want)
		}
	}
	d := detail(ms["or"], delivery.TextStepFiltered)
	if d == nil || !strings.Contains(d.Raw, `"passed":false`) || !strings.Contains(d.Raw, "payload.amount LARGER 100 (actual 50)") {
		t.Fatalf("filtered detail: %+v", ms["or"].ExecutionDetails)
	}
	if detail(ms["and"], delivery.TextStepFiltered) != nil {
		t.Fatalf("a passing step was recorded as filtered")
	}

	trigger(t, e, "filtered", "f2", map[string]any{"tier": "silver", "amount": 500, "region": "us-east"})
	ms = byStep(waitSteps(t, e, "f2", 4, notPending))
	for name, want := range map[string]string{"and": delivery.StatusCanceled, "or": delivery.StatusSent, "not-eu": delivery.StatusSent, "always": delivery.StatusSent} {
		if ms[name].Status != want {
			t.Errorf("f2 step %s: status %s, want %s", name, ms[name].Status, want)
		}
	}
	e.Eventually(5*time.Second, "5 sends", func() bool { return rec.count() == 5 })
	var texts []string
	for _, m := range rec.all() {
		texts = append(texts, m.Text)
	}
	got := strings.Join(texts, ",")
	for _, want := range []string{"A gold", "D gold", "B silver", "C silver", "D silver"} {
		if !strings.Contains(got, want) {
			t.Fatalf("sent %q, missing %q", got, want)
		}
	}
	// The delivery log shows the filtered job as canceled.
	page := e.Request("GET", "/v1/notifications?transactionId=f1", nil).Must(t, 200).JSON()
	if !strings.Contains(fmt.Sprint(page["data"]), "status:canceled") {
		t.Fatalf("notification jobs: %v", page["data"])
	}
}

func TestDelayStep(t *testing.T) {
	e, rec := stepsEnv(t)
	workflowWith(t, e, "later",
		map[string]any{"template": map[string]any{"type": "delay"}, "metadata": map[string]any{"amount": 2, "unit": "seconds", "type": "regular"}},
		chat("later {{n}}", map[string]any{"name": "chat"}),
	)
	start := time.Now()
	trigger(t, e, "later", "d1", map[string]any{"n": 1})
	ms := waitSteps(t, e, "d1", 1, func(delivery.Message) bool { return true })
	if ms[0].Status != delivery.StatusPending || detail(ms[0], delivery.TextStepDelayed) == nil ||
		!strings.Contains(detail(ms[0], delivery.TextStepDelayed).Raw, `"until"`) {
		t.Fatalf("delayed message: %+v", ms[0])
	}
	time.Sleep(300 * time.Millisecond)
	if rec.count() != 0 {
		t.Fatalf("sent before the delay elapsed")
	}
	e.Eventually(10*time.Second, "the delayed send", func() bool { return rec.count() == 1 })
	el := time.Since(start)
	if el < time.Second {
		t.Fatalf("sent after %v, before the 2s delay", el)
	}
	t.Logf("2s delay: sent %v after the trigger", el.Round(10*time.Millisecond))
	if got := rec.all()[0].Text; got != "later 1" {
		t.Fatalf("text %q", got)
	}
	waitSteps(t, e, "d1", 1, func(m delivery.Message) bool { return m.Status == delivery.StatusSent })
}

func TestScheduledDelay(t *testing.T) {
	e, rec := stepsEnv(t)
	workflowWith(t, e, "at",
		map[string]any{"template": map[string]any{"type": "delay"}, "metadata": map[string]any{"type": "scheduled", "delayPath": "sendAt"}},
		chat("at {{n}}", map[string]any{"name": "chat"}),
	)
	t.Run("missing or invalid date fails the step", func(t *testing.T) {
		trigger(t, e, "at", "bad-1", map[string]any{"n": 1})
		trigger(t, e, "at", "bad-2", map[string]any{"n": 2, "sendAt": "next tuesday"})
		for _, tx := range []string{"bad-1", "bad-2"} {
			m := waitSteps(t, e, tx, 1, notPending)[0]
			d := detail(m, delivery.TextDelayFailed)
			if m.Status != delivery.StatusError || d == nil || d.Status != delivery.DetailFailed || !strings.Contains(d.Raw, "payload.sendAt") {
				t.Fatalf("%s: %+v", tx, m)
			}
		}
	})
	t.Run("date in the payload", func(t *testing.T) {
		start := time.Now()
		at := start.Add(2 * time.Second).UTC().Format(time.RFC3339Nano)
		trigger(t, e, "at", "ok-1", map[string]any{"n": 3, "sendAt": at})
		m := waitSteps(t, e, "ok-1", 1, func(delivery.Message) bool { return true })[0]
		if m.Status != delivery.StatusPending || detail(m, delivery.TextStepDelayed) == nil {
			t.Fatalf("scheduled message: %+v", m)
		}
		time.Sleep(300 * time.Millisecond)
		if rec.count() != 0 {
			t.Fatalf("sent before the scheduled date")
		}
		e.Eventually(10*time.Second, "the scheduled send", func() bool { return rec.count() == 1 })
		if el := time.Since(start); el < time.Second || rec.all()[0].Text != "at 3" {
			t.Fatalf("sent %q after %v", rec.all()[0].Text, el)
		}
	})
}

func TestDigestStep(t *testing.T) {
	e, rec := stepsEnv(t)
	workflowWith(t, e, "digest",
		map[string]any{"template": map[string]any{"type": "digest"}, "metadata": map[string]any{"amount": 2, "unit": "seconds"}},
		chat("{{step.total_count}} events:{{#each step.events}} {{name}}{{/each}} digest={{step.digest}}", map[string]any{"name": "chat"}),
	)
	start := time.Now()
	for i := 1; i <= 5; i++ {
		trigger(t, e, "digest", fmt.Sprintf("g%d", i), map[string]any{"name": fmt.Sprintf("e%d", i)})
		time.Sleep(5 * time.Millisecond) // distinct acceptance times order the events
	}
	e.Eventually(15*time.Second, "the digest", func() bool { return rec.count() >= 1 })
	t.Logf("2s digest window: sent %v after the first event", time.Since(start).Round(10*time.Millisecond))
	time.Sleep(1500 * time.Millisecond)
	sent := rec.all()
	if len(sent) != 1 {
		t.Fatalf("%d messages sent, want 1 digest", len(sent))
	}
	text := sent[0].Text
	if !strings.HasPrefix(text, "5 events:") || !strings.Contains(text, "digest=true") {
		t.Fatalf("digest text %q", text)
	}
	for i := 1; i <= 5; i++ {
		if !strings.Contains(text, fmt.Sprintf(" e%d", i)) {
			t.Fatalf("digest text %q misses e%d", text, i)
		}
	}
	leader := waitSteps(t, e, "g1", 1, notPending)[0]
	if leader.Status != delivery.StatusSent || detail(leader, delivery.TextStartDigesting) == nil ||
		detail(leader, delivery.TextDigestTriggered) == nil || !strings.Contains(detail(leader, delivery.TextDigestTriggered).Raw, `"total_count":5`) {
		t.Fatalf("digest message: %+v", leader)
	}
	for i := 2; i <= 5; i++ {
		m := waitSteps(t, e, fmt.Sprintf("g%d", i), 1, notPending)[0]
		if m.Status != delivery.StatusMerged || detail(m, delivery.TextDigestMerged) == nil {
			t.Fatalf("event %d: %+v", i, m)
		}
	}
}

func TestDigestKey(t *testing.T) {
	e, rec := stepsEnv(t)
	workflowWith(t, e, "per-post",
		map[string]any{"template": map[string]any{"type": "digest"}, "metadata": map[string]any{"amount": 2, "unit": "seconds", "digestKey": "postId"}},
		chat("{{postId}}:{{step.total_count}}", map[string]any{"name": "chat"}),
	)
	for i, post := range []string{"p1", "p2", "p1", "p1", "p2"} {
		trigger(t, e, "per-post", fmt.Sprintf("k%d", i), map[string]any{"postId": post})
	}
	e.Eventually(15*time.Second, "two digests", func() bool { return rec.count() >= 2 })
	time.Sleep(1500 * time.Millisecond)
	var texts []string
	for _, m := range rec.all() {
		texts = append(texts, m.Text)
	}
	got := strings.Join(texts, ",")
	if len(texts) != 2 || !strings.Contains(got, "p1:3") || !strings.Contains(got, "p2:2") {
		t.Fatalf("sent %q", got)
	}
}

func TestCancelDelayed(t *testing.T) {
	e, rec := stepsEnv(t)
	workflowWith(t, e, "later",
		map[string]any{"template": map[string]any{"type": "delay"}, "metadata": map[string]any{"amount": 2, "unit": "seconds"}},
		chat("later", map[string]any{"name": "chat"}),
	)
	trigger(t, e, "later", "c1", nil)
	waitSteps(t, e, "c1", 1, func(delivery.Message) bool { return true })
	if r := e.Request("DELETE", "/v1/events/trigger/c1", nil).Must(t, 200); r.Data() != true {
		t.Fatalf("first cancel: %s", r.Body)
	}
	if r := e.Request("DELETE", "/v1/events/trigger/c1", nil).Must(t, 200); r.Data() != false {
		t.Fatalf("second cancel: %s", r.Body)
	}
	if r := e.Request("DELETE", "/v1/events/trigger/unknown-tx", nil).Must(t, 200); r.Data() != false {
		t.Fatalf("unknown transaction: %s", r.Body)
	}
	m := messagesOf(t, e, "c1")[0]
	if m.Status != delivery.StatusCanceled || detail(m, delivery.TextStepCanceled) == nil {
		t.Fatalf("canceled message: %+v", m)
	}
	page := e.Request("GET", "/v1/notifications?status=canceled", nil).Must(t, 200).JSON()
	notes, _ := page["data"].([]any)
	if len(notes) != 1 || notes[0].(map[string]any)["transactionId"] != "c1" || notes[0].(map[string]any)["status"] != "canceled" {
		t.Fatalf("canceled notifications: %v", page)
	}
	// A control trigger with the same delay is sent: the worker was running.
	trigger(t, e, "later", "c2", nil)
	e.Eventually(10*time.Second, "the control send", func() bool { return rec.count() == 1 })
	time.Sleep(500 * time.Millisecond)
	if rec.count() != 1 {
		t.Fatalf("the canceled message was sent")
	}
	// Another environment's key cannot cancel it.
	e.RequestWithKey("DELETE", "/v1/events/trigger/c2", nil, "").Must(t, http.StatusUnauthorized)
}

func TestCancelDigestedEvent(t *testing.T) {
	e, rec := stepsEnv(t)
	workflowWith(t, e, "digest",
		map[string]any{"template": map[string]any{"type": "digest"}, "metadata": map[string]any{"amount": 2, "unit": "seconds"}},
		chat("{{step.total_count}}:{{#each step.events}}{{name}} {{/each}}", map[string]any{"name": "chat"}),
	)
	for i := 1; i <= 3; i++ {
		trigger(t, e, "digest", fmt.Sprintf("x%d", i), map[string]any{"name": fmt.Sprintf("e%d", i)})
		time.Sleep(5 * time.Millisecond) // distinct acceptance times order the events
	}
	for i := 1; i <= 3; i++ {
		waitSteps(t, e, fmt.Sprintf("x%d", i), 1, func(delivery.Message) bool { return true })
	}
	// Cancel the first event, the one that opened the window.
	if r := e.Request("DELETE", "/v1/events/trigger/x1", nil).Must(t, 200); r.Data() != true {
		t.Fatalf("cancel: %s", r.Body)
	}
	e.Eventually(15*time.Second, "the digest", func() bool { return rec.count() >= 1 })
	time.Sleep(time.Second)
	sent := rec.all()
	if len(sent) != 1 || sent[0].Text != "2:e2 e3 " {
		t.Fatalf("sent %+v", sent)
	}
	if m := messagesOf(t, e, "x1")[0]; m.Status != delivery.StatusCanceled {
		t.Fatalf("canceled event: %+v", m)
	}
	if r := e.Request("DELETE", "/v1/events/trigger/x2", nil).Must(t, 200); r.Data() != false {
		t.Fatalf("cancel after sending: %s", r.Body)
	}
}

func TestBlockKitLimitsAfterRendering(t *testing.T) {
	e, rec := stepsEnv(t)
	workflowWith(t, e, "blocks", map[string]any{"name": "chat", "template": map[string]any{"type": "chat", "content": "fallback",
		"blocks": []any{map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "{{body}}"}}}}})
	trigger(t, e, "blocks", "b1", map[string]any{"body": strings.Repeat("a", 3001)})
	many := make([]any, 51)
	for i := range many {
		many[i] = map[string]any{"type": "divider"}
	}
	e.Request("POST", "/v1/events/trigger", map[string]any{"name": "blocks", "to": "s1", "transactionId": "b2", "payload": map[string]any{"body": "ok"},
		"overrides": map[string]any{"chat": map[string]any{"blocks": many}}}).Must(t, 201)
	trigger(t, e, "blocks", "b3", map[string]any{"body": "fine"})
	for tx, want := range map[string]string{"b1": "blocks[0].text.text is 3001 characters; Slack allows 3000", "b2": "blocks has 51 blocks; Slack allows 50"} {
		m := waitSteps(t, e, tx, 1, notPending)[0]
		d := detail(m, delivery.TextBlockKitViolated)
		if m.Status != delivery.StatusError || d == nil || d.Status != delivery.DetailFailed || !strings.Contains(d.Raw, want) {
			t.Fatalf("%s: %+v", tx, m)
		}
	}
	e.Eventually(10*time.Second, "the valid message", func() bool { return rec.count() == 1 })
	time.Sleep(300 * time.Millisecond)
	if sent := rec.all(); len(sent) != 1 || !strings.Contains(string(sent[0].Blocks), "fine") {
		t.Fatalf("sender called for invalid blocks: %+v", sent)
	}
}

func TestChatStepsPinnedToIntegrations(t *testing.T) {
	e := heraldtest.New(t)
	rec := &recorder{}
	e.StartWorker(map[string]notify.Sender{"slack": rec})
	hooks := map[string]string{"team-a": "https://hooks.example/T/A/a", "team-b": "https://hooks.example/T/B/b"}
	for id := range hooks {
		e.Request("POST", "/v1/integrations", map[string]any{"providerId": "slack", "channel": "chat", "active": true, "identifier": id, "name": id, "credentials": map[string]any{}}).Must(t, 201)
	}
	e.Request("POST", "/v1/subscribers", map[string]any{"subscriberId": "s1"}).Must(t, 201)
	for id, h := range hooks {
		e.Request("PUT", "/v1/subscribers/s1/credentials", map[string]any{"providerId": "slack", "integrationIdentifier": id, "credentials": map[string]any{"webhookUrl": h}}).Must(t, 200)
	}
	workflowWith(t, e, "two",
		chat("to A", map[string]any{"name": "a", "integrationIdentifier": "team-a"}),
		chat("to B", map[string]any{"name": "b", "providerId": "slack", "integrationIdentifier": "team-b"}),
	)
	trigger(t, e, "two", "p1", nil)
	e.Eventually(10*time.Second, "two sends", func() bool { return rec.count() == 2 })
	got := map[string]string{}
	for _, m := range rec.all() {
		got[m.WebhookURL.Reveal()] = m.Text
	}
	if got[hooks["team-a"]] != "to A" || got[hooks["team-b"]] != "to B" {
		t.Fatalf("webhook → text: %v", got)
	}
	ms := byStep(waitSteps(t, e, "p1", 2, notPending))
	if ms["a"].IntegrationIdentifier != "team-a" || ms["b"].IntegrationIdentifier != "team-b" {
		t.Fatalf("messages: %+v", ms)
	}
}

// Redelivered trigger and digest tasks neither add an event twice nor send
// a digest twice.
func TestDigestRedelivery(t *testing.T) {
	e := heraldtest.New(t)
	s := e.Services
	rec := &recorder{}
	w := delivery.NewWorker(delivery.WorkerDeps{
		Logger: s.Logger, Queue: s.Queue, Workflows: s.Workflows, Subscribers: s.Subscribers,
		Integrations: s.Integrations, Log: s.Deliveries, Cipher: s.Cipher, Templates: s.Templates,
		Senders: map[string]notify.Sender{"slack": rec}, Redis: s.Redis,
	})
	e.Request("POST", "/v1/integrations", map[string]any{"providerId": "slack", "channel": "chat", "active": true, "credentials": map[string]any{}}).Must(t, 201)
	e.Request("POST", "/v1/subscribers", map[string]any{"subscriberId": "s1"}).Must(t, 201)
	e.Request("PUT", "/v1/subscribers/s1/credentials", map[string]any{"providerId": "slack", "credentials": map[string]any{"webhookUrl": hook}}).Must(t, 200)
	workflowWith(t, e, "digest",
		map[string]any{"template": map[string]any{"type": "digest"}, "metadata": map[string]any{"amount": 1, "unit": "minutes"}},
		chat("{{step.total_count}}", map[string]any{"name": "chat"}),
	)
	trigger(t, e, "digest", "r1", map[string]any{"n": 1})
	time.Sleep(5 * time.Millisecond)
	trigger(t, e, "digest", "r2", map[string]any{"n": 2})

	insp := asynq.NewInspector(s.QueueRedis)
	defer insp.Close()
	triggers, err := insp.ListPendingTasks(delivery.QueueTrigger)
	if err != nil || len(triggers) != 2 {
		t.Fatalf("trigger tasks %v %v", triggers, err)
	}
	ctx := context.Background()
	for round := 0; round < 2; round++ {
		for _, ti := range triggers {
			if err := w.HandleTrigger(ctx, asynq.NewTask(ti.Type, ti.Payload)); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
	digests, err := insp.ListScheduledTasks(delivery.QueueTrigger)
	if err != nil || len(digests) != 1 || digests[0].Type != delivery.TypeDigest {
		t.Fatalf("scheduled digests %v %v", digests, err)
	}
	if at := digests[0].NextProcessAt; time.Until(at) < 30*time.Second {
		t.Fatalf("digest scheduled at %v, want the window's end about a minute ahead", at)
	}
	task := asynq.NewTask(digests[0].Type, digests[0].Payload)
	for round := 0; round < 2; round++ {
		if err := w.HandleDigest(ctx, task); err != nil {
			t.Fatalf("digest round %d: %v", round, err)
		}
	}
	pending, err := insp.ListPendingTasks(delivery.QueueDeliver)
	if err != nil || len(pending) != 1 {
		t.Fatalf("deliver tasks after two digest runs: %d %v", len(pending), err)
	}
	if err := w.HandleDeliver(ctx, asynq.NewTask(pending[0].Type, pending[0].Payload)); err != nil {
		t.Fatal(err)
	}
	if sent := rec.all(); len(sent) != 1 || sent[0].Text != "2" {
		t.Fatalf("sent %+v", sent)
	}
	leader := messagesOf(t, e, "r1")[0]
	merged := messagesOf(t, e, "r2")[0]
	if leader.Status != delivery.StatusSent || merged.Status != delivery.StatusMerged {
		t.Fatalf("statuses %s %s", leader.Status, merged.Status)
	}
	n := 0
	for _, d := range leader.ExecutionDetails {
		if d.Detail == delivery.TextDigestTriggered {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("digest details recorded %d times: %+v", n, leader.ExecutionDetails)
	}
}
