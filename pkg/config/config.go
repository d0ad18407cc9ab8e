package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/pkg/netguard"
	"github.com/heraldhq/herald/pkg/ratelimit"
	"github.com/heraldhq/herald/pkg/retry"
	"github.com/heraldhq/herald/pkg/secret"
)

// Config is Herald's configuration. Every field maps to one environment
// variable, documented in docs/configuration.md.
type Config struct {
	Port          int           // PORT
	MetricsPort   int           // METRICS_PORT (worker only; 0 disables)
	DataDir       string        // HERALD_DATA_DIR
	APIKey        secret.String // HERALD_API_KEY
	MongoURI      secret.String // MONGODB_URI
	MongoDatabase string        // MONGODB_DATABASE
	RedisURL      secret.String // REDIS_URL
	EncryptionKey []byte        // HERALD_ENCRYPTION_KEY (decoded)
	PublicURL     string        // HERALD_PUBLIC_URL

	SlackAuthorizeURL string // SLACK_OAUTH_AUTHORIZE_URL
	SlackAPIURL       string // SLACK_API_URL

	AllowPrivateTargets  bool     // HERALD_ALLOW_PRIVATE_TARGETS=true
	AllowLoopbackTargets bool     // HERALD_ALLOW_PRIVATE_TARGETS=loopback
	PrivateTargetsSet    bool     // whether HERALD_ALLOW_PRIVATE_TARGETS was given
	SlackWebhookHosts    []string // SLACK_WEBHOOK_HOSTS

	LogLevel  slog.Level // LOG_LEVEL
	LogFormat string     // LOG_FORMAT: json or text

	WorkerConcurrency int           // WORKER_CONCURRENCY
	CacheTTL          time.Duration // HERALD_CACHE_TTL
	// SubscriberCacheTTL bounds Redis-cached recipient lookups (0: off).
	SubscriberCacheTTL time.Duration // HERALD_SUBSCRIBER_CACHE_TTL
	ProviderTimeout    time.Duration // HERALD_PROVIDER_TIMEOUT
	ShutdownTimeout    time.Duration // HERALD_SHUTDOWN_TIMEOUT

	RetrySchedule    retry.Schedule  // HERALD_RETRY_SCHEDULE
	WebhookRate      ratelimit.Limit // HERALD_WEBHOOK_RATE, HERALD_WEBHOOK_BURST
	TriggerRateLimit ratelimit.Limit // HERALD_TRIGGER_RATE_LIMIT, HERALD_TRIGGER_BURST
}

// Getenv looks up an environment variable; os.Getenv fits.
type Getenv func(string) string

// Load reads the configuration. Problems are collected and returned together.
func Load(getenv Getenv) (Config, error) {
	p := parser{getenv: getenv}
	c := Config{
		Port:               p.int("PORT", 3000, 0, 65535),
		MetricsPort:        p.int("METRICS_PORT", 0, 0, 65535),
		DataDir:            p.str("HERALD_DATA_DIR", "./data"),
		APIKey:             secret.String(p.str("HERALD_API_KEY", "")),
		MongoURI:           secret.String(p.str("MONGODB_URI", "")),
		MongoDatabase:      p.str("MONGODB_DATABASE", "herald"),
		RedisURL:           secret.String(p.str("REDIS_URL", "")),
		SlackAuthorizeURL:  p.url("SLACK_OAUTH_AUTHORIZE_URL", "https://slack.com/oauth/v2/authorize"),
		SlackAPIURL:        p.url("SLACK_API_URL", "https://slack.com/api/"),
		LogFormat:          p.oneOf("LOG_FORMAT", "json", "json", "text"),
		WorkerConcurrency:  p.int("WORKER_CONCURRENCY", 20, 1, 1000),
		CacheTTL:           p.duration("HERALD_CACHE_TTL", 5*time.Second),
		SubscriberCacheTTL: p.durationOrOff("HERALD_SUBSCRIBER_CACHE_TTL", time.Minute),
		ProviderTimeout:    p.duration("HERALD_PROVIDER_TIMEOUT", 10*time.Second),
		ShutdownTimeout:    p.duration("HERALD_SHUTDOWN_TIMEOUT", 20*time.Second),
	}
	c.RetrySchedule = retry.Default
	if v, ok := p.nonEmpty("HERALD_RETRY_SCHEDULE"); ok {
		sched, err := retry.Parse(v)
		if strings.EqualFold(v, "none") || v == "0" {
			sched, err = retry.Schedule{}, nil
		}
		if err != nil {
			p.fail("HERALD_RETRY_SCHEDULE", v, err.Error())
		} else {
			c.RetrySchedule = sched
		}
	}
	c.WebhookRate = p.rate("HERALD_WEBHOOK_RATE", "1/s", "HERALD_WEBHOOK_BURST", 3)
	c.TriggerRateLimit = p.rate("HERALD_TRIGGER_RATE_LIMIT", "off", "HERALD_TRIGGER_BURST", 0)
	switch v := strings.ToLower(strings.TrimSpace(getenv("HERALD_ALLOW_PRIVATE_TARGETS"))); v {
	case "":
	case "loopback":
		c.AllowLoopbackTargets, c.PrivateTargetsSet = true, true
	default:
		c.AllowPrivateTargets = p.bool("HERALD_ALLOW_PRIVATE_TARGETS", false)
		c.AllowLoopbackTargets = c.AllowPrivateTargets
		c.PrivateTargetsSet = true
	}
	for _, h := range strings.Split(p.str("SLACK_WEBHOOK_HOSTS", "hooks.slack.com"), ",") {
		if h = strings.TrimSpace(h); h != "" {
			c.SlackWebhookHosts = append(c.SlackWebhookHosts, h)
		}
	}
	c.PublicURL = strings.TrimRight(p.url("HERALD_PUBLIC_URL", fmt.Sprintf("http://localhost:%d", c.Port)), "/")
	if !strings.HasSuffix(c.SlackAPIURL, "/") {
		c.SlackAPIURL += "/"
	}
	switch lvl := strings.ToLower(p.str("LOG_LEVEL", "info")); lvl {
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "info":
		c.LogLevel = slog.LevelInfo
	case "warn", "warning":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		p.fail("LOG_LEVEL", lvl, "must be one of debug, info, warn, error")
	}
	if k := getenv("HERALD_ENCRYPTION_KEY"); k != "" {
		key, err := secret.ParseKey(k)
		if err != nil {
			p.fail("HERALD_ENCRYPTION_KEY", "<secret>", err.Error())
		}
		c.EncryptionKey = key
	}
	if k := c.APIKey.Reveal(); k != "" && len(k) < 16 {
		p.fail("HERALD_API_KEY", "<secret>", "must be at least 16 characters")
	}
	if u := c.RedisURL.Reveal(); u != "" {
		if _, err := url.Parse(u); err != nil || !strings.HasPrefix(u, "redis") {
			p.fail("REDIS_URL", "<secret>", "must be a redis:// or rediss:// URL")
		}
	}
	if u := c.MongoURI.Reveal(); u != "" && !strings.HasPrefix(u, "mongodb://") && !strings.HasPrefix(u, "mongodb+srv://") {
		p.fail("MONGODB_URI", "<secret>", "must be a mongodb:// or mongodb+srv:// URI")
	}
	return c, errors.Join(p.errs...)
}

// RequireServers reports the settings the production binaries (api, worker)
// cannot run without, all at once.
func (c Config) RequireServers() error {
	var errs []error
	if c.MongoURI.Empty() {
		errs = append(errs, errors.New("MONGODB_URI is required"))
	}
	if c.RedisURL.Empty() {
		errs = append(errs, errors.New("REDIS_URL is required"))
	}
	if len(c.EncryptionKey) == 0 {
		errs = append(errs, errors.New("HERALD_ENCRYPTION_KEY is required (generate one with: openssl rand -hex 32)"))
	}
	return errors.Join(errs...)
}

type parser struct {
	getenv Getenv
	errs   []error
}

func (p *parser) fail(name, value, why string) {
	p.errs = append(p.errs, fmt.Errorf("%s=%q: %s", name, value, why))
}

func (p *parser) str(name, def string) string {
	if v := strings.TrimSpace(p.getenv(name)); v != "" {
		return v
	}
	return def
}

func (p *parser) nonEmpty(name string) (string, bool) {
	v := strings.TrimSpace(p.getenv(name))
	return v, v != ""
}

// rate reads a rate ("1/s", "off") and its burst (0: the rate's count).
func (p *parser) rate(name, def, burstName string, defBurst int) ratelimit.Limit {
	v := p.str(name, def)
	lim, err := ratelimit.ParseRate(v)
	if err != nil {
		p.fail(name, v, err.Error())
		lim, _ = ratelimit.ParseRate(def)
	}
	if b := p.int(burstName, defBurst, 0, 1000000); b > 0 {
		lim.Burst = b
	}
	return lim
}

func (p *parser) int(name string, def, lo, hi int) int {
	v := p.getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < lo || n > hi {
		p.fail(name, v, fmt.Sprintf("must be a whole number from %d to %d", lo, hi))
		return def
	}
	return n
}

func (p *parser) bool(name string, def bool) bool {
	v := p.getenv(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		p.fail(name, v, "must be true or false")
		return def
	}
	return b
}

func (p *parser) duration(name string, def time.Duration) time.Duration {
	v := p.getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d <= 0 {
		p.fail(name, v, "must be a positive duration such as 500ms or 10s")
		return def
	}
	return d
}

// durationOrOff is duration, also accepting 0 or off (returned as 0).
func (p *parser) durationOrOff(name string, def time.Duration) time.Duration {
	switch strings.ToLower(strings.TrimSpace(p.getenv(name))) {
	case "0", "off":
		return 0
	}
	return p.duration(name, def)
}

func (p *parser) url(name, def string) string {
	v := p.str(name, def)
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.fail(name, v, "must be an absolute http(s) URL")
		return def
	}
	return v
}

func (p *parser) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(p.str(name, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.fail(name, v, "must be one of "+strings.Join(allowed, ", "))
	return def
}

// TargetPolicy is the outbound-request policy the configuration asks for.
func (c Config) TargetPolicy() netguard.Policy {
	return netguard.Policy{AllowLoopback: c.AllowLoopbackTargets || c.AllowPrivateTargets, AllowPrivate: c.AllowPrivateTargets}
}
