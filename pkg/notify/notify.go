package notify

import (
	"context"
	"encoding/json"
	"time"

	"github.com/heraldhq/herald/pkg/secret"
)

// Sender delivers one message with exactly one attempt; the queue owns
// retries. A failure is returned as an *Error so the caller knows whether to
// retry.
type Sender interface {
	Send(ctx context.Context, m Message) (Result, error)
}

// SenderFunc adapts a function to Sender (handy for tests).
type SenderFunc func(ctx context.Context, m Message) (Result, error)

// Send calls f.
func (f SenderFunc) Send(ctx context.Context, m Message) (Result, error) { return f(ctx, m) }

// Message is one rendered chat message for one subscriber.
type Message struct {
	// WebhookURL is the subscriber's incoming webhook; it never appears in
	// errors or logs.
	WebhookURL secret.String
	// Text is the rendered content.
	Text string
	// Blocks is the rendered Slack blocks array, or nil.
	Blocks json.RawMessage
	// Overrides are merged into the provider's request body
	// (the trigger's overrides.chat then overrides.<providerId>).
	Overrides map[string]any
	// TransactionID and SubscriberID identify the delivery in logs.
	TransactionID string
	SubscriberID  string
	// TriggeredAt is when the API accepted the trigger (zero when unknown),
	// for the trigger-to-answer latency metric.
	TriggeredAt time.Time
}

// Result is a successful provider answer.
type Result struct {
	StatusCode int
	// Body is the provider's response body, truncated and redacted.
	Body string
}
