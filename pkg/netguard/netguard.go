package netguard

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Policy says which non-public targets are allowed.
type Policy struct {
	// AllowLoopback permits 127.0.0.0/8 and ::1 (the standalone's default,
	// so local webhook receivers work) and plain http to them.
	AllowLoopback bool
	// AllowPrivate permits every non-public address and plain http
	// (HERALD_ALLOW_PRIVATE_TARGETS=true: development and tests only).
	AllowPrivate bool
}

// ErrForbiddenTarget is returned (wrapped) when a request would reach a forbidden address.
var ErrForbiddenTarget = errors.New("netguard: target address is not allowed")

var forbidden = mustPrefixes(
	"0.0.0.0/8",       // "this" network
	"10.0.0.0/8",      // private
	"100.64.0.0/10",   // CGNAT
	"127.0.0.0/8",     // loopback
	"169.254.0.0/16",  // link-local (cloud metadata lives here)
	"172.16.0.0/12",   // private
	"192.0.0.0/24",    // IETF protocol assignments
	"192.0.2.0/24",    // documentation
	"192.168.0.0/16",  // private
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // documentation
	"203.0.113.0/24",  // documentation
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved, broadcast
	"::/128",          // unspecified
	"::1/128",         // loopback
	"64:ff9b::/96",    // NAT64 (embeds IPv4)
	"100::/64",        // discard
	"2001:db8::/32",   // documentation
	"fc00::/7",        // unique local (ULA)
	"fe80::/10",       // link-local
	"ff00::/8",        // multicast
)

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// Allowed reports whether the policy lets a request reach ip.
func (p Policy) Allowed(ip netip.Addr) bool {
	ip = ip.Unmap()
	if p.AllowPrivate {
		return true
	}
	if p.AllowLoopback && ip.IsLoopback() {
		return true
	}
	for _, pre := range forbidden {
		if pre.Contains(ip) {
			return false
		}
	}
	return true
}

// AllowsPlainHTTP reports whether http:// (not https) targets are allowed for host.
func (p Policy) AllowsPlainHTTP(host string) bool {
	if p.AllowPrivate {
		return true
	}
	if !p.AllowLoopback {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.Unmap().IsLoopback()
}

// control runs after DNS resolution, on the exact address being dialled.
func (p Policy) control(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenTarget, address)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !p.Allowed(ip) {
		return fmt.Errorf("%w: %s is not a public address", ErrForbiddenTarget, host)
	}
	return nil
}

// Dialer returns a dialer that enforces the policy on every connection.
func (p Policy) Dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second, Control: p.control}
}

// ClientOptions tune NewClient.
type ClientOptions struct {
	// Timeout bounds a whole request (connect, write, read headers and body).
	Timeout time.Duration
	// MaxRedirects is how many redirects are followed (0: none).
	MaxRedirects int
	// MaxIdleConnsPerHost sizes the keep-alive pool per host.
	MaxIdleConnsPerHost int
}

// NewClient returns an HTTP client whose every connection passes the policy,
// with timeouts on dialing, TLS, headers and the whole request.
func (p Policy) NewClient(o ClientOptions) *http.Client {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxIdleConnsPerHost == 0 {
		o.MaxIdleConnsPerHost = 64
	}
	dialer := p.Dialer(minDuration(o.Timeout, 5*time.Second))
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would dial for us and bypass the check
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   o.MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   minDuration(o.Timeout, 5*time.Second),
		ResponseHeaderTimeout: o.Timeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   o.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > o.MaxRedirects {
				return http.ErrUseLastResponse
			}
			if req.URL.Scheme != "https" && !p.AllowsPlainHTTP(req.URL.Hostname()) {
				return fmt.Errorf("%w: redirect to plain http", ErrForbiddenTarget)
			}
			return nil
		},
	}
}

func minDuration(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}

// CheckURL validates a target URL before any request: an absolute http(s)
// URL, https unless the policy allows plain http to that host, and — when
// hosts is non-empty — a host equal to one of hosts (or a subdomain of an
// entry written ".example.com"). Hosts are not enforced when the policy
// allows private targets (development).
func (p Policy) CheckURL(raw string, hosts []string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return errors.New("webhook URL must be an absolute http(s) URL")
	}
	host := strings.ToLower(u.Hostname())
	if u.User != nil {
		return errors.New("webhook URL must not contain credentials")
	}
	if u.Scheme == "http" && !p.AllowsPlainHTTP(host) {
		return errors.New("webhook URL must use https")
	}
	if p.AllowPrivate || (p.AllowLoopback && p.AllowsPlainHTTP(host)) || len(hosts) == 0 {
		return nil
	}
	for _, h := range hosts {
		h = strings.ToLower(h)
		if host == h || (strings.HasPrefix(h, ".") && strings.HasSuffix(host, h)) {
			return nil
		}
	}
	return fmt.Errorf("webhook host %s is not allowed (allowed: %s)", host, strings.Join(hosts, ", "))
}

// IsForbidden reports whether err comes from the policy refusing a target.
func IsForbidden(err error) bool { return errors.Is(err, ErrForbiddenTarget) }

// LimitBodies makes every response body of c readable up to max bytes; past
// that a read fails with ErrBodyTooLarge (a decoder then reports an error
// instead of buffering an unbounded answer).
func LimitBodies(c *http.Client, max int64) *http.Client {
	inner := c.Transport
	if inner == nil {
		inner = http.DefaultTransport
	}
	cc := *c
	cc.Transport = limitTransport{inner: inner, max: max}
	return &cc
}

// ErrBodyTooLarge is returned by a read past LimitBodies' cap.
var ErrBodyTooLarge = errors.New("netguard: response body too large")

type limitTransport struct {
	inner http.RoundTripper
	max   int64
}

func (t limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.inner.RoundTrip(r)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.max}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, ErrBodyTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
