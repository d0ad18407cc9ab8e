package delivery

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/retry"
)

func TestIsFailure(t *testing.T) {
	if IsFailure(&DeferError{At: time.Now()}) || IsFailure(fmt.Errorf("wrapped: %w", &DeferError{})) {
		t.Fatal("a deferral counted as a failure")
	}
	if !IsFailure(errors.New("boom")) || !IsFailure(&retryError{err: errors.New("x")}) || !IsFailure(asynq.SkipRetry) {
		t.Fatal("a failure not counted")
	}
}

func TestRetryDelayFollowsTheHandler(t *testing.T) {
	deliver := asynq.NewTask(TypeDeliver, nil)
	at := time.Now().Add(90 * time.Second)
	for _, err := range []error{&DeferError{At: at}, &retryError{at: at, err: errors.New("x")}} {
		if d := RetryDelay(0, err, deliver); d < 89*time.Second || d > 90*time.Second {
			t.Fatalf("%T: %v", err, d)
		}
	}
	// Without a handler decision a delivery falls back to the default schedule.
	if d := RetryDelay(2, errors.New("boom"), deliver); d != retry.Default.Delay(3) {
		t.Fatalf("fallback %v", d)
	}
	if d := RetryDelay(0, &DeferError{At: time.Now().Add(-time.Second)}, deliver); d != 0 {
		t.Fatalf("past time %v", d)
	}
}

func TestDueAtIsNeverEarly(t *testing.T) {
	for _, d := range []time.Duration{0, 200 * time.Millisecond, 999 * time.Millisecond, 5 * time.Second} {
		now := time.Now()
		at := dueAt(d)
		if at.Before(now.Add(d)) || at.After(now.Add(d+time.Second+50*time.Millisecond)) || at.Nanosecond() != 0 {
			t.Fatalf("dueAt(%v) = %v at %v", d, at, now)
		}
	}
}

func TestNeedsReconnect(t *testing.T) {
	for code, want := range map[int]bool{400: false, 401: false, 403: true, 404: true, 410: true, 500: false, 429: false} {
		if got := needsReconnect(notify.AsError(notify.FromHTTP(code, http.Header{}, ""))); got != want {
			t.Errorf("%d: %v", code, got)
		}
	}
}
