package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/heraldhq/herald/pkg/store"
)

// Message statuses.
const (
	StatusPending = "pending"
	StatusSent    = "sent"
	StatusError   = "error"
)

// Execution detail statuses, sources and texts (Novu's).
const (
	DetailSuccess = "Success"
	DetailFailed  = "Failed"
	DetailPending = "Pending"
	DetailQueued  = "Queued"
	DetailWarning = "Warning"

	SourceCredentials = "Credentials"
	SourceInternal    = "Internal"
	SourcePayload     = "Payload"
	SourceWebhook     = "Webhook"

	TextStepCreated         = "Step created"
	TextStepQueued          = "Step queued"
	TextStartSending        = "Start sending message"
	TextIntegrationSelected = "Integration instance selected"
	TextMessageCreated      = "Message created"
	TextMessageSent         = "Message sent"
	TextProviderError       = "Unexpected provider error"
	TextWebhookMissing      = "Webhook URL for the chat channel is missing"
	TextNoIntegration       = "Subscriber does not have an active integration"
	TextContentFailed       = "Message content could not be generated"
)

// Detail is one execution detail, embedded in its message.
type Detail struct {
	ID        primitive.ObjectID `bson:"_id"`
	Detail    string             `bson:"detail"`
	Source    string             `bson:"source"`
	Status    string             `bson:"status"`
	Raw       string             `bson:"raw,omitempty"`
	IsRetry   bool               `bson:"isRetry"`
	CreatedAt time.Time          `bson:"createdAt"`
}

// NewDetail returns a detail stamped now.
func NewDetail(text, status, source, raw string, isRetry bool) Detail {
	return Detail{ID: primitive.NewObjectID(), Detail: text, Status: status, Source: source, Raw: raw, IsRetry: isRetry, CreatedAt: store.Now()}
}

// Notification is one trigger for one subscriber.
type Notification struct {
	ID                 primitive.ObjectID `bson:"_id"`
	EnvironmentID      primitive.ObjectID `bson:"_environmentId"`
	OrganizationID     primitive.ObjectID `bson:"_organizationId"`
	TemplateID         primitive.ObjectID `bson:"_templateId"`
	TemplateName       string             `bson:"templateName"`
	TemplateIdentifier string             `bson:"templateIdentifier"`
	TransactionID      string             `bson:"transactionId"`
	SubscriberObjID    primitive.ObjectID `bson:"_subscriberId"`
	SubscriberID       string             `bson:"subscriberId"`
	Channels           []string           `bson:"channels"`
	Payload            map[string]any     `bson:"payload"`
	CreatedAt          time.Time          `bson:"createdAt"`
	UpdatedAt          time.Time          `bson:"updatedAt"`
}

// Message is one delivery of one step to one subscriber (Novu's job and
// message in one document) with its execution details embedded.
type Message struct {
	ID                    primitive.ObjectID `bson:"_id"`
	EnvironmentID         primitive.ObjectID `bson:"_environmentId"`
	OrganizationID        primitive.ObjectID `bson:"_organizationId"`
	NotificationID        primitive.ObjectID `bson:"_notificationId"`
	TemplateID            primitive.ObjectID `bson:"_templateId"`
	TemplateIdentifier    string             `bson:"templateIdentifier"`
	StepID                primitive.ObjectID `bson:"_stepId"`
	StepName              string             `bson:"stepName"`
	SubscriberObjID       primitive.ObjectID `bson:"_subscriberId"`
	SubscriberID          string             `bson:"subscriberId"`
	TransactionID         string             `bson:"transactionId"`
	Channel               string             `bson:"channel"`
	ProviderID            string             `bson:"providerId,omitempty"`
	IntegrationID         primitive.ObjectID `bson:"_integrationId,omitempty"`
	IntegrationIdentifier string             `bson:"integrationIdentifier,omitempty"`
	Content               string             `bson:"content"`
	Blocks                string             `bson:"blocks,omitempty"`
	Status                string             `bson:"status"`
	ErrorID               string             `bson:"errorId,omitempty"`
	ErrorText             string             `bson:"errorText,omitempty"`
	Attempts              int                `bson:"attempts"`
	ExecutionDetails      []Detail           `bson:"executionDetails"`
	DeliveredAt           []time.Time        `bson:"deliveredAt"`
	CreatedAt             time.Time          `bson:"createdAt"`
	UpdatedAt             time.Time          `bson:"updatedAt"`
}

// Log stores notifications and messages.
type Log struct {
	notifications *mongo.Collection
	messages      *mongo.Collection

	notificationsIns, messagesIns *groupInsert

	// wb, while running, batches attempt records (see StartWriteBehind).
	wbMu sync.RWMutex
	wb   *writeBehind
	// unwritten counts attempt records queued or being written.
	unwritten atomic.Int64
}

// NewLog returns a Log.
func NewLog(st *store.Store) *Log {
	n, m := st.C(store.Notifications), st.C(store.Messages)
	return &Log{notifications: n, messages: m, notificationsIns: &groupInsert{coll: n}, messagesIns: &groupInsert{coll: m}}
}

// groupInsert coalesces concurrent inserts into one collection: while one
// InsertMany is in flight, the calls that arrive wait and are written
// together by the next, so concurrent triggers share database round trips
// and commits. An idle caller is written at once (no timer).
type groupInsert struct {
	coll     *mongo.Collection
	mu       sync.Mutex
	pending  []*insertCall
	flushing bool
}

type insertCall struct {
	docs []any
	dups []int
	err  error
	done chan struct{}
}

// maxGroupDocs bounds one grouped InsertMany.
const maxGroupDocs = 1000

// insert writes docs unordered and returns the indexes that already existed
// (duplicate ids from a redelivered trigger).
func (g *groupInsert) insert(ctx context.Context, docs []any) ([]int, error) {
	if len(docs) == 0 {
		return nil, nil
	}
	c := &insertCall{docs: docs, done: make(chan struct{})}
	g.mu.Lock()
	g.pending = append(g.pending, c)
	if !g.flushing {
		g.flushing = true
		go g.flushLoop()
	}
	g.mu.Unlock()
	select {
	case <-c.done:
		return c.dups, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (g *groupInsert) flushLoop() {
	for {
		g.mu.Lock()
		n, take := 0, 0
		for take < len(g.pending) && (take == 0 || n+len(g.pending[take].docs) <= maxGroupDocs) {
			n += len(g.pending[take].docs)
			take++
		}
		batch := g.pending[:take:take]
		g.pending = g.pending[take:]
		if len(batch) == 0 {
			g.flushing = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		g.write(batch, n)
	}
}

// write inserts the calls' documents in one InsertMany and hands each call
// its own duplicates or error.
func (g *groupInsert) write(batch []*insertCall, n int) {
	all := make([]any, 0, n)
	for _, c := range batch {
		all = append(all, c.docs...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	_, err := g.coll.InsertMany(ctx, all, options.InsertMany().SetOrdered(false))
	cancel()
	var bwe mongo.BulkWriteException
	switch {
	case errors.As(err, &bwe) && bwe.WriteConcernError == nil:
		for _, we := range bwe.WriteErrors {
			start := 0
			for _, c := range batch {
				if we.Index < start+len(c.docs) {
					if we.Code == 11000 {
						c.dups = append(c.dups, we.Index-start)
					} else if c.err == nil {
						c.err = fmt.Errorf("insert into %s: %w", g.coll.Name(), err)
					}
					break
				}
				start += len(c.docs)
			}
		}
		for _, c := range batch {
			if c.err != nil {
				c.dups = nil
			}
		}
	case err != nil:
		for _, c := range batch {
			c.err = fmt.Errorf("insert into %s: %w", g.coll.Name(), err)
		}
	}
	for _, c := range batch {
		close(c.done)
	}
}

func anySlice[T any](docs []T) []any {
	items := make([]any, len(docs))
	for i := range docs {
		items[i] = docs[i]
	}
	return items
}

// InsertNotifications inserts notifications; existing ones are kept.
// Concurrent calls share one InsertMany.
func (l *Log) InsertNotifications(ctx context.Context, ns []Notification) error {
	_, err := l.notificationsIns.insert(ctx, anySlice(ns))
	return err
}

// InsertMessages inserts messages and returns the indexes of those that
// already existed. Concurrent calls share one InsertMany.
func (l *Log) InsertMessages(ctx context.Context, ms []Message) ([]int, error) {
	return l.messagesIns.insert(ctx, anySlice(ms))
}

// SettledIDs returns which of the given messages are written and no
// longer pending (sent, failed, canceled): a redelivered task must not
// enqueue them again.
func (l *Log) SettledIDs(ctx context.Context, ids []primitive.ObjectID) (map[primitive.ObjectID]bool, error) {
	out := map[primitive.ObjectID]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	cur, err := l.messages.Find(ctx, bson.M{"_id": bson.M{"$in": ids}, "status": bson.M{"$ne": StatusPending}},
		options.Find().SetProjection(bson.M{"_id": 1}))
	if err != nil {
		return nil, fmt.Errorf("delivery: settled messages: %w", err)
	}
	var rows []struct {
		ID primitive.ObjectID `bson:"_id"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("delivery: settled messages: %w", err)
	}
	for _, r := range rows {
		out[r.ID] = true
	}
	return out, nil
}

// Attempt is the outcome of one delivery attempt, written in one update.
type Attempt struct {
	Status    string
	ErrorID   string
	ErrorText string
	Details   []Detail
	Delivered bool
	// Retry is set when an earlier attempt of the message may have been
	// recorded (a retry or a redelivery).
	Retry bool
}

// errExists reports that a message written whole was already there.
var errExists = errors.New("delivery: message already recorded")

// RecordAttempt writes one attempt's outcome.
//
// With a draft (a message the fan-out built but did not write), the first
// attempt inserts the whole message, its details and the attempt's in one
// document, and concurrent inserts share one InsertMany: one batched write
// per delivery. A retry updates it, inserting the draft if the first
// attempt's record was lost; a draft found already written (a redelivered
// task) is updated instead.
//
// Otherwise ($set status, $push details, $inc attempts) while write-behind
// runs (StartWriteBehind) the record joins others in one bulk write (group
// commit). Either way RecordAttempt waits for the write: its error is this
// record's own, so a caller that must not lose a "sent" record (see
// HandleDeliver) can still act on a failure.
func (l *Log) RecordAttempt(ctx context.Context, id primitive.ObjectID, draft *Message, a Attempt) error {
	now := store.Now()
	if draft != nil {
		if !a.Retry {
			if err := l.insertDraft(ctx, draft, a, now); !errors.Is(err, errExists) {
				return err
			}
		} else if ok, err := l.updateOne(ctx, id, a, now); ok || err != nil {
			return err
		} else if err := l.insertDraft(ctx, draft, a, now); !errors.Is(err, errExists) {
			return err
		}
		_, err := l.updateOne(ctx, id, a, now)
		return err
	}
	l.wbMu.RLock()
	if wb := l.wb; wb != nil {
		l.unwritten.Add(1)
		done := make(chan error, 1)
		select {
		case wb.queue <- pendingAttempt{id: id, update: attemptUpdate(a, now), done: done}:
			l.wbMu.RUnlock()
		case <-ctx.Done():
			l.unwritten.Add(-1)
			l.wbMu.RUnlock()
			return ctx.Err()
		}
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	l.wbMu.RUnlock()
	_, err := l.updateOne(ctx, id, a, now)
	return err
}

// updateOne applies an attempt to a written message and reports whether
// the message was there.
func (l *Log) updateOne(ctx context.Context, id primitive.ObjectID, a Attempt, now time.Time) (bool, error) {
	res, err := l.messages.UpdateOne(ctx, bson.M{"_id": id}, attemptUpdate(a, now))
	if err != nil {
		return false, fmt.Errorf("delivery: record attempt: %w", err)
	}
	return res.MatchedCount > 0, nil
}

// recordCanceled records a message its transaction's cancel stopped before
// it was sent: a draft is inserted canceled (no attempt), a written message
// still pending (waiting for a retry) is updated.
func (l *Log) recordCanceled(ctx context.Context, id primitive.ObjectID, draft *Message, d Detail) error {
	now := store.Now()
	if draft != nil {
		if err := l.insertWhole(ctx, finished(draft, StatusCanceled, now, d)); !errors.Is(err, errExists) {
			return err
		}
	}
	_, err := l.messages.UpdateOne(ctx, bson.M{"_id": id, "status": StatusPending},
		bson.M{"$set": bson.M{"status": StatusCanceled, "updatedAt": now}, "$push": bson.M{"executionDetails": d}})
	if err != nil {
		return fmt.Errorf("delivery: record canceled: %w", err)
	}
	return nil
}

// insertDraft writes a draft message with one attempt applied; errExists
// when it was written before.
func (l *Log) insertDraft(ctx context.Context, draft *Message, a Attempt, now time.Time) error {
	m := finished(draft, a.Status, now, a.Details...)
	m.ErrorID, m.ErrorText = a.ErrorID, a.ErrorText
	m.Attempts = 1
	if a.Delivered {
		m.DeliveredAt = append(m.DeliveredAt, now)
	}
	return l.insertWhole(ctx, m)
}

// finished is a draft as written once its outcome is known: the status set
// and the outcome's details after the draft's own.
func finished(draft *Message, status string, now time.Time, details ...Detail) Message {
	m := *draft
	m.Status, m.UpdatedAt = status, now
	m.ExecutionDetails = append(append(make([]Detail, 0, len(draft.ExecutionDetails)+len(details)), draft.ExecutionDetails...), details...)
	m.DeliveredAt = []time.Time{}
	return m
}

// insertWhole inserts a complete message through the shared InsertMany;
// errExists when it was written before.
func (l *Log) insertWhole(ctx context.Context, m Message) error {
	dups, err := l.messagesIns.insert(ctx, []any{m})
	if err != nil {
		return fmt.Errorf("delivery: record message: %w", err)
	}
	if len(dups) > 0 {
		return errExists
	}
	return nil
}

func attemptUpdate(a Attempt, now time.Time) bson.M {
	set := bson.M{"status": a.Status, "updatedAt": now, "errorId": a.ErrorID, "errorText": a.ErrorText}
	push := bson.M{"executionDetails": bson.M{"$each": a.Details}}
	if a.Delivered {
		push["deliveredAt"] = now
	}
	return bson.M{"$set": set, "$push": push, "$inc": bson.M{"attempts": 1}}
}

// WriteBehind configures the batching of attempt records. Zero fields take
// their defaults.
type WriteBehind struct {
	// MaxBatch is the most records one bulk write carries (default 8).
	// Keep it small: FerretDB v1 on PostgreSQL holds one pooled PostgreSQL
	// connection per update statement until the whole command ends (its
	// pool has 50), so a bulk update of hundreds of statements deadlocks it;
	// Writers × MaxBatch stays well under 50.
	MaxBatch int
	// Writers is how many bulk writes may run at once (default 4).
	Writers int
	// Queue is how many records may wait; RecordAttempt blocks beyond it
	// (default 10000), so a slow database slows the worker down instead of
	// growing memory.
	Queue int
	// Logger receives write failures.
	Logger *slog.Logger
}

type pendingAttempt struct {
	id     primitive.ObjectID
	update bson.M
	done   chan error // receives this record's outcome (buffered)
}

type writeBehind struct {
	o     WriteBehind
	queue chan pendingAttempt
	done  sync.WaitGroup
}

// StartWriteBehind makes RecordAttempt queue its records and write them
// with one unordered BulkWrite per MaxBatch records (group commit): each
// caller still waits for, and gets the outcome of, its own record. A failed
// bulk write is logged and reported to its callers, never retried here (it
// may have been partly applied).
// StopWriteBehind writes what is queued. Starting it twice is a no-op.
func (l *Log) StartWriteBehind(o WriteBehind) {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 8
	}
	if o.Writers <= 0 {
		o.Writers = 4
	}
	if o.Queue <= 0 {
		o.Queue = 10000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	l.wbMu.Lock()
	defer l.wbMu.Unlock()
	if l.wb != nil {
		return
	}
	wb := &writeBehind{o: o, queue: make(chan pendingAttempt, o.Queue)}
	for i := 0; i < o.Writers; i++ {
		wb.done.Add(1)
		go l.writeLoop(wb)
	}
	l.wb = wb
}

// StopWriteBehind writes the queued records and returns RecordAttempt to
// writing synchronously.
func (l *Log) StopWriteBehind() {
	l.wbMu.Lock()
	wb := l.wb
	l.wb = nil
	l.wbMu.Unlock()
	if wb == nil {
		return
	}
	close(wb.queue)
	wb.done.Wait()
}

// writeLoop collects a batch (the first record, then whatever is already
// queued, up to MaxBatch) and writes it, until the queue closes.
func (l *Log) writeLoop(wb *writeBehind) {
	defer wb.done.Done()
	batch := make([]pendingAttempt, 0, wb.o.MaxBatch)
	for {
		first, ok := <-wb.queue
		if !ok {
			return
		}
		batch = append(batch[:0], first)
		open := true
	drain:
		for len(batch) < wb.o.MaxBatch {
			select {
			case p, more := <-wb.queue:
				if !more {
					open = false
					break drain
				}
				batch = append(batch, p)
			default:
				break drain
			}
		}
		l.writeBatch(wb.o.Logger, batch)
		if !open {
			return
		}
	}
}

// UnwrittenAttempts is how many attempt records are queued or being
// written by the write-behind.
func (l *Log) UnwrittenAttempts() int { return int(l.unwritten.Load()) }

func (l *Log) writeBatch(log *slog.Logger, batch []pendingAttempt) {
	defer l.unwritten.Add(-int64(len(batch)))
	models := make([]mongo.WriteModel, len(batch))
	for i, p := range batch {
		models[i] = mongo.NewUpdateOneModel().SetFilter(bson.M{"_id": p.id}).SetUpdate(p.update)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Not retried: the updates push details and count attempts, so a
	// partly applied batch must not be applied again.
	_, err := l.messages.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
	outcome := make([]error, len(batch))
	var bwe mongo.BulkWriteException
	switch {
	case errors.As(err, &bwe) && len(bwe.WriteErrors) > 0:
		log.Error("could not record delivery attempts", "failed", len(bwe.WriteErrors), "batch", len(batch), "error", bwe.WriteErrors[0].Message)
		for _, we := range bwe.WriteErrors {
			if we.Index >= 0 && we.Index < len(batch) {
				outcome[we.Index] = fmt.Errorf("delivery: record attempt: %s", we.Message)
			}
		}
	case err != nil:
		log.Error("could not record delivery attempts", "batch", len(batch), "error", err.Error())
		for i := range outcome {
			outcome[i] = fmt.Errorf("delivery: record attempt: %w", err)
		}
	}
	for i, p := range batch {
		if p.done != nil {
			p.done <- outcome[i]
		}
	}
}

// NotificationFilter selects notifications; empty fields do not filter.
type NotificationFilter struct {
	TransactionID string
	SubscriberIDs []string
	Channels      []string
	TemplateIDs   []primitive.ObjectID
	// Status selects notifications having at least one message in it.
	Status string
}

// maxStatusScan bounds how many messages a status filter considers.
const maxStatusScan = 10000

// ListNotifications returns a page of notifications, newest first, and the total.
func (l *Log) ListNotifications(ctx context.Context, env primitive.ObjectID, f NotificationFilter, page, limit int) ([]Notification, int64, error) {
	q := bson.M{"_environmentId": env}
	if f.TransactionID != "" {
		q["transactionId"] = f.TransactionID
	}
	if len(f.SubscriberIDs) > 0 {
		q["subscriberId"] = bson.M{"$in": f.SubscriberIDs}
	}
	if len(f.Channels) > 0 {
		q["channels"] = bson.M{"$in": f.Channels}
	}
	if len(f.TemplateIDs) > 0 {
		q["_templateId"] = bson.M{"$in": f.TemplateIDs}
	}
	if f.Status != "" {
		mq := bson.M{"_environmentId": env, "status": f.Status}
		if f.TransactionID != "" {
			mq["transactionId"] = f.TransactionID
		}
		cur, err := l.messages.Find(ctx, mq, options.Find().SetProjection(bson.M{"_notificationId": 1}).
			SetSort(bson.D{{Key: "createdAt", Value: -1}}).SetLimit(maxStatusScan))
		if err != nil {
			return nil, 0, fmt.Errorf("delivery: status filter: %w", err)
		}
		var rows []struct {
			NotificationID primitive.ObjectID `bson:"_notificationId"`
		}
		if err := cur.All(ctx, &rows); err != nil {
			return nil, 0, fmt.Errorf("delivery: status filter: %w", err)
		}
		ids := make([]primitive.ObjectID, 0, len(rows))
		for _, r := range rows {
			ids = append(ids, r.NotificationID)
		}
		q["_id"] = bson.M{"$in": ids}
	}
	total, err := l.notifications.CountDocuments(ctx, q)
	if err != nil {
		return nil, 0, fmt.Errorf("delivery: count notifications: %w", err)
	}
	cur, err := l.notifications.Find(ctx, q, options.Find().
		SetSort(bson.D{{Key: "createdAt", Value: -1}, {Key: "_id", Value: 1}}).
		SetSkip(int64(page*limit)).SetLimit(int64(limit)))
	if err != nil {
		return nil, 0, fmt.Errorf("delivery: list notifications: %w", err)
	}
	out := []Notification{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, 0, fmt.Errorf("delivery: list notifications: %w", err)
	}
	return out, total, nil
}

// GetNotification returns one notification.
func (l *Log) GetNotification(ctx context.Context, env, id primitive.ObjectID) (*Notification, error) {
	var n Notification
	err := l.notifications.FindOne(ctx, bson.M{"_id": id, "_environmentId": env}).Decode(&n)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("delivery: get notification: %w", err)
	}
	return &n, nil
}

// MessagesOf returns the messages of the given notifications (one query),
// optionally of one subscriber, oldest first.
func (l *Log) MessagesOf(ctx context.Context, env primitive.ObjectID, notificationIDs []primitive.ObjectID, subscriberID string) ([]Message, error) {
	out := []Message{}
	if len(notificationIDs) == 0 {
		return out, nil
	}
	q := bson.M{"_environmentId": env, "_notificationId": bson.M{"$in": notificationIDs}}
	if subscriberID != "" {
		q["subscriberId"] = subscriberID
	}
	cur, err := l.messages.Find(ctx, q, options.Find().SetSort(bson.D{{Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("delivery: messages: %w", err)
	}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("delivery: messages: %w", err)
	}
	return out, nil
}

// MessageFilter selects messages; empty fields do not filter.
type MessageFilter struct {
	Channel        string
	SubscriberID   string
	TransactionIDs []string
}

// ListMessages returns a page of messages, newest first, and the total.
func (l *Log) ListMessages(ctx context.Context, env primitive.ObjectID, f MessageFilter, page, limit int) ([]Message, int64, error) {
	q := bson.M{"_environmentId": env}
	if f.Channel != "" {
		q["channel"] = f.Channel
	}
	if f.SubscriberID != "" {
		q["subscriberId"] = f.SubscriberID
	}
	if len(f.TransactionIDs) > 0 {
		q["transactionId"] = bson.M{"$in": f.TransactionIDs}
	}
	total, err := l.messages.CountDocuments(ctx, q)
	if err != nil {
		return nil, 0, fmt.Errorf("delivery: count messages: %w", err)
	}
	cur, err := l.messages.Find(ctx, q, options.Find().
		SetSort(bson.D{{Key: "createdAt", Value: -1}, {Key: "_id", Value: 1}}).
		SetSkip(int64(page*limit)).SetLimit(int64(limit)))
	if err != nil {
		return nil, 0, fmt.Errorf("delivery: list messages: %w", err)
	}
	out := []Message{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, 0, fmt.Errorf("delivery: list messages: %w", err)
	}
	return out, total, nil
}

// DeleteMessage removes one message.
func (l *Log) DeleteMessage(ctx context.Context, env, id primitive.ObjectID) error {
	res, err := l.messages.DeleteOne(ctx, bson.M{"_id": id, "_environmentId": env})
	if err != nil {
		return fmt.Errorf("delivery: delete message: %w", err)
	}
	if res.DeletedCount == 0 {
		return store.ErrNotFound
	}
	return nil
}
