// Package retry holds Herald's delivery retry schedule: how long to wait
// before each retry of a transient failure. The default follows Svix's
// published webhook schedule (about 5 s, 30 s, 2 min, 10 min, 30 min, 1 h,
// 3 h, 6 h), so a delivery keeps trying for about ten hours; environments may
// set their own.
package retry

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Schedule is the wait before retry 1, 2, …; its length is the number of retries.
type Schedule []time.Duration

// Default is the schedule used unless configured otherwise.
var Default = Schedule{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute,
	30 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour}

// MaxRetries is how many retries follow the first attempt.
func (s Schedule) MaxRetries() int { return len(s) }

// Delay is the wait before retry n (1-based); past the end it repeats the last step.
func (s Schedule) Delay(n int) time.Duration {
	if len(s) == 0 {
		return 0
	}
	if n < 1 {
		n = 1
	}
	if n > len(s) {
		n = len(s)
	}
	return s[n-1]
}

// String renders the schedule as Parse reads it.
func (s Schedule) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
}

// Strings renders the schedule as a list of durations.
func (s Schedule) Strings() []string {
	out := make([]string, len(s))
	for i, d := range s {
		out[i] = d.String()
	}
	return out
}

// MaxSteps bounds a schedule's length.
const MaxSteps = 20

// Parse reads "5s,30s,2m": each step a positive duration of at most 24 h,
// at most MaxSteps steps. An empty string is an empty schedule (no retries).
func Parse(s string) (Schedule, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Schedule{}, nil
	}
	return FromStrings(strings.Split(s, ","))
}

// FromStrings reads a list of durations.
func FromStrings(steps []string) (Schedule, error) {
	if len(steps) > MaxSteps {
		return nil, fmt.Errorf("a retry schedule has at most %d steps", MaxSteps)
	}
	out := make(Schedule, 0, len(steps))
	var errs []error
	for i, p := range steps {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil || d <= 0 || d > 24*time.Hour {
			errs = append(errs, fmt.Errorf("step %d (%q) must be a duration from 1ms to 24h", i+1, strings.TrimSpace(p)))
			continue
		}
		out = append(out, d)
	}
	return out, errors.Join(errs...)
}
