package sink

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSinkAnswersLikeSlack(t *testing.T) {
	var out bytes.Buffer
	s := New(&out, false)
	srv := httptest.NewServer(s)
	defer srv.Close()
	cases := []struct {
		body   string
		status int
		answer string
	}{
		{`{"text":"hello"}`, 200, "ok"},
		{`not json`, 400, "invalid_payload\n"},
	}
	for _, tc := range cases {
		resp, err := http.Post(srv.URL+"/services/T/B/x", "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || string(b) != tc.answer {
			t.Fatalf("%q: %d %q", tc.body, resp.StatusCode, b)
		}
	}
	if s.Received() != 1 || !strings.Contains(out.String(), `{"text":"hello"}`) {
		t.Fatalf("received %d, printed %q", s.Received(), out.String())
	}
}
