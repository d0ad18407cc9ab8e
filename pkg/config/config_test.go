package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) Getenv { return func(k string) string { return m[k] } }

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 3000 || c.DataDir != "./data" || c.MongoDatabase != "herald" {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if c.PublicURL != "http://localhost:3000" {
		t.Fatalf("PublicURL = %q", c.PublicURL)
	}
	if c.SlackAPIURL != "https://slack.com/api/" || c.SlackAuthorizeURL != "https://slack.com/oauth/v2/authorize" {
		t.Fatalf("slack urls: %q %q", c.SlackAPIURL, c.SlackAuthorizeURL)
	}
	if c.CacheTTL != 5*time.Second {
		t.Fatalf("CacheTTL = %v", c.CacheTTL)
	}
	if c.SubscriberCacheTTL != time.Minute {
		t.Fatalf("SubscriberCacheTTL = %v", c.SubscriberCacheTTL)
	}
	for v, want := range map[string]time.Duration{"off": 0, "0": 0, "30s": 30 * time.Second} {
		c, err := Load(env(map[string]string{"HERALD_SUBSCRIBER_CACHE_TTL": v}))
		if err != nil || c.SubscriberCacheTTL != want {
			t.Fatalf("HERALD_SUBSCRIBER_CACHE_TTL=%s: %v %v", v, c.SubscriberCacheTTL, err)
		}
	}
	if _, err := Load(env(map[string]string{"HERALD_SUBSCRIBER_CACHE_TTL": "soon"})); err == nil || !strings.Contains(err.Error(), "HERALD_SUBSCRIBER_CACHE_TTL") {
		t.Fatalf("bad HERALD_SUBSCRIBER_CACHE_TTL accepted: %v", err)
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	_, err := Load(env(map[string]string{
		"PORT":                  "seventy",
		"LOG_LEVEL":             "loud",
		"HERALD_ENCRYPTION_KEY": "short",
		"HERALD_PUBLIC_URL":     "not a url",
		"HERALD_CACHE_TTL":      "-1s",
	}))
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{"PORT", "LOG_LEVEL", "HERALD_ENCRYPTION_KEY", "HERALD_PUBLIC_URL", "HERALD_CACHE_TTL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "short") {
		t.Errorf("error leaks the encryption key: %v", err)
	}
}

func TestPublicURLFollowsPort(t *testing.T) {
	c, err := Load(env(map[string]string{"PORT": "8080"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.PublicURL != "http://localhost:8080" {
		t.Fatalf("PublicURL = %q", c.PublicURL)
	}
}

func TestRequireServers(t *testing.T) {
	c, _ := Load(env(nil))
	err := c.RequireServers()
	for _, want := range []string{"MONGODB_URI", "REDIS_URL", "HERALD_ENCRYPTION_KEY"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("RequireServers does not report %s: %v", want, err)
		}
	}
}

func TestPrivateTargets(t *testing.T) {
	cases := []struct {
		v                      string
		loopback, private, set bool
		bad                    bool
	}{
		{"", false, false, false, false},
		{"loopback", true, false, true, false},
		{"true", true, true, true, false},
		{"false", false, false, true, false},
		{"maybe", false, false, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.v, func(t *testing.T) {
			c, err := Load(env(map[string]string{"HERALD_ALLOW_PRIVATE_TARGETS": tc.v}))
			if (err != nil) != tc.bad {
				t.Fatalf("err = %v", err)
			}
			p := c.TargetPolicy()
			if p.AllowLoopback != tc.loopback || p.AllowPrivate != tc.private || c.PrivateTargetsSet != tc.set {
				t.Fatalf("policy %+v set=%v", p, c.PrivateTargetsSet)
			}
		})
	}
	c, _ := Load(env(map[string]string{"SLACK_WEBHOOK_HOSTS": "hooks.slack.com, .hooks.example.com"}))
	if len(c.SlackWebhookHosts) != 2 || c.SlackWebhookHosts[1] != ".hooks.example.com" {
		t.Fatalf("hosts %v", c.SlackWebhookHosts)
	}
}

func TestLoadDeliveryPolicy(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.RetrySchedule.String() != "5s,30s,2m0s,10m0s,30m0s,1h0m0s,3h0m0s,6h0m0s" {
		t.Fatalf("default schedule %v", c.RetrySchedule)
	}
	if c.WebhookRate.Rate != 1 || c.WebhookRate.Period != time.Second || c.WebhookRate.Burst != 3 || !c.TriggerRateLimit.IsZero() {
		t.Fatalf("default rates %v %v", c.WebhookRate, c.TriggerRateLimit)
	}
	c, err = Load(env(map[string]string{
		"HERALD_RETRY_SCHEDULE": "200ms, 1s", "HERALD_WEBHOOK_RATE": "off",
		"HERALD_TRIGGER_RATE_LIMIT": "100/m", "HERALD_TRIGGER_BURST": "20",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.RetrySchedule.String() != "200ms,1s" || !c.WebhookRate.IsZero() || c.TriggerRateLimit.Rate != 100 || c.TriggerRateLimit.Burst != 20 {
		t.Fatalf("got %v %v %v", c.RetrySchedule, c.WebhookRate, c.TriggerRateLimit)
	}
	if c, err = Load(env(map[string]string{"HERALD_RETRY_SCHEDULE": "none"})); err != nil || len(c.RetrySchedule) != 0 {
		t.Fatalf("none: %v %v", c.RetrySchedule, err)
	}
	_, err = Load(env(map[string]string{"HERALD_RETRY_SCHEDULE": "5s,soon", "HERALD_WEBHOOK_RATE": "fast"}))
	if err == nil || !strings.Contains(err.Error(), "HERALD_RETRY_SCHEDULE") || !strings.Contains(err.Error(), "HERALD_WEBHOOK_RATE") {
		t.Fatalf("want both problems, got %v", err)
	}
}
