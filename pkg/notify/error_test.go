package notify

import (
	"net/http"
	"testing"
	"time"
)

func TestFromHTTP(t *testing.T) {
	cases := []struct {
		status int
		header http.Header
		want   Kind // 0: success
		after  time.Duration
	}{
		{200, nil, 0, 0},
		{204, nil, 0, 0},
		{400, nil, Permanent, 0},
		{403, nil, Permanent, 0},
		{404, nil, Permanent, 0},
		{410, nil, Permanent, 0},
		{408, nil, Transient, 0},
		{429, http.Header{"Retry-After": {"7"}}, RateLimited, 7 * time.Second},
		{429, nil, RateLimited, 0},
		{500, nil, Transient, 0},
		{503, nil, Transient, 0},
	}
	for _, tc := range cases {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			h := tc.header
			if h == nil {
				h = http.Header{}
			}
			err := FromHTTP(tc.status, h, "body")
			if tc.want == 0 {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				return
			}
			e := AsError(err)
			if e.Kind != tc.want || e.StatusCode != tc.status || e.RetryAfter != tc.after || e.Body != "body" {
				t.Fatalf("got %+v", e)
			}
		})
	}
}

func TestParseRetryAfterDate(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if d := ParseRetryAfter(now.Add(30*time.Second).Format(http.TimeFormat), now); d != 30*time.Second {
		t.Fatalf("got %v", d)
	}
	if d := ParseRetryAfter("soon", now); d != 0 {
		t.Fatalf("got %v", d)
	}
}

func TestTruncateRedacts(t *testing.T) {
	long := make([]byte, 3000)
	for i := range long {
		long[i] = 'a'
	}
	if got := Truncate(long); len(got) > MaxBodyLen+4 {
		t.Fatalf("not truncated: %d", len(got))
	}
	if got := Truncate([]byte("bad https://hooks.example/T/B/x"), "https://hooks.example/T/B/x"); got != "bad <secret>" {
		t.Fatalf("got %q", got)
	}
}
