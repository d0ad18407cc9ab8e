package faults_test

import (
	"strings"
	"testing"
	"time"
)

// TestWebhook500TwiceThen200: two 5xx answers are retried and the third
// attempt delivers the message once; the log shows both failures and the
// retried success.
func TestWebhook500TwiceThen200(t *testing.T) {
	rcv := newReceiver(t, func(_ string, n int) reply {
		if n < 2 {
			return reply{status: 500}
		}
		return reply{status: 200}
	})
	e := newEnv(t, baseEnv(), "", "")
	startWorker(e)
	setupWorkflow(t, e)
	start := time.Now()
	e.Request("POST", "/v1/events/trigger", triggerBody("tx-500", "m500", recipient("s500", rcv.URL+"/hook/500"))).Must(t, 201)
	accepted := []string{"m500/s500"}
	tl := waitDelivered(t, rcv, accepted, 30*time.Second)
	elapsed := time.Since(start)
	n := notificationOf(t, e, "tx-500", "sent", 15*time.Second)
	waitQueuesIdle(t, e, 15*time.Second)
	tl = rcv.tally(accepted)
	checkWellFormed(t, rcv, accepted)

	if got := len(rcv.requestTimes("/hook/500")); got != 3 || tl.duplicates != 0 {
		t.Fatalf("webhook got %d requests and %d duplicates, want 3 requests (500, 500, 200) and no duplicate", got, tl.duplicates)
	}
	var failed []bool // isRetry of each failed attempt
	sentRetry, sentAfterFailures := false, false
	for _, d := range n.Jobs[0].ExecutionDetails {
		switch {
		case d.Status == "Failed":
			if !strings.Contains(d.Raw, "500") {
				t.Errorf("failed attempt without its status code: %+v", d)
			}
			failed = append(failed, d.IsRetry)
		case d.Detail == "Message sent" && d.Status == "Success":
			sentRetry, sentAfterFailures = d.IsRetry, len(failed) == 2
		}
	}
	if len(failed) != 2 || failed[0] || !failed[1] || !sentRetry || !sentAfterFailures {
		t.Fatalf("details: want 2 failed attempts (the second a retry) then a retried success; got %+v", n.Jobs[0].ExecutionDetails)
	}
	t.Logf("FIGURES 500x2: %s requests=3 time_to_delivery=%v", tl, elapsed.Round(10*time.Millisecond))
}

// TestWebhook429RetryAfter: a 429 with Retry-After: 2 is retried no sooner
// than two seconds later, and the message is delivered once.
func TestWebhook429RetryAfter(t *testing.T) {
	rcv := newReceiver(t, func(_ string, n int) reply {
		if n == 0 {
			return reply{status: 429, header: map[string]string{"Retry-After": "2"}}
		}
		return reply{status: 200}
	})
	e := newEnv(t, baseEnv(), "", "")
	startWorker(e)
	setupWorkflow(t, e)
	e.Request("POST", "/v1/events/trigger", triggerBody("tx-429", "m429", recipient("s429", rcv.URL+"/hook/429"))).Must(t, 201)
	accepted := []string{"m429/s429"}
	waitDelivered(t, rcv, accepted, 30*time.Second)
	notificationOf(t, e, "tx-429", "sent", 15*time.Second)
	waitQueuesIdle(t, e, 15*time.Second)
	tl := rcv.tally(accepted)
	checkWellFormed(t, rcv, accepted)

	times := rcv.requestTimes("/hook/429")
	if len(times) != 2 || tl.duplicates != 0 {
		t.Fatalf("webhook got %d requests and %d duplicates, want 2 (429 then 200) and none", len(times), tl.duplicates)
	}
	gap := times[1].Sub(times[0])
	if gap < 2*time.Second {
		t.Fatalf("retried %v after the 429, before its Retry-After of 2s", gap)
	}
	t.Logf("FIGURES 429: %s retry_after=2s observed_gap=%v", tl, gap.Round(10*time.Millisecond))
}

// TestWebhookSlowerThanTimeout: the first request outlasts the provider
// timeout; the send is retried and delivered. The slow request did reach
// the receiver, so the message may arrive twice: the at-least-once
// duplicate is counted and reported.
func TestWebhookSlowerThanTimeout(t *testing.T) {
	rcv := newReceiver(t, func(_ string, n int) reply {
		if n == 0 {
			return reply{status: 200, delay: time.Second}
		}
		return reply{status: 200}
	})
	e := newEnv(t, baseEnv("HERALD_PROVIDER_TIMEOUT", "300ms"), "", "")
	startWorker(e)
	setupWorkflow(t, e)
	e.Request("POST", "/v1/events/trigger", triggerBody("tx-slow", "mslow", recipient("sslow", rcv.URL+"/hook/slow"))).Must(t, 201)
	accepted := []string{"mslow/sslow"}
	n := notificationOf(t, e, "tx-slow", "sent", 30*time.Second)
	waitDelivered(t, rcv, accepted, 10*time.Second)
	waitQueuesIdle(t, e, 15*time.Second)
	time.Sleep(1200 * time.Millisecond) // let the slow first request finish and be counted
	tl := rcv.tally(accepted)
	checkWellFormed(t, rcv, accepted)

	if got := len(rcv.requestTimes("/hook/slow")); got != 2 {
		t.Fatalf("webhook got %d requests, want 2 (the slow one and its retry)", got)
	}
	timedOut := false
	for _, d := range n.Jobs[0].ExecutionDetails {
		if d.Status == "Failed" && !d.IsRetry {
			timedOut = true
		}
	}
	if !timedOut {
		t.Fatalf("no failed first attempt in %+v", n.Jobs[0].ExecutionDetails)
	}
	if tl.duplicates != 1 {
		t.Fatalf("%s: the slow request was answered 200 after the sender gave up and the retry delivered again, so exactly one duplicate is expected", tl)
	}
	t.Logf("FIGURES slow-webhook: %s (the timed-out first request reached the receiver)", tl)
}
