package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/slack-go/slack"

	"github.com/heraldhq/herald/pkg/netguard"
	"github.com/heraldhq/herald/pkg/notify"
)

// maxResponse is how much of Slack's answer is read.
const maxResponse = 64 << 10

// NewHTTPClient returns a client with an overall timeout, dial and TLS
// timeouts and no redirects, but without the SSRF guard: for tests only.
// Production senders use NewGuardedClient (providers.New does).
func NewHTTPClient(timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   20,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Timeout:       timeout,
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// NewGuardedClient returns the client production Slack requests use: every
// connection passes policy at dial time (after DNS resolution, so a public
// name resolving to a private address is refused too), redirects are not
// followed, and timeout bounds the whole request.
func NewGuardedClient(policy netguard.Policy, timeout time.Duration) *http.Client {
	return policy.NewClient(netguard.ClientOptions{Timeout: timeout, MaxRedirects: 0, MaxIdleConnsPerHost: 20})
}

// Guard is checked on every webhook URL before a request is made.
type Guard struct {
	Policy netguard.Policy
	// Hosts a webhook may point at (SLACK_WEBHOOK_HOSTS); empty allows any.
	Hosts []string
}

// Sender posts messages to Slack incoming webhooks.
type Sender struct {
	client *http.Client
	log    *slog.Logger
	guard  *Guard
}

// WithGuard makes the sender refuse webhook URLs g does not allow (a
// permanent failure, no request made).
func (s *Sender) WithGuard(g Guard) *Sender {
	s.guard = &g
	return s
}

// New returns a Sender using client.
func New(client *http.Client, log *slog.Logger) *Sender {
	return &Sender{client: client, log: log}
}

var _ notify.Sender = (*Sender)(nil)

// Body builds the JSON Slack receives: slack-go's WebhookMessage with the
// text, the rendered blocks as given, then the overrides on top.
func Body(m notify.Message) ([]byte, error) {
	raw, err := json.Marshal(slack.WebhookMessage{Text: m.Text})
	if err != nil {
		return nil, err
	}
	body := map[string]any{}
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, err
	}
	// Fields that only matter for interactive responses.
	delete(body, "replace_original")
	delete(body, "delete_original")
	if len(bytes.TrimSpace(m.Blocks)) > 0 {
		body["blocks"] = m.Blocks
	}
	for k, v := range m.Overrides {
		body[k] = v
	}
	return json.Marshal(body)
}

// Send posts m once with ctx. Errors are *notify.Error and never contain the
// webhook URL.
func (s *Sender) Send(ctx context.Context, m notify.Message) (notify.Result, error) {
	hook := m.WebhookURL.Reveal()
	u, err := url.Parse(hook)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return notify.Result{}, &notify.Error{Kind: notify.Permanent, Reason: "invalid webhook URL"}
	}
	if s.guard != nil {
		if err := s.guard.Policy.CheckURL(hook, s.guard.Hosts); err != nil {
			return notify.Result{}, &notify.Error{Kind: notify.Permanent, Reason: "webhook URL refused: " + notify.Truncate([]byte(err.Error()), hook)}
		}
	}
	secrets := notify.URLSecrets(hook)
	payload, err := Body(m)
	if err != nil {
		return notify.Result{}, &notify.Error{Kind: notify.Permanent, Reason: "cannot encode message: " + err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook, bytes.NewReader(payload))
	if err != nil {
		return notify.Result{}, &notify.Error{Kind: notify.Permanent, Reason: "cannot build request"}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return notify.Result{}, transportError(err, secrets)
	}
	defer resp.Body.Close()
	raw, rerr := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	body := notify.Truncate(raw, secrets...)
	if err := notify.FromHTTP(resp.StatusCode, resp.Header, body); err != nil {
		return notify.Result{}, err
	}
	if rerr != nil {
		s.log.Debug("reading Slack's answer failed after success", "transaction_id", m.TransactionID, "error", notify.Truncate([]byte(rerr.Error()), secrets...))
	}
	return notify.Result{StatusCode: resp.StatusCode, Body: body}, nil
}

// transportError classifies a failure to get an answer: a target the SSRF
// guard refused is permanent, every other one (timeouts, refused or reset
// connections, DNS failures) is transient. *url.Error's text contains the
// URL, so only its cause is kept, redacted.
func transportError(err error, secrets []string) *notify.Error {
	reason := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		reason = ue.Err.Error()
		if ue.Timeout() {
			reason = "timeout: " + reason
		}
	}
	kind := notify.Transient
	if netguard.IsForbidden(err) {
		kind = notify.Permanent
		reason = "target address not allowed (" + reason + ")"
	}
	return &notify.Error{Kind: kind, Reason: notify.Truncate([]byte(reason), secrets...)}
}
