package delivery

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/heraldhq/herald/pkg/retry"
)

// Task types.
const (
	TypeTrigger = "herald:trigger"
	TypeDeliver = "herald:deliver"
)

// Queues, with their priority weights in the worker.
const (
	QueueTrigger = "herald_trigger"
	QueueDeliver = "herald_deliver"
)

// Retry limits. A delivery's handler decides when its retry schedule is
// exhausted; DeliverMaxRetry only bounds asynq's count above the longest
// schedule (retry.MaxSteps), so that asynq never archives a task the
// schedule would still retry.
const (
	TriggerMaxRetry = 10
	DeliverMaxRetry = retry.MaxSteps + 1
)

// TriggerRetention is how long a processed trigger task is kept, and so how
// long its transactionId is known to be used.
const TriggerRetention = time.Hour

// TriggerTimeout bounds one fan-out. A topic or broadcast is streamed in
// batches within one task, and on FerretDB every batch scans the member and
// subscriber collections (a 20,000-member topic takes minutes there), so
// the bound is generous. A retried trigger walks its recipients again but
// writes and sends nothing twice.
const TriggerTimeout = 30 * time.Minute

// deliverRetention keeps processed deliver tasks briefly so a redelivered
// trigger cannot enqueue them again while they are fresh.
const deliverRetention = 10 * time.Minute

// Profile is an inline subscriber object of a trigger's `to`; nil fields are
// left unchanged when the worker upserts it.
type Profile struct {
	FirstName *string        `json:"firstName,omitempty"`
	LastName  *string        `json:"lastName,omitempty"`
	Email     *string        `json:"email,omitempty"`
	Phone     *string        `json:"phone,omitempty"`
	Avatar    *string        `json:"avatar,omitempty"`
	Locale    *string        `json:"locale,omitempty"`
	Data      map[string]any `json:"data,omitempty"`
	HasData   bool           `json:"hasData,omitempty"`
}

// InlineChannel is a channel given with an inline subscriber. The webhook
// URL is encrypted before the task is enqueued: Redis never holds it in
// plaintext.
type InlineChannel struct {
	ProviderID            string `json:"providerId"`
	IntegrationIdentifier string `json:"integrationIdentifier,omitempty"`
	WebhookCiphertext     string `json:"webhookUrlEnc,omitempty"`
	Channel               string `json:"channel,omitempty"`
}

// Recipient is one entry of a trigger's `to`.
type Recipient struct {
	SubscriberID string          `json:"subscriberId"`
	Profile      *Profile        `json:"profile,omitempty"`
	Channels     []InlineChannel `json:"channels,omitempty"`
}

// TriggerPayload is the trigger task's payload: a validated trigger.
type TriggerPayload struct {
	EnvironmentID  primitive.ObjectID `json:"environmentId"`
	OrganizationID primitive.ObjectID `json:"organizationId"`
	WorkflowID     primitive.ObjectID `json:"workflowId"`
	TransactionID  string             `json:"transactionId"`
	Recipients     []Recipient        `json:"to"`
	Payload        map[string]any     `json:"payload,omitempty"`
	Overrides      map[string]any     `json:"overrides,omitempty"`
	Actor          json.RawMessage    `json:"actor,omitempty"`
	Tenant         json.RawMessage    `json:"tenant,omitempty"`
	CreatedAt      time.Time          `json:"createdAt"`

	// Topics are the keys of the topics in `to`, without duplicates; their
	// members are read in keyset pages when the trigger is fanned out.
	Topics []string `json:"topics,omitempty"`
	// Broadcast reaches every subscriber of the environment (Recipients and
	// Topics are then empty).
	Broadcast bool `json:"broadcast,omitempty"`
	// ActorID is the actor's subscriberId: never a recipient of its own trigger.
	ActorID string `json:"actorId,omitempty"`
	// RawPayload, when set, is the payload as the API received it (a JSON
	// object it validated): the task carries it without decoding and
	// re-encoding it; the worker decodes it into Payload.
	RawPayload json.RawMessage `json:"-"`
}

// TriggerTaskID is the asynq task id of a trigger: one per transactionId
// and environment.
func TriggerTaskID(env primitive.ObjectID, transactionID string) string {
	return "trigger:" + env.Hex() + ":" + transactionID
}

// NewTriggerTask returns the task for a trigger. Enqueueing it twice for the
// same transactionId fails with asynq.ErrTaskIDConflict while the first is
// retained.
func NewTriggerTask(p TriggerPayload) (*asynq.Task, error) {
	// Called directly: json.Marshal would re-scan and compact the output.
	b, err := p.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("delivery: encode trigger: %w", err)
	}
	return asynq.NewTask(TypeTrigger, b,
		asynq.Queue(QueueTrigger), asynq.TaskID(TriggerTaskID(p.EnvironmentID, p.TransactionID)),
		asynq.MaxRetry(TriggerMaxRetry), asynq.Retention(TriggerRetention), asynq.Timeout(TriggerTimeout)), nil
}

// DeliverPayload is everything a deliver task needs, so that it reads
// nothing from the database.
type DeliverPayload struct {
	EnvironmentID         primitive.ObjectID `json:"environmentId"`
	MessageID             primitive.ObjectID `json:"messageId"`
	TransactionID         string             `json:"transactionId"`
	SubscriberID          string             `json:"subscriberId"`
	SubscriberObjID       primitive.ObjectID `json:"_subscriberId"`
	ProviderID            string             `json:"providerId"`
	IntegrationID         primitive.ObjectID `json:"integrationId"`
	IntegrationIdentifier string             `json:"integrationIdentifier"`
	WebhookCiphertext     string             `json:"webhookUrlEnc"`
	Text                  string             `json:"text"`
	Blocks                json.RawMessage    `json:"blocks,omitempty"`
	Overrides             map[string]any     `json:"overrides,omitempty"`
	// TriggeredAt is when the API accepted the trigger (for the latency metric).
	TriggeredAt time.Time `json:"triggeredAt,omitempty"`
	// NotBefore, when set, schedules the task (after a delay or digest step).
	NotBefore time.Time `json:"notBefore,omitempty"`
	// Record, when set, is the message as the fan-out built it, not yet
	// written: its first attempt inserts it whole (one document holding the
	// attempt's details) instead of updating a pending one. Its Content and
	// Blocks are left empty here; Text and Blocks above carry them.
	Record *Message `json:"record,omitempty"`
	// ManualRetry is set on a delivery an operator asked for (the retry API
	// or the dashboard): it is sent even if its transaction was canceled.
	ManualRetry bool `json:"manualRetry,omitempty"`
}

// NewDeliverTask returns the task delivering one message. Its id is derived
// from the message id, itself derived from (transaction, subscriber, step).
func NewDeliverTask(p DeliverPayload) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("delivery: encode deliver: %w", err)
	}
	opts := []asynq.Option{asynq.Queue(QueueDeliver), asynq.TaskID(DeliverTaskID(p.MessageID)),
		asynq.MaxRetry(DeliverMaxRetry), asynq.Retention(deliverRetention), asynq.Timeout(2 * time.Minute)}
	if !p.NotBefore.IsZero() {
		opts = append(opts, asynq.ProcessAt(p.NotBefore))
	}
	return asynq.NewTask(TypeDeliver, b, opts...), nil
}

// DeliverTaskID is the asynq task id of a message's first delivery.
func DeliverTaskID(messageID primitive.ObjectID) string {
	return "deliver:" + messageID.Hex()
}

// derivedID returns a deterministic ObjectId for the given parts, so that a
// redelivered trigger produces the same notification and message ids.
func derivedID(parts ...string) primitive.ObjectID {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	var id primitive.ObjectID
	copy(id[:], h.Sum(nil))
	return id
}

// NotificationID is the id of the notification of (transaction, subscriber).
func NotificationID(env primitive.ObjectID, transactionID, subscriberID string) primitive.ObjectID {
	return derivedID("notification", env.Hex(), transactionID, subscriberID)
}

// MessageID is the id of the message of (transaction, subscriber, step).
func MessageID(env primitive.ObjectID, transactionID, subscriberID string, step primitive.ObjectID) primitive.ObjectID {
	return derivedID("message", env.Hex(), transactionID, subscriberID, step.Hex())
}
