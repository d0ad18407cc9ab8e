package notify

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/pkg/secret"
)

// Kind is what the caller should do about a failed send.
type Kind int

// The kinds of failure.
const (
	// Permanent failures will fail again: do not retry.
	Permanent Kind = iota + 1
	// Transient failures (5xx, timeouts, connection errors) may succeed later.
	Transient
	// RateLimited failures may succeed after RetryAfter.
	RateLimited
)

// String names the kind (used in logs and execution details).
func (k Kind) String() string {
	switch k {
	case Permanent:
		return "permanent"
	case Transient:
		return "transient"
	case RateLimited:
		return "rate_limited"
	}
	return "unknown"
}

// MaxBodyLen is how much of a provider's response body an Error keeps.
const MaxBodyLen = 1024

// Error is a classified send failure, decided once at the provider boundary.
// Its text never contains the destination URL.
type Error struct {
	Kind       Kind
	StatusCode int           // 0 when no HTTP answer was received
	Body       string        // truncated, secret-redacted response body
	RetryAfter time.Duration // for RateLimited, when the provider said
	Reason     string        // short description without secrets
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Kind.String())
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": status %d", e.StatusCode)
	}
	if e.Reason != "" {
		b.WriteString(": " + e.Reason)
	}
	if e.Body != "" {
		b.WriteString(": " + e.Body)
	}
	return b.String()
}

// Retryable reports whether the send may succeed when tried again.
func (e *Error) Retryable() bool { return e.Kind != Permanent }

// AsError returns the classified error in err's chain. An unclassified error
// is treated as transient.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: Transient, Reason: err.Error()}
}

// Truncate redacts the given secrets from a response body, then cuts it to
// MaxBodyLen (in that order, so a cut cannot leave part of a secret).
// Secrets are redacted longest first.
func Truncate(body []byte, secrets ...string) string {
	ss := append([]string(nil), secrets...)
	sort.Slice(ss, func(i, j int) bool { return len(ss[i]) > len(ss[j]) })
	s := secret.Redact(string(body), ss...)
	if len(s) > MaxBodyLen {
		s = strings.ToValidUTF8(s[:MaxBodyLen], "") + "…"
	}
	return s
}

// URLSecrets are the parts of a webhook URL that must never be shown: the
// URL, its path, its last path segment (the token) and its query.
func URLSecrets(hook string) []string {
	out := []string{hook}
	u, err := url.Parse(hook)
	if err != nil {
		return out
	}
	out = append(out, u.Path)
	if i := strings.LastIndex(strings.TrimRight(u.Path, "/"), "/"); i >= 0 {
		out = append(out, strings.Trim(u.Path[i:], "/"))
	}
	if u.RawQuery != "" {
		out = append(out, u.RawQuery)
	}
	return out
}

// Redacted returns a copy of e with secrets removed from its body and reason.
func (e *Error) Redacted(secrets ...string) *Error {
	c := *e
	c.Body = Truncate([]byte(c.Body), secrets...)
	c.Reason = Truncate([]byte(c.Reason), secrets...)
	return &c
}

// FromHTTP classifies an HTTP answer: nil for 2xx; RateLimited for 429 (with
// Retry-After honoured); Transient for 5xx and 408; Permanent for other codes.
// body should already be truncated and redacted.
func FromHTTP(status int, header http.Header, body string) error {
	switch {
	case status >= 200 && status < 300:
		return nil
	case status == http.StatusTooManyRequests:
		return &Error{Kind: RateLimited, StatusCode: status, Body: body, RetryAfter: ParseRetryAfter(header.Get("Retry-After"), time.Now())}
	case status >= 500 || status == http.StatusRequestTimeout:
		return &Error{Kind: Transient, StatusCode: status, Body: body}
	default:
		return &Error{Kind: Permanent, StatusCode: status, Body: body}
	}
}

// ParseRetryAfter reads a Retry-After header given in seconds or as an HTTP
// date; 0 when absent or malformed.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
