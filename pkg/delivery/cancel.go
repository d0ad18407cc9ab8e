package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/heraldhq/herald/pkg/store"
)

// Canceler cancels a transaction's work that was not sent yet
// (DELETE /v1/events/trigger/:transactionId).
type Canceler struct {
	Logger    *slog.Logger
	Log       *Log
	Inspector *asynq.Inspector
	Redis     *redis.Client
}

// cancelable reports whether a task in this state can still be removed
// before it runs.
func cancelable(s asynq.TaskState) bool {
	return s == asynq.TaskStatePending || s == asynq.TaskStateScheduled || s == asynq.TaskStateRetry
}

// deleteTask removes a task that has not started. deleted reports whether it
// did; exists whether the task is known at all (running or recently done
// tasks exist but cannot be deleted).
func (c *Canceler) deleteTask(queue, id string) (deleted, exists bool, err error) {
	info, err := c.Inspector.GetTaskInfo(queue, id)
	if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("delivery: read task: %w", err)
	}
	if !cancelable(info.State) {
		return false, true, nil
	}
	if err := c.Inspector.DeleteTask(queue, id); err != nil {
		// Gone or started meanwhile: it is being (or was) processed.
		return false, true, nil
	}
	return true, true, nil
}

// Cancel cancels what the transaction has not sent yet in the environment:
// a trigger task still waiting, deliveries waiting (delayed, scheduled or
// between retries) and events waiting in a digest window. Each canceled
// message gets status canceled and a "Step canceled" detail. It reports
// whether anything was canceled.
func (c *Canceler) Cancel(ctx context.Context, env primitive.ObjectID, transactionID string) (bool, error) {
	canceled := false
	ok, triggerKnown, err := c.deleteTask(QueueTrigger, TriggerTaskID(env, transactionID))
	if err != nil {
		return false, err
	} else if ok {
		canceled = true
	}
	cur, err := c.Log.messages.Find(ctx, bson.M{"_environmentId": env, "transactionId": transactionID, "status": StatusPending},
		options.Find().SetProjection(bson.M{"_id": 1, "subscriberId": 1}))
	if err != nil {
		return false, fmt.Errorf("delivery: pending messages: %w", err)
	}
	var rows []struct {
		ID           primitive.ObjectID `bson:"_id"`
		SubscriberID string             `bson:"subscriberId"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return false, fmt.Errorf("delivery: pending messages: %w", err)
	}
	left := map[string]int{} // bucket leave result per subscriber
	n := 0
	for _, r := range rows {
		ok, exists, err := c.deleteTask(QueueDeliver, DeliverTaskID(r.ID))
		if err != nil {
			return canceled, err
		}
		if !ok && exists {
			continue // being sent
		}
		raw := `{"reason":"the task was deleted"}`
		if !ok {
			// No waiting task: the message may wait in a digest window.
			res, seen := left[r.SubscriberID]
			if !seen {
				res, err = c.leaveDigest(ctx, env, transactionID, r.SubscriberID)
				if err != nil {
					return canceled, err
				}
				left[r.SubscriberID] = res
			}
			if res <= 0 {
				continue
			}
			raw = `{"reason":"the event was removed from its digest"}`
		}
		d := NewDetail(TextStepCanceled, DetailWarning, SourceInternal, raw, false)
		res, err := c.Log.messages.UpdateOne(ctx, bson.M{"_id": r.ID, "status": StatusPending},
			bson.M{"$set": bson.M{"status": StatusCanceled, "updatedAt": store.Now()}, "$push": bson.M{"executionDetails": d}})
		if err != nil {
			return canceled, fmt.Errorf("delivery: cancel message: %w", err)
		}
		if res.ModifiedCount > 0 {
			canceled = true
			n++
		}
	}
	queued, err := c.markCanceled(ctx, env, transactionID, triggerKnown)
	if err != nil {
		return canceled, err
	}
	if c.Logger != nil {
		c.Logger.Info("transaction canceled", "transaction_id", transactionID, "canceled", canceled || queued, "messages", n, "queued_deliveries_stopped", queued)
	}
	return canceled || queued, nil
}

// CancelMarkTTL is how long a canceled transaction stays marked: as long as
// its transactionId cannot be triggered again.
const CancelMarkTTL = 24 * time.Hour

func cancelKey(env primitive.ObjectID, transactionID string) string {
	return "herald:canceltx:" + env.Hex() + ":" + transactionID
}

// markCanceled marks a known transaction canceled in Redis, so that its
// deliveries still waiting in the queue to be sent at once are recorded
// canceled, not sent, when a worker takes them (HandleDeliver reads the
// mark with the message's other state, in the same round trip). It reports
// whether the mark is new and some notification of the transaction has no
// settled message yet, i.e. whether it will stop anything.
func (c *Canceler) markCanceled(ctx context.Context, env primitive.ObjectID, transactionID string, triggerKnown bool) (bool, error) {
	if c.Redis == nil {
		return false, nil
	}
	q := bson.M{"_environmentId": env, "transactionId": transactionID}
	notes, err := c.Log.notifications.CountDocuments(ctx, q)
	if err != nil {
		return false, fmt.Errorf("delivery: cancel: %w", err)
	}
	if notes == 0 && !triggerKnown {
		return false, nil // unknown: marking it would cancel a future trigger with this id
	}
	fresh, err := c.Redis.SetNX(ctx, cancelKey(env, transactionID), "1", CancelMarkTTL).Result()
	if err != nil {
		return false, fmt.Errorf("delivery: mark transaction canceled: %w", err)
	}
	if !fresh {
		return false, nil
	}
	settled, err := c.Log.messages.CountDocuments(ctx, bson.M{"_environmentId": env, "transactionId": transactionID, "status": bson.M{"$ne": StatusPending}})
	if err != nil {
		return false, fmt.Errorf("delivery: cancel: %w", err)
	}
	return notes > settled, nil
}

// leaveDigest removes the subscriber's event of the transaction from its
// open digest bucket: 1 if removed, 0 if it was in none, -1 if the digest is
// being sent.
func (c *Canceler) leaveDigest(ctx context.Context, env primitive.ObjectID, transactionID, subscriberID string) (int, error) {
	if c.Redis == nil {
		return 0, nil
	}
	id, err := c.Redis.Get(ctx, memberKey(env, transactionID, subscriberID)).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("delivery: digest membership: %w", err)
	}
	n, err := leaveScript.Run(ctx, c.Redis, nil, id, transactionID, digestPrefix).Int()
	if err != nil {
		return 0, fmt.Errorf("delivery: leave digest: %w", err)
	}
	if n > 0 {
		n = 1
	}
	return n, nil
}
