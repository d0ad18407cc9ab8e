// Package sink is a local stand-in for a chat webhook (Slack's incoming
// webhooks answer "ok" with 200): it prints what it receives and counts it.
// `herald webhook-sink` runs it for the README walkthrough and benchmarks.
package sink

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// Sink receives webhook posts.
type Sink struct {
	out      io.Writer
	quiet    bool
	received atomic.Int64
}

// New returns a Sink that prints each body to out unless quiet.
func New(out io.Writer, quiet bool) *Sink { return &Sink{out: out, quiet: quiet} }

// Received is how many posts arrived.
func (s *Sink) Received() int64 { return s.received.Load() }

// ServeHTTP answers like Slack: 200 "ok" for a JSON post, 400 invalid_payload otherwise.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "invalid_method", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || !json.Valid(body) {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	n := s.received.Add(1)
	if !s.quiet {
		fmt.Fprintf(s.out, "%s #%d %s %s\n", time.Now().Format("15:04:05.000"), n, r.URL.Path, body)
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "ok")
}
