package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/heraldhq/herald/pkg/filter"
	"github.com/heraldhq/herald/pkg/integration"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/template"
	"github.com/heraldhq/herald/pkg/workflow"
)

// TypeDigest is the task that sends a digest when its window closes.
const TypeDigest = "herald:digest"

// digestRetention is how long a digest bucket outlives its window in Redis
// (so that a redelivered trigger or digest task finds it again).
const digestRetention = 24 * time.Hour

const digestPrefix = "herald:digest:"

// A digest bucket is one window of events for one (workflow, digest step,
// subscriber, digestKey value), held in Redis:
//
//	herald:digest:open:<hash>        the open bucket's id; expires when its window ends
//	herald:digest:<id>:meta          hash: end (ms), open (the open key), closed
//	herald:digest:<id>:events        list of transaction ids, in arrival order
//	herald:digest:<id>:payloads      hash: transaction id → event JSON
//	herald:digest:member:<env>:<tx>:<subscriber> → the bucket id of that event
//
// The first event of a window creates the bucket and schedules the digest
// task (task id derived from the bucket) at the window's end; later events
// append to it; the task closes the bucket and sends one message per chat
// step after the digest. Every step is a Lua script, so joining, closing and
// canceling are atomic with respect to each other.

// digestEvent is one event waiting in a bucket.
type digestEvent struct {
	TransactionID  string             `json:"transactionId"`
	NotificationID primitive.ObjectID `json:"notificationId"`
	Payload        map[string]any     `json:"payload"`
	Overrides      map[string]any     `json:"overrides,omitempty"`
	CreatedAt      time.Time          `json:"createdAt"`
}

// digestJoin is an event that reached a digest step for a subscriber.
type digestJoin struct {
	EnvironmentID  primitive.ObjectID
	OrganizationID primitive.ObjectID
	WorkflowID     primitive.ObjectID
	StepID         primitive.ObjectID
	SubscriberID   string
	KeyValue       string
	EventAt        time.Time
	WindowEnd      time.Time
	Event          digestEvent
}

// DigestPayload is the digest task's payload.
type DigestPayload struct {
	EnvironmentID  primitive.ObjectID `json:"environmentId"`
	OrganizationID primitive.ObjectID `json:"organizationId"`
	WorkflowID     primitive.ObjectID `json:"workflowId"`
	StepID         primitive.ObjectID `json:"stepId"`
	SubscriberID   string             `json:"subscriberId"`
	BucketID       string             `json:"bucketId"`
}

func (w *Worker) newJoin(r stepRun, step workflow.Step) digestJoin {
	key := ""
	if k := step.Metadata.DigestKey; k != "" {
		if v, ok := filter.Lookup(r.p.Payload, k); ok {
			switch x := v.(type) {
			case string:
				key = x
			default:
				b, _ := json.Marshal(x)
				key = string(b)
			}
		}
	}
	at := r.at
	if now := store.Now(); at.Before(now) {
		at = now
	}
	return digestJoin{
		EnvironmentID: r.p.EnvironmentID, OrganizationID: r.p.OrganizationID, WorkflowID: r.wf.ID, StepID: step.ID,
		SubscriberID: r.sub.SubscriberID, KeyValue: key, EventAt: at, WindowEnd: step.Metadata.After(at),
		Event: digestEvent{TransactionID: r.p.TransactionID, NotificationID: r.nid, Payload: nonNil(r.p.Payload),
			Overrides: r.p.Overrides, CreatedAt: r.p.CreatedAt},
	}
}

func openKey(j digestJoin) string {
	h := sha256.New()
	for _, s := range []string{j.EnvironmentID.Hex(), j.WorkflowID.Hex(), j.StepID.Hex(), j.SubscriberID, j.KeyValue} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return digestPrefix + "open:" + hex.EncodeToString(h.Sum(nil))
}

func memberKey(env primitive.ObjectID, transactionID, subscriberID string) string {
	return digestPrefix + "member:" + env.Hex() + ":" + transactionID + ":" + subscriberID
}

// joinScript adds an event to the open bucket or opens one. It is
// idempotent per (transaction, subscriber): a redelivered trigger gets the
// bucket it joined the first time.
// KEYS: open key, member key. ARGV: new bucket id, window end (ms),
// transaction id, event JSON, expiry of a new bucket's keys (ms), prefix.
// Returns {bucket id, window end ms}.
var joinScript = redis.NewScript(`
local existing = redis.call('GET', KEYS[2])
if existing then
  local e = redis.call('HGET', ARGV[6] .. existing .. ':meta', 'end')
  return {existing, e or ARGV[2]}
end
local id = redis.call('GET', KEYS[1])
local endms = ARGV[2]
if id then
  endms = redis.call('HGET', ARGV[6] .. id .. ':meta', 'end')
end
if not id or not endms then
  id = ARGV[1]
  endms = ARGV[2]
  redis.call('SET', KEYS[1], id, 'PXAT', ARGV[2])
  redis.call('HSET', ARGV[6] .. id .. ':meta', 'end', ARGV[2], 'open', KEYS[1])
  redis.call('PEXPIREAT', ARGV[6] .. id .. ':meta', ARGV[5])
end
local ttl = redis.call('PTTL', ARGV[6] .. id .. ':meta')
redis.call('RPUSH', ARGV[6] .. id .. ':events', ARGV[3])
redis.call('HSET', ARGV[6] .. id .. ':payloads', ARGV[3], ARGV[4])
redis.call('PEXPIRE', ARGV[6] .. id .. ':events', ttl)
redis.call('PEXPIRE', ARGV[6] .. id .. ':payloads', ttl)
redis.call('SET', KEYS[2], id, 'PX', ttl)
return {id, endms}
`)

// closeScript closes a bucket (no event joins or leaves it afterwards) and
// returns its events as {tx, event JSON, ...}. Closing twice returns the same.
// ARGV: bucket id, prefix.
var closeScript = redis.NewScript(`
local meta = ARGV[2] .. ARGV[1] .. ':meta'
if redis.call('EXISTS', meta) == 0 then return {} end
redis.call('HSET', meta, 'closed', '1')
local open = redis.call('HGET', meta, 'open')
if open and redis.call('GET', open) == ARGV[1] then redis.call('DEL', open) end
local txs = redis.call('LRANGE', ARGV[2] .. ARGV[1] .. ':events', 0, -1)
local out = {}
for _, tx in ipairs(txs) do
  out[#out + 1] = tx
  out[#out + 1] = redis.call('HGET', ARGV[2] .. ARGV[1] .. ':payloads', tx) or ''
end
return out
`)

// leaveScript removes an event from a bucket that is still open.
// ARGV: bucket id, transaction id, prefix. Returns the number removed, or
// -1 when the bucket is already closed (its digest is being sent).
var leaveScript = redis.NewScript(`
local meta = ARGV[3] .. ARGV[1] .. ':meta'
if redis.call('HGET', meta, 'closed') == '1' then return -1 end
local n = redis.call('LREM', ARGV[3] .. ARGV[1] .. ':events', 0, ARGV[2])
redis.call('HDEL', ARGV[3] .. ARGV[1] .. ':payloads', ARGV[2])
return n
`)

var errNoRedis = errors.New("delivery: digest steps need the worker's Redis client")

// joinDigests adds events to their buckets and makes sure each bucket's
// digest task is scheduled (the task id dedupes).
func (w *Worker) joinDigests(ctx context.Context, joins []digestJoin) error {
	if len(joins) == 0 {
		return nil
	}
	if w.Redis == nil {
		return fmt.Errorf("%w: %w", errNoRedis, asynq.SkipRetry)
	}
	for _, j := range joins {
		ev, err := json.Marshal(j.Event)
		if err != nil {
			return fmt.Errorf("delivery: encode digest event: %w", err)
		}
		ok := openKey(j)
		candidate := derivedID("digest", ok, j.Event.TransactionID).Hex()
		expiry := j.WindowEnd.Add(digestRetention).UnixMilli()
		res, err := joinScript.Run(ctx, w.Redis, []string{ok, memberKey(j.EnvironmentID, j.Event.TransactionID, j.SubscriberID)},
			candidate, j.WindowEnd.UnixMilli(), j.Event.TransactionID, string(ev), expiry, digestPrefix).StringSlice()
		if err != nil || len(res) != 2 {
			return fmt.Errorf("delivery: join digest: %v", err)
		}
		endMS, err := strconv.ParseInt(res[1], 10, 64)
		if err != nil {
			return fmt.Errorf("delivery: join digest: bad window end %q", res[1])
		}
		task, err := NewDigestTask(DigestPayload{
			EnvironmentID: j.EnvironmentID, OrganizationID: j.OrganizationID, WorkflowID: j.WorkflowID,
			StepID: j.StepID, SubscriberID: j.SubscriberID, BucketID: res[0],
		}, time.UnixMilli(endMS))
		if err != nil {
			return err
		}
		if _, err := w.Queue.EnqueueContext(ctx, task); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("delivery: enqueue digest: %w", err)
		}
	}
	return nil
}

// DigestTaskID is the asynq task id of a bucket's digest.
func DigestTaskID(bucketID string) string { return "digest:" + bucketID }

// NewDigestTask returns the task sending a bucket's digest at its window's end.
func NewDigestTask(p DigestPayload, at time.Time) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("delivery: encode digest: %w", err)
	}
	return asynq.NewTask(TypeDigest, b, asynq.Queue(QueueTrigger), asynq.TaskID(DigestTaskID(p.BucketID)),
		asynq.ProcessAt(at), asynq.MaxRetry(TriggerMaxRetry), asynq.Retention(TriggerRetention),
		asynq.Timeout(5*time.Minute)), nil
}

// HandleDigest closes a bucket and sends its digest: the earliest remaining
// event's messages of the chat steps after the digest step are rendered
// with step.events (the events' payloads), step.total_count and
// step.digest, and delivered; the other events' messages are marked merged.
// It is idempotent: a redelivered task reads the same closed bucket, fills
// in messages only once and enqueues deliveries under deterministic ids.
func (w *Worker) HandleDigest(ctx context.Context, t *asynq.Task) error {
	var p DigestPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("delivery: bad digest payload: %v: %w", err, asynq.SkipRetry)
	}
	if w.Redis == nil {
		return fmt.Errorf("%w: %w", errNoRedis, asynq.SkipRetry)
	}
	log := w.Logger.With("subscriber_id", p.SubscriberID, "digest", p.BucketID)
	raw, err := closeScript.Run(ctx, w.Redis, nil, p.BucketID, digestPrefix).StringSlice()
	if err != nil {
		return fmt.Errorf("delivery: close digest: %w", err)
	}
	var events []digestEvent
	for i := 0; i+1 < len(raw); i += 2 {
		var ev digestEvent
		if err := json.Unmarshal([]byte(raw[i+1]), &ev); err != nil {
			log.Warn("unreadable digest event dropped", "transaction_id", raw[i])
			continue
		}
		events = append(events, ev)
	}
	// In the order the API accepted them (triggers are processed
	// concurrently); events accepted in the same millisecond keep their
	// arrival order.
	sort.SliceStable(events, func(i, j int) bool { return events[i].CreatedAt.Before(events[j].CreatedAt) })
	txs := make([]string, len(events))
	for i, ev := range events {
		txs[i] = ev.TransactionID
	}
	if len(events) == 0 {
		log.Debug("digest window closed without events")
		return nil
	}
	wf, err := w.Workflows.GetCached(ctx, p.EnvironmentID, p.WorkflowID)
	steps := []workflow.Step(nil)
	if err == nil {
		steps = wf.ActiveSteps()
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	idx := -1
	for i, s := range steps {
		if s.ID == p.StepID {
			idx = i
		}
	}
	sub, serr := w.Subscribers.Get(ctx, p.EnvironmentID, p.SubscriberID)
	if idx < 0 || serr != nil {
		if serr != nil && !errors.Is(serr, store.ErrNotFound) {
			return serr
		}
		reason := "the workflow or its digest step was removed before the digest was sent"
		if serr != nil {
			reason = "the subscriber was deleted before the digest was sent"
		}
		d := NewDetail(TextContentFailed, DetailFailed, SourceInternal, reason, false)
		return w.Log.finishPending(ctx, p.EnvironmentID, txs, p.SubscriberID, nil, bson.M{
			"status": StatusError, "errorId": "digest_failed", "errorText": reason}, d)
	}
	var post []primitive.ObjectID
	for _, s := range steps[idx+1:] {
		if s.Kind() == workflow.StepTypeChat {
			post = append(post, s.ID)
		}
	}
	active, err := w.Integrations.ActiveCached(ctx, p.EnvironmentID)
	if err != nil {
		return err
	}
	byID := make(map[primitive.ObjectID]*integration.Integration, len(active))
	for i := range active {
		byID[active[i].ID] = &active[i]
	}

	leader := events[0]
	payloads := make([]any, len(events))
	for i, ev := range events {
		payloads[i] = ev.Payload
	}
	data := template.Data(leader.Payload, template.Subscriber{
		SubscriberID: sub.SubscriberID, FirstName: sub.FirstName, LastName: sub.LastName, Email: sub.Email,
		Phone: sub.Phone, Avatar: sub.Avatar, Locale: sub.Locale, Data: sub.Data,
	})
	data["step"] = map[string]any{"digest": true, "events": payloads, "total_count": len(events)}
	summary := rawJSON(map[string]any{"total_count": len(events), "transactionIds": txs, "digest": p.BucketID})
	run := stepRun{
		p: TriggerPayload{EnvironmentID: p.EnvironmentID, OrganizationID: p.OrganizationID, WorkflowID: p.WorkflowID,
			TransactionID: leader.TransactionID, Payload: leader.Payload, Overrides: leader.Overrides, CreatedAt: leader.CreatedAt},
		wf: wf, sub: sub, nid: leader.NotificationID, data: data, active: byID, at: store.Now(), digested: true,
		pre: []Detail{NewDetail(TextDigestTriggered, DetailSuccess, SourceInternal, summary, false)},
	}
	res := w.walkSteps(newPlan(steps), run, idx+1)
	var ids []primitive.ObjectID
	for _, pr := range res.prepared {
		if err := w.Log.fillDigest(ctx, pr.msg, len(events)); err != nil {
			return err
		}
		ids = append(ids, pr.msg.ID)
	}
	settled, err := w.Log.SettledIDs(ctx, ids)
	if err != nil {
		return err
	}
	for _, pr := range res.prepared {
		if !pr.ok || settled[pr.msg.ID] {
			continue
		}
		task, err := NewDeliverTask(pr.task)
		if err != nil {
			return err
		}
		if _, err := w.Queue.EnqueueContext(ctx, task); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("delivery: enqueue deliver: %w", err)
		}
	}
	if len(events) > 1 && len(post) > 0 {
		merged := NewDetail(TextDigestMerged, DetailSuccess, SourceInternal, rawJSON(map[string]any{
			"total_count": len(events), "digestTransactionId": leader.TransactionID, "digest": p.BucketID}), false)
		if err := w.Log.finishPending(ctx, p.EnvironmentID, txs[1:], p.SubscriberID, post, bson.M{"status": StatusMerged}, merged); err != nil {
			return err
		}
	}
	log.Debug("digest sent", "events", len(events), "transaction_id", leader.TransactionID)
	return nil
}

// fillDigest writes a digest message over its placeholder, once: the
// rendered content, the outcome and the digest details.
func (l *Log) fillDigest(ctx context.Context, m Message, count int) error {
	set := bson.M{
		"status": m.Status, "errorId": m.ErrorID, "errorText": m.ErrorText, "content": m.Content, "blocks": m.Blocks,
		"providerId": m.ProviderID, "integrationIdentifier": m.IntegrationIdentifier, "digestCount": count,
		"updatedAt": store.Now(),
	}
	if !m.IntegrationID.IsZero() {
		set["_integrationId"] = m.IntegrationID
	}
	details := m.ExecutionDetails
	if len(details) > 0 && details[0].Detail == TextStepCreated {
		details = details[1:] // the placeholder has its own
	}
	_, err := l.messages.UpdateOne(ctx, bson.M{"_id": m.ID, "status": StatusPending, "digestCount": bson.M{"$exists": false}},
		bson.M{"$set": set, "$push": bson.M{"executionDetails": bson.M{"$each": details}}})
	if err != nil {
		return fmt.Errorf("delivery: fill digest message: %w", err)
	}
	return nil
}

// finishPending sets fields on the subscriber's pending messages of the
// given transactions (only of the given steps when steps is not nil) and
// records d on each.
func (l *Log) finishPending(ctx context.Context, env primitive.ObjectID, txs []string, subscriberID string, steps []primitive.ObjectID, set bson.M, d Detail) error {
	q := bson.M{"_environmentId": env, "transactionId": bson.M{"$in": txs}, "subscriberId": subscriberID, "status": StatusPending}
	if steps != nil {
		q["_stepId"] = bson.M{"$in": steps}
	}
	set["updatedAt"] = store.Now()
	if _, err := l.messages.UpdateMany(ctx, q, bson.M{"$set": set, "$push": bson.M{"executionDetails": d}}); err != nil {
		return fmt.Errorf("delivery: update digested messages: %w", err)
	}
	return nil
}
