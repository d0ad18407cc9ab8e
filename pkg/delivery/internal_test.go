package delivery

import (
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/heraldhq/herald/pkg/notify"
)

func TestRetryDelay(t *testing.T) {
	if d := RetryDelay(3, &notify.Error{Kind: notify.RateLimited, RetryAfter: 42 * time.Second}, nil); d != 42*time.Second {
		t.Fatalf("Retry-After not honoured: %v", d)
	}
	for n, lo := range map[int]time.Duration{0: time.Second, 1: 2 * time.Second, 4: 16 * time.Second, 30: 10 * time.Minute} {
		d := RetryDelay(n, errors.New("boom"), nil)
		if d < lo || d > lo+lo/4 {
			t.Errorf("RetryDelay(%d) = %v, want %v..%v", n, d, lo, lo+lo/4)
		}
	}
}

func TestDerivedIDs(t *testing.T) {
	env, step := primitive.NewObjectID(), primitive.NewObjectID()
	first, again := MessageID(env, "tx", "s", step), MessageID(env, "tx", "s", step)
	if first != again {
		t.Fatal("message id not deterministic")
	}
	if MessageID(env, "tx", "s", step) == MessageID(env, "tx", "s2", step) ||
		NotificationID(env, "tx", "s") == NotificationID(env, "tx2", "s") {
		t.Fatal("ids collide")
	}
}

func TestProviderOverrides(t *testing.T) {
	got := providerOverrides(map[string]any{
		"chat":  map[string]any{"username": "chat", "icon_emoji": ":x:"},
		"slack": map[string]any{"username": "slack"},
		"email": map[string]any{"subject": "no"},
	}, "slack")
	if got["username"] != "slack" || got["icon_emoji"] != ":x:" || got["subject"] != nil {
		t.Fatalf("%v", got)
	}
	if providerOverrides(nil, "slack") != nil {
		t.Fatal("want nil")
	}
}
