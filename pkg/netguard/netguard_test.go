package netguard

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestAllowed(t *testing.T) {
	cases := []struct {
		ip                             string
		strict, loopback, allowPrivate bool
	}{
		{"8.8.8.8", true, true, true},
		{"2606:4700:4700::1111", true, true, true},
		{"127.0.0.1", false, true, true},
		{"127.8.9.10", false, true, true},
		{"::1", false, true, true},
		{"::ffff:127.0.0.1", false, true, true},
		{"10.1.2.3", false, false, true},
		{"172.20.0.1", false, false, true},
		{"192.168.1.1", false, false, true},
		{"169.254.169.254", false, false, true},
		{"100.64.0.1", false, false, true},
		{"fd12:3456::1", false, false, true},
		{"fe80::1", false, false, true},
		{"0.0.0.0", false, false, true},
		{"::", false, false, true},
		{"::ffff:10.0.0.1", false, false, true},
		{"224.0.0.1", false, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.ip, func(t *testing.T) {
			ip := netip.MustParseAddr(tc.ip)
			if got := (Policy{}).Allowed(ip); got != tc.strict {
				t.Errorf("strict: %v", got)
			}
			if got := (Policy{AllowLoopback: true}).Allowed(ip); got != tc.loopback {
				t.Errorf("loopback: %v", got)
			}
			if got := (Policy{AllowPrivate: true}).Allowed(ip); got != tc.allowPrivate {
				t.Errorf("private: %v", got)
			}
		})
	}
}

func TestClientRefusesLoopbackAtDialTime(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "reached") }))
	defer srv.Close()
	// By IP, and by a name that resolves to loopback: the check runs after DNS.
	for _, target := range []string{srv.URL, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)} {
		_, err := (Policy{}).NewClient(ClientOptions{}).Get(target)
		if err == nil || !IsForbidden(err) {
			t.Fatalf("%s: want forbidden, got %v", target, err)
		}
		resp, err := (Policy{AllowLoopback: true}).NewClient(ClientOptions{}).Get(target)
		if err != nil {
			t.Fatalf("%s with loopback allowed: %v", target, err)
		}
		resp.Body.Close()
	}
}

func TestClientChecksRedirects(t *testing.T) {
	inner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "inner") }))
	defer inner.Close()
	outer := httptest.NewServer(http.RedirectHandler(inner.URL, http.StatusFound))
	defer outer.Close()
	// No redirects followed by default: the 302 itself comes back.
	c := (Policy{AllowLoopback: true}).NewClient(ClientOptions{})
	resp, err := c.Get(outer.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("followed a redirect: %d", resp.StatusCode)
	}
	// A redirect followed is dialled through the same check.
	c = (Policy{}).NewClient(ClientOptions{MaxRedirects: 3})
	if _, err := c.Get(outer.URL); !IsForbidden(err) {
		t.Fatalf("want forbidden, got %v", err)
	}
}

func TestCheckURL(t *testing.T) {
	slack := []string{"hooks.slack.com"}
	cases := []struct {
		name   string
		p      Policy
		url    string
		hosts  []string
		wantOK bool
	}{
		{"slack https", Policy{}, "https://hooks.slack.com/services/T/B/x", slack, true},
		{"slack http", Policy{}, "http://hooks.slack.com/services/T/B/x", slack, false},
		{"other host", Policy{}, "https://evil.example.com/x", slack, false},
		{"lookalike host", Policy{}, "https://hooks.slack.com.evil.io/x", slack, false},
		{"subdomain rule", Policy{}, "https://a.hooks.example.com/x", []string{".hooks.example.com"}, true},
		{"credentials in URL", Policy{}, "https://u:p@hooks.slack.com/x", slack, false},
		{"not a url", Policy{}, "::", slack, false},
		{"loopback dev", Policy{AllowLoopback: true}, "http://127.0.0.1:4000/x", slack, true},
		{"private dev", Policy{AllowPrivate: true}, "http://10.0.0.5/x", slack, true},
		{"loopback policy, private host", Policy{AllowLoopback: true}, "http://10.0.0.5/x", slack, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.CheckURL(tc.url, tc.hosts)
			if (err == nil) != tc.wantOK {
				t.Fatalf("CheckURL(%q) = %v", tc.url, err)
			}
		})
	}
}

func TestLimitBodies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(make([]byte, 5000))
	}))
	defer srv.Close()
	c := LimitBodies(Policy{AllowLoopback: true}.NewClient(ClientOptions{Timeout: 2 * time.Second}), 1000)
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if !errors.Is(err, ErrBodyTooLarge) || len(b) != 1000 {
		t.Fatalf("read %d bytes, err %v", len(b), err)
	}
}
