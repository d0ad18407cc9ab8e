// Package heraldtest boots Herald's real API on real backends (testenv's
// FerretDB and Redis) behind an httptest server, with a fresh database and a
// bootstrapped environment per test, and gives tests a small HTTP client.
package heraldtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/environment"
	"github.com/heraldhq/herald/pkg/herald"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/ratelimit"
	"github.com/heraldhq/herald/pkg/retry"
	"github.com/heraldhq/herald/pkg/secret"
	"github.com/heraldhq/herald/pkg/testenv"
)

// Env is one test's running Herald.
type Env struct {
	T           testing.TB
	Config      config.Config
	Services    *herald.Services
	Server      *httptest.Server
	URL         string
	APIKey      string
	Environment *environment.Environment
	Logs        *SyncBuffer
	Client      *http.Client
}

// Option adjusts the configuration before Herald starts.
type Option func(*config.Config)

// WithEnv sets configuration as environment variables would.
func WithEnv(kv map[string]string) Option {
	return func(c *config.Config) {
		loaded, err := config.Load(func(k string) string { return kv[k] })
		if err != nil {
			panic(err)
		}
		*c = merge(*c, loaded, kv)
	}
}

// overridable maps each variable WithEnv may set to the fields it fills.
var overridable = map[string]func(dst *config.Config, src config.Config){
	"HERALD_PUBLIC_URL":         func(d *config.Config, s config.Config) { d.PublicURL = s.PublicURL },
	"SLACK_API_URL":             func(d *config.Config, s config.Config) { d.SlackAPIURL = s.SlackAPIURL },
	"SLACK_OAUTH_AUTHORIZE_URL": func(d *config.Config, s config.Config) { d.SlackAuthorizeURL = s.SlackAuthorizeURL },
	"HERALD_API_KEY":            func(d *config.Config, s config.Config) { d.APIKey = s.APIKey },
	"HERALD_ALLOW_PRIVATE_TARGETS": func(d *config.Config, s config.Config) {
		d.AllowPrivateTargets, d.AllowLoopbackTargets, d.PrivateTargetsSet = s.AllowPrivateTargets, s.AllowLoopbackTargets, s.PrivateTargetsSet
	},
	"SLACK_WEBHOOK_HOSTS":       func(d *config.Config, s config.Config) { d.SlackWebhookHosts = s.SlackWebhookHosts },
	"HERALD_RETRY_SCHEDULE":     func(d *config.Config, s config.Config) { d.RetrySchedule = s.RetrySchedule },
	"HERALD_WEBHOOK_RATE":       func(d *config.Config, s config.Config) { d.WebhookRate = s.WebhookRate },
	"HERALD_TRIGGER_RATE_LIMIT": func(d *config.Config, s config.Config) { d.TriggerRateLimit = s.TriggerRateLimit },
	"HERALD_SHUTDOWN_TIMEOUT":   func(d *config.Config, s config.Config) { d.ShutdownTimeout = s.ShutdownTimeout },
	"WORKER_CONCURRENCY":        func(d *config.Config, s config.Config) { d.WorkerConcurrency = s.WorkerConcurrency },
	"HERALD_PROVIDER_TIMEOUT":   func(d *config.Config, s config.Config) { d.ProviderTimeout = s.ProviderTimeout },
}

func merge(base, loaded config.Config, kv map[string]string) config.Config {
	for k := range kv {
		if apply := overridable[k]; apply != nil {
			apply(&base, loaded)
		}
	}
	return base
}

// SyncBuffer is a goroutine-safe log sink.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything logged so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Config returns a test configuration: debug JSON logs, a random encryption
// key, short caches and a fresh database name.
func Config(t testing.TB, opts ...Option) config.Config {
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	key, _ := secret.ParseKey(secret.NewKey())
	cfg.EncryptionKey = key
	cfg.LogLevel = -4 // debug
	cfg.CacheTTL = 200 * time.Millisecond
	cfg.MongoDatabase = testenv.DatabaseName(t)
	cfg.AllowPrivateTargets = true
	cfg.AllowLoopbackTargets = true
	// Tests run many deliveries to one fake webhook quickly: the per-webhook
	// rate limit is off and retries come fast unless a test sets them
	// (WithEnv HERALD_WEBHOOK_RATE, HERALD_RETRY_SCHEDULE).
	cfg.WebhookRate = ratelimit.Limit{}
	cfg.RetrySchedule = retry.Schedule{200 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// Open connects services for cfg on the test backends and drops the database
// when the test ends.
func Open(t testing.TB, cfg config.Config, logs io.Writer) *herald.Services {
	t.Helper()
	mongoURI := testenv.MongoURI(t)
	redisURL := testenv.RedisURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svcs, err := herald.Open(ctx, cfg, herald.NewLogger(cfg, logs), mongoURI, redisURL)
	if err != nil {
		t.Fatalf("heraldtest: open services: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = svcs.Store.DB.Drop(ctx)
		svcs.Close(ctx)
	})
	return svcs
}

// New starts Herald's API for this test.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	cfg := Config(t, opts...)
	logs := &SyncBuffer{}
	svcs := Open(t, cfg, logs)
	ctx := context.Background()
	env, key, _, err := svcs.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if key == "" {
		key = cfg.APIKey.Reveal()
	}
	srv := httptest.NewServer(svcs.NewAPI())
	t.Cleanup(srv.Close)
	return &Env{
		T: t, Config: cfg, Services: svcs, Server: srv, URL: srv.URL, APIKey: key,
		Environment: env, Logs: logs,
		Client: &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
	}
}

// StartWorker runs the delivery worker in-process with the given senders
// (provider id → sender) until the test ends.
func (e *Env) StartWorker(senders map[string]notify.Sender) {
	e.T.Helper()
	srv := e.Services.NewWorker(senders)
	if err := srv.Start(); err != nil {
		e.T.Fatalf("heraldtest: start worker: %v", err)
	}
	e.T.Cleanup(srv.Stop)
}

// Eventually polls cond every 20ms until it returns true or timeout passes.
func (e *Env) Eventually(timeout time.Duration, what string, cond func() bool) {
	e.T.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			e.T.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Response is an HTTP answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic value.
func (r *Response) JSON() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.Body, &m)
	return m
}

// Decode decodes the body into v.
func (r *Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Data returns the "data" member of the body.
func (r *Response) Data() any { return r.JSON()["data"] }

// Request sends a request with the environment's API key. body may be nil,
// a string or []byte (sent as is), or any value (sent as JSON).
func (e *Env) Request(method, path string, body any) *Response {
	return e.RequestWithKey(method, path, body, "ApiKey "+e.APIKey)
}

// RequestWithKey sends a request with the given Authorization header ("" for none).
func (e *Env) RequestWithKey(method, path string, body any, auth string) *Response {
	e.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.T.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		e.T.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := e.Client.Do(req)
	if err != nil {
		e.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

// Must fails the test unless the response has the wanted status.
func (r *Response) Must(t testing.TB, status int) *Response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	return r
}
