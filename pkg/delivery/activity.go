package delivery

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Activity statuses: what operators see, derived from a message's status,
// attempts and error.
const (
	ActivitySent           = "sent"
	ActivityFailed         = "failed"
	ActivityRetrying       = "retrying"
	ActivityPending        = "pending"
	ActivityCanceled       = "canceled"
	ActivityNeedsReconnect = "needs_reconnect"
)

// ActivityStatuses lists them in display order.
var ActivityStatuses = []string{ActivitySent, ActivityFailed, ActivityRetrying, ActivityPending, ActivityCanceled, ActivityNeedsReconnect}

// ErrorIDNeedsReconnect marks a failure caused by a channel that must be reconnected.
const ErrorIDNeedsReconnect = "needs_reconnect"

// canceledStatuses are message statuses shown as canceled.
var canceledStatuses = bson.A{StatusCanceled, "filtered", StatusMerged}

// activityQuery is the message filter for an activity status.
func activityQuery(status string) bson.M {
	switch status {
	case ActivitySent:
		return bson.M{"status": StatusSent}
	case ActivityFailed:
		return bson.M{"status": StatusError, "errorId": bson.M{"$ne": ErrorIDNeedsReconnect}}
	case ActivityNeedsReconnect:
		return bson.M{"status": StatusError, "errorId": ErrorIDNeedsReconnect}
	case ActivityRetrying:
		return bson.M{"status": StatusPending, "attempts": bson.M{"$gt": 0}}
	case ActivityPending:
		return bson.M{"status": StatusPending, "attempts": bson.M{"$lte": 0}}
	case ActivityCanceled:
		return bson.M{"status": bson.M{"$in": canceledStatuses}}
	}
	return bson.M{}
}

// ActivityStatus is the operator-facing status of a message.
func (m *Message) ActivityStatus() string {
	switch {
	case m.Status == StatusSent:
		return ActivitySent
	case m.Status == StatusError && m.ErrorID == ErrorIDNeedsReconnect:
		return ActivityNeedsReconnect
	case m.Status == StatusError:
		return ActivityFailed
	case m.Status == StatusPending && m.Attempts > 0:
		return ActivityRetrying
	case m.Status == StatusPending:
		return ActivityPending
	}
	return ActivityCanceled
}

// ActivityFilter narrows the activity feed; empty fields do not filter.
type ActivityFilter struct {
	Status             string
	TemplateIdentifier string
	SubscriberID       string
	TransactionID      string
	From, To           time.Time
}

func (f ActivityFilter) base(env primitive.ObjectID) bson.M {
	q := bson.M{"_environmentId": env}
	if f.TemplateIdentifier != "" {
		q["templateIdentifier"] = f.TemplateIdentifier
	}
	if f.SubscriberID != "" {
		q["subscriberId"] = f.SubscriberID
	}
	if f.TransactionID != "" {
		q["transactionId"] = f.TransactionID
	}
	created := bson.M{}
	if !f.From.IsZero() {
		created["$gte"] = f.From
	}
	if !f.To.IsZero() {
		created["$lte"] = f.To
	}
	if len(created) > 0 {
		q["createdAt"] = created
	}
	return q
}

func merge(a, b bson.M) bson.M {
	out := bson.M{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// Activity returns a page of messages (newest first) matching f, the total,
// and the count per activity status over the same filter without the status.
func (l *Log) Activity(ctx context.Context, env primitive.ObjectID, f ActivityFilter, page, limit int) ([]Message, int64, map[string]int64, error) {
	base := f.base(env)
	counts := make(map[string]int64, len(ActivityStatuses))
	for _, s := range ActivityStatuses {
		n, err := l.messages.CountDocuments(ctx, merge(base, activityQuery(s)))
		if err != nil {
			return nil, 0, nil, fmt.Errorf("delivery: count activity: %w", err)
		}
		counts[s] = n
	}
	q := base
	var total int64
	if f.Status != "" {
		q = merge(base, activityQuery(f.Status))
		total = counts[f.Status]
	} else {
		n, err := l.messages.CountDocuments(ctx, base)
		if err != nil {
			return nil, 0, nil, fmt.Errorf("delivery: count activity: %w", err)
		}
		total = n
	}
	cur, err := l.messages.Find(ctx, q, options.Find().
		SetSort(bson.D{{Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}).
		SetSkip(int64(page*limit)).SetLimit(int64(limit)).
		SetProjection(bson.M{"executionDetails": 0, "content": 0, "blocks": 0}))
	if err != nil {
		return nil, 0, nil, fmt.Errorf("delivery: list activity: %w", err)
	}
	out := []Message{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, 0, nil, fmt.Errorf("delivery: list activity: %w", err)
	}
	return out, total, counts, nil
}
