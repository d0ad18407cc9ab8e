package bench

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// textPrefix starts every message the benchmark's workflow renders; the
// sequence number after it says which trigger the delivery belongs to.
const textPrefix = "bench #"

// sink is the local webhook receiver: it answers like Slack (200 "ok") and
// records when each trigger's message first arrived and how many distinct
// webhook paths received something.
type sink struct {
	mu       sync.Mutex
	arrivals map[int64]time.Time
	paths    map[string]int
	posts    atomic.Int64
	distinct atomic.Int64
	dups     atomic.Int64
}

func newSink() *sink {
	return &sink{arrivals: map[int64]time.Time{}, paths: map[string]int{}}
}

// reset forgets everything received so far.
func (s *sink) reset() {
	s.mu.Lock()
	s.arrivals = map[int64]time.Time{}
	s.paths = map[string]int{}
	s.posts.Store(0)
	s.distinct.Store(0)
	s.dups.Store(0)
	s.mu.Unlock()
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var msg struct {
		Text string `json:"text"`
	}
	if r.Method != http.MethodPost || err != nil || json.Unmarshal(body, &msg) != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	seq := int64(-1)
	if rest, ok := strings.CutPrefix(msg.Text, textPrefix); ok {
		if n, err := strconv.ParseInt(strings.Fields(rest + " ")[0], 10, 64); err == nil {
			seq = n
		}
	}
	s.mu.Lock()
	s.paths[r.URL.Path]++
	if s.paths[r.URL.Path] == 1 {
		s.distinct.Add(1)
	} else {
		s.dups.Add(1)
	}
	if _, seen := s.arrivals[seq]; seq >= 0 && !seen {
		s.arrivals[seq] = now
	}
	s.mu.Unlock()
	s.posts.Add(1)
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "ok")
}

// arrival returns when seq's message first arrived.
func (s *sink) arrival(seq int64) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.arrivals[seq]
	return t, ok
}

// arrivedCount is how many distinct sequence numbers arrived.
func (s *sink) arrivedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.arrivals)
}
