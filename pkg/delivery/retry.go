package delivery

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"

	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/subscriber"
)

// TextRetryRequested is the execution detail of a manual retry.
const TextRetryRequested = "Retry requested"

// ErrNotRetryable is returned when a message is not in a failed state.
var ErrNotRetryable = errors.New("only a failed message can be retried")

// GetMessage returns one message of an environment.
func (l *Log) GetMessage(ctx context.Context, env, id primitive.ObjectID) (*Message, error) {
	var m Message
	err := l.messages.FindOne(ctx, bson.M{"_id": id, "_environmentId": env}).Decode(&m)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("delivery: get message: %w", err)
	}
	return &m, nil
}

// Retrier re-sends a failed message on request (the retry API and the
// dashboard's Retry button), with the subscriber's current credentials.
type Retrier struct {
	Log         *Log
	Subscribers *subscriber.Store
	Queue       Enqueuer
}

// Retry moves a failed message back to pending, records a "Retry requested"
// detail and enqueues a new delivery. Only one of concurrent retries of the
// same message wins; the others get ErrNotRetryable.
func (r *Retrier) Retry(ctx context.Context, env, id primitive.ObjectID) (*Message, error) {
	m, err := r.Log.GetMessage(ctx, env, id)
	if err != nil {
		return nil, err
	}
	if m.Status != StatusError {
		return nil, ErrNotRetryable
	}
	p := DeliverPayload{
		EnvironmentID: env, MessageID: m.ID, TransactionID: m.TransactionID,
		SubscriberID: m.SubscriberID, SubscriberObjID: m.SubscriberObjID,
		ProviderID: m.ProviderID, IntegrationID: m.IntegrationID, IntegrationIdentifier: m.IntegrationIdentifier,
		Text: m.Content, ManualRetry: true,
	}
	if m.Blocks != "" {
		p.Blocks = []byte(m.Blocks)
	}
	if sub, err := r.Subscribers.Get(ctx, env, m.SubscriberID); err == nil {
		for _, ch := range sub.Channels {
			if ch.IntegrationID == m.IntegrationID || (m.IntegrationID.IsZero() && ch.ProviderID == m.ProviderID) {
				p.WebhookCiphertext = ch.Credentials.WebhookURL // still encrypted
				p.IntegrationID, p.IntegrationIdentifier = ch.IntegrationID, ch.IntegrationIdentifier
				break
			}
		}
	}
	task, err := NewDeliverTask(p)
	if err != nil {
		return nil, err
	}
	// Flip error → pending first, conditionally, so two retries cannot both enqueue.
	detail := NewDetail(TextRetryRequested, DetailQueued, SourceInternal, "", true)
	res, err := r.Log.messages.UpdateOne(ctx, bson.M{"_id": m.ID, "status": StatusError},
		bson.M{"$set": bson.M{"status": StatusPending, "updatedAt": store.Now()}, "$push": bson.M{"executionDetails": detail}})
	if err != nil {
		return nil, fmt.Errorf("delivery: retry: %w", err)
	}
	if res.ModifiedCount == 0 {
		return nil, ErrNotRetryable
	}
	taskID := fmt.Sprintf("deliver:%s:retry:%d", m.ID.Hex(), m.Attempts)
	if _, err := r.Queue.EnqueueContext(ctx, task, asynq.TaskID(taskID)); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		_, _ = r.Log.messages.UpdateOne(context.WithoutCancel(ctx), bson.M{"_id": m.ID},
			bson.M{"$set": bson.M{"status": StatusError, "updatedAt": store.Now()}})
		return nil, fmt.Errorf("delivery: enqueue retry: %w", err)
	}
	m.Status = StatusPending
	m.ExecutionDetails = append(m.ExecutionDetails, detail)
	return m, nil
}
