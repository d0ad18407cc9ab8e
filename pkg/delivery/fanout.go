package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/hibiken/asynq"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/heraldhq/herald/pkg/blockkit"
	"github.com/heraldhq/herald/pkg/integration"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/subscriber"
	"github.com/heraldhq/herald/pkg/template"
	"github.com/heraldhq/herald/pkg/workflow"
)

// BatchSize is how many recipients the trigger handler loads and writes at once.
const BatchSize = 500

// HandleTrigger fans a trigger out: it upserts inline subscribers, loads
// recipients in batches, renders each active step per subscriber, writes
// notifications and messages with InsertMany and enqueues one deliver task
// per deliverable message. It is idempotent: a redelivered trigger produces
// the same ids and enqueues only messages that are still pending.
func (w *Worker) HandleTrigger(ctx context.Context, t *asynq.Task) error {
	var p TriggerPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("delivery: bad trigger payload: %v: %w", err, asynq.SkipRetry)
	}
	log := w.Logger.With("transaction_id", p.TransactionID)
	wf, err := w.Workflows.GetCached(ctx, p.EnvironmentID, p.WorkflowID)
	if errors.Is(err, store.ErrNotFound) {
		log.Warn("workflow deleted before its trigger was processed", "workflow_id", p.WorkflowID.Hex())
		return fmt.Errorf("delivery: workflow %s not found: %w", p.WorkflowID.Hex(), asynq.SkipRetry)
	}
	if err != nil {
		return err
	}
	steps := wf.ActiveSteps()
	if len(steps) == 0 {
		return nil
	}
	if err := w.upsertInline(ctx, log, p); err != nil {
		return err
	}
	active, err := w.Integrations.ActiveCached(ctx, p.EnvironmentID)
	if err != nil {
		return err
	}
	byID := make(map[primitive.ObjectID]*integration.Integration, len(active))
	for i := range active {
		byID[active[i].ID] = &active[i]
	}
	batches := 0
	n, err := w.eachBatch(ctx, p, func(ids []string, subs []subscriber.Subscriber, named bool) error {
		// A cancel during a long fan-out stops it. The first batch is not
		// checked (its deliveries check the mark themselves), so a trigger
		// with a single batch pays no extra round trip.
		if batches++; batches > 1 && w.transactionCanceled(ctx, p.EnvironmentID, p.TransactionID) {
			return errCanceled
		}
		return w.fanOutBatch(ctx, log, p, wf, steps, byID, ids, subs, named)
	})
	if errors.Is(err, errCanceled) {
		log.Info("fan-out stopped: transaction canceled", "batches_done", batches-1)
		return nil
	}
	if err != nil {
		return err
	}
	log.Debug("trigger fanned out", "recipients", n, "topics", len(p.Topics), "broadcast", p.Broadcast, "steps", len(steps))
	return nil
}

// errCanceled stops a fan-out whose transaction was canceled.
var errCanceled = errors.New("delivery: transaction canceled")

// transactionCanceled reports whether the transaction carries a cancel mark
// (see Canceler.markCanceled); without Redis, or when it cannot answer, no.
func (w *Worker) transactionCanceled(ctx context.Context, env primitive.ObjectID, transactionID string) bool {
	if w.Redis == nil {
		return false
	}
	n, err := w.Redis.Exists(ctx, cancelKey(env, transactionID)).Result()
	return err == nil && n > 0
}

// batchObserver, when set (tests), sees the size of every recipient batch.
var batchObserver atomic.Pointer[func(n int)]

// TopicChunk is how many topic members are read per page; each page's
// subscribers are then streamed with one query in batches of BatchSize.
const TopicChunk = 10000

// eachBatch calls fn with the trigger's recipients in batches of at most
// BatchSize: first the ids named in `to` (named is true; fn loads them and
// creates the missing ones), then each topic's members, or every subscriber
// of the environment for a broadcast, as loaded subscribers. The actor is
// left out, and so are topic members already named in `to`.
//
// Memory is bounded: a topic is read in keyset pages of TopicChunk member
// ids, and the subscribers of a page, like a broadcast's, come from one
// streaming cursor a batch at a time. One query per page rather than per
// batch matters on FerretDB v1, which decodes every subscriber of the
// environment for each `$in` query.
//
// A subscriber in two topics is handed to fn twice. That is safe: its
// notification and message ids derive from (transaction, subscriber, step),
// so the second insert is a duplicate key and the deliver task's id
// conflicts: it is delivered exactly once. It returns how many recipients it
// handed to fn.
func (w *Worker) eachBatch(ctx context.Context, p TriggerPayload, fn func(ids []string, subs []subscriber.Subscriber, named bool) error) (int, error) {
	total := 0
	observe := func(n int) {
		if f := batchObserver.Load(); f != nil {
			(*f)(n)
		}
		total += n
	}
	named := make(map[string]bool, len(p.Recipients))
	var ids []string
	for _, r := range p.Recipients {
		if r.SubscriberID == p.ActorID || named[r.SubscriberID] {
			continue
		}
		named[r.SubscriberID] = true
		ids = append(ids, r.SubscriberID)
	}
	for start := 0; start < len(ids); start += BatchSize {
		batch := ids[start:min(start+BatchSize, len(ids))]
		observe(len(batch))
		if err := fn(batch, nil, true); err != nil {
			return total, err
		}
	}
	// loaded hands streamed subscribers to fn, without the actor and those named.
	loaded := func(subs []subscriber.Subscriber) error {
		kept := subs[:0]
		for _, sub := range subs {
			if sub.SubscriberID != p.ActorID && !named[sub.SubscriberID] {
				kept = append(kept, sub)
			}
		}
		if len(kept) == 0 {
			return nil
		}
		observe(len(kept))
		return fn(nil, kept, false)
	}
	for _, key := range p.Topics {
		if w.Topics == nil {
			return total, fmt.Errorf("delivery: trigger names topic %q but the worker has no topic store: %w", key, asynq.SkipRetry)
		}
		after := ""
		for {
			page, err := w.Topics.Members(ctx, p.EnvironmentID, key, after, TopicChunk)
			if err != nil {
				return total, err
			}
			if len(page) == 0 {
				break
			}
			after = page[len(page)-1]
			if err := w.Subscribers.Stream(ctx, p.EnvironmentID, page, BatchSize, loaded); err != nil {
				return total, err
			}
			if len(page) < TopicChunk {
				break
			}
		}
	}
	if p.Broadcast {
		if err := w.Subscribers.Stream(ctx, p.EnvironmentID, nil, BatchSize, loaded); err != nil {
			return total, err
		}
	}
	return total, nil
}

// upsertInline upserts the subscriber objects given in `to` (one bulk write)
// and sets the channels given with them.
func (w *Worker) upsertInline(ctx context.Context, log *slog.Logger, p TriggerPayload) error {
	var items []subscriber.BulkItem
	var withChannels []Recipient
	for _, r := range p.Recipients {
		if r.Profile == nil {
			continue
		}
		pr := r.Profile
		items = append(items, subscriber.BulkItem{SubscriberID: r.SubscriberID, Profile: subscriber.Profile{
			FirstName: pr.FirstName, LastName: pr.LastName, Email: pr.Email, Phone: pr.Phone,
			Avatar: pr.Avatar, Locale: pr.Locale, Data: pr.Data, HasData: pr.HasData,
		}})
		if len(r.Channels) > 0 {
			withChannels = append(withChannels, r)
		}
	}
	if len(items) == 0 {
		return nil
	}
	if _, failed, err := w.Subscribers.BulkUpsert(ctx, p.EnvironmentID, p.OrganizationID, items); err != nil {
		return err
	} else if len(failed) > 0 {
		log.Warn("some inline subscribers could not be upserted", "failed", len(failed))
	}
	for _, r := range withChannels {
		for _, ic := range r.Channels {
			in, err := w.Integrations.Resolve(ctx, p.EnvironmentID, ic.ProviderID, ic.IntegrationIdentifier, true)
			if errors.Is(err, store.ErrNotFound) {
				log.Warn("inline subscriber channel has no active integration", "subscriber_id", r.SubscriberID, "provider", ic.ProviderID)
				continue
			}
			if err != nil {
				return err
			}
			url, err := w.Cipher.Decrypt(ic.WebhookCiphertext)
			if err != nil {
				log.Warn("inline subscriber webhook cannot be decrypted", "subscriber_id", r.SubscriberID)
				continue
			}
			_, err = w.Subscribers.SetCredentials(ctx, p.EnvironmentID, r.SubscriberID, subscriber.Channel{
				IntegrationID: in.ID, ProviderID: in.ProviderID, IntegrationIdentifier: in.Identifier,
				Credentials: subscriber.Credentials{WebhookURL: url, Channel: ic.Channel},
			}, true)
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *Worker) fanOutBatch(ctx context.Context, log *slog.Logger, p TriggerPayload, wf *workflow.Workflow, steps []workflow.Step,
	active map[primitive.ObjectID]*integration.Integration, ids []string, subs []subscriber.Subscriber, named bool) error {
	if subs == nil {
		var err error
		if subs, err = w.Subscribers.GetMany(ctx, p.EnvironmentID, ids); err != nil {
			return err
		}
	} else {
		ids = make([]string, len(subs))
		for i := range subs {
			ids[i] = subs[i].SubscriberID
		}
	}
	found := make(map[string]*subscriber.Subscriber, len(subs))
	for i := range subs {
		found[subs[i].SubscriberID] = &subs[i]
	}
	// Like Novu, a subscriber named only by id is created on first trigger.
	var missing []subscriber.BulkItem
	for _, id := range ids {
		if found[id] == nil {
			missing = append(missing, subscriber.BulkItem{SubscriberID: id})
		}
	}
	if !named && len(missing) > 0 {
		// Topic members and broadcast recipients were read from the
		// database: one missing now was deleted meanwhile; skip it.
		kept := make([]string, 0, len(ids)-len(missing))
		for _, id := range ids {
			if found[id] != nil {
				kept = append(kept, id)
			}
		}
		ids, missing = kept, nil
	}
	if len(missing) > 0 {
		if _, _, err := w.Subscribers.BulkUpsert(ctx, p.EnvironmentID, p.OrganizationID, missing); err != nil {
			return err
		}
		more, err := w.Subscribers.GetMany(ctx, p.EnvironmentID, itemIDs(missing))
		if err != nil {
			return err
		}
		for i := range more {
			found[more[i].SubscriberID] = &more[i]
		}
	}

	now := p.CreatedAt
	if now.IsZero() {
		now = store.Now()
	}
	var notes []Notification
	var msgs []Message
	var tasks []DeliverPayload // parallel to the deliverable messages
	var drafts []primitive.ObjectID
	var joins []digestJoin // events entering a digest, once their messages exist
	plan := newPlan(steps)
	for _, id := range ids {
		sub := found[id]
		if sub == nil {
			log.Warn("recipient could not be created", "subscriber_id", id)
			continue
		}
		nid := NotificationID(p.EnvironmentID, p.TransactionID, id)
		notes = append(notes, Notification{
			ID: nid, EnvironmentID: p.EnvironmentID, OrganizationID: p.OrganizationID, TemplateID: wf.ID,
			TemplateName: wf.Name, TemplateIdentifier: wf.TriggerIdentifier, TransactionID: p.TransactionID,
			SubscriberObjID: sub.ID, SubscriberID: id, Channels: []string{workflow.StepTypeChat},
			Payload: nonNil(p.Payload), CreatedAt: now, UpdatedAt: now,
		})
		data := template.Data(p.Payload, template.Subscriber{
			SubscriberID: sub.SubscriberID, FirstName: sub.FirstName, LastName: sub.LastName, Email: sub.Email,
			Phone: sub.Phone, Avatar: sub.Avatar, Locale: sub.Locale, Data: sub.Data,
		})
		res := w.walkSteps(plan, stepRun{p: p, wf: wf, sub: sub, nid: nid, data: data, active: active, at: now}, 0)
		for _, pr := range res.prepared {
			if pr.ok && pr.task.NotBefore.IsZero() {
				// Sent now: its first attempt writes the whole message.
				draft := pr.msg
				draft.Content, draft.Blocks = "", ""
				pr.task.Record = &draft
				drafts = append(drafts, pr.msg.ID)
				tasks = append(tasks, pr.task)
				continue
			}
			msgs = append(msgs, pr.msg)
			if pr.ok {
				tasks = append(tasks, pr.task)
			}
		}
		if res.join != nil {
			joins = append(joins, *res.join)
		}
	}
	if err := w.Log.InsertNotifications(ctx, notes); err != nil {
		return err
	}
	dups, err := w.Log.InsertMessages(ctx, msgs)
	if err != nil {
		return err
	}
	// A redelivered trigger enqueues only messages still pending: written
	// ones it finds among the duplicates, drafts (written by their first
	// attempt) it looks up when the task ran before.
	check := make([]primitive.ObjectID, 0, len(dups))
	for _, i := range dups {
		check = append(check, msgs[i].ID)
	}
	if rerun(ctx) {
		check = append(check, drafts...)
	}
	var settled map[primitive.ObjectID]bool
	if len(check) > 0 {
		var err error
		if settled, err = w.Log.SettledIDs(ctx, check); err != nil {
			return err
		}
	}
	for _, dp := range tasks {
		if settled[dp.MessageID] {
			continue
		}
		task, err := NewDeliverTask(dp)
		if err != nil {
			return err
		}
		if _, err := w.Queue.EnqueueContext(ctx, task); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return fmt.Errorf("delivery: enqueue deliver: %w", err)
		}
	}
	return w.joinDigests(ctx, joins)
}

// rerunKey marks a context whose trigger task ran before (tests run a
// handler twice without asynq).
type rerunKey struct{}

// rerun reports whether the task of ctx ran before: asynq counts a failed
// run and a lease lost to a crash alike as a retry.
func rerun(ctx context.Context) bool {
	if n, _ := asynq.GetRetryCount(ctx); n > 0 {
		return true
	}
	marked, _ := ctx.Value(rerunKey{}).(bool)
	return marked
}

func itemIDs(items []subscriber.BulkItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.SubscriberID
	}
	return out
}

func nonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// prepare builds the message of one chat step for the run's subscriber and,
// when it can be delivered, its deliver task (scheduled at the run's due
// time after a delay). A message that cannot be delivered is recorded with
// status error and the reason in its execution details; so are rendered
// blocks that break Slack's Block Kit limits, which are never sent.
func (w *Worker) prepare(r stepRun, step workflow.Step) (Message, DeliverPayload, bool) {
	p, sub := r.p, r.sub
	m := w.newMessage(r, step)
	base := append(m.ExecutionDetails[:1:1], r.pre...)
	fail := func(text, source, reason string) (Message, DeliverPayload, bool) {
		m.Status, m.ErrorID, m.ErrorText = StatusError, errorID(text), reason
		m.ExecutionDetails = append(base, NewDetail(text, DetailFailed, source, reason, false))
		return m, DeliverPayload{}, false
	}
	ch, in, problem := w.pickChannel(sub, step, r.active)
	switch problem {
	case TextNoIntegration:
		return fail(TextNoIntegration, SourceCredentials, "no active chat integration matches the subscriber's channels")
	case TextWebhookMissing:
		m.ProviderID, m.IntegrationID, m.IntegrationIdentifier = in.ProviderID, in.ID, in.Identifier
		return fail(TextWebhookMissing, SourceCredentials, "the subscriber's "+in.ProviderID+" channel has no webhook URL")
	}
	m.ProviderID, m.IntegrationID, m.IntegrationIdentifier = in.ProviderID, in.ID, in.Identifier
	text, err := w.Templates.Render(step.Template.Content, r.data)
	if err != nil {
		return fail(TextContentFailed, SourcePayload, err.Error())
	}
	blocks, err := w.Templates.RenderJSON(json.RawMessage(step.Template.Blocks), r.data)
	if err != nil {
		return fail(TextContentFailed, SourcePayload, err.Error())
	}
	m.Content, m.Blocks = text, string(blocks)
	overrides := providerOverrides(p.Overrides, in.ProviderID)
	if problems := blockProblems(blocks, overrides); problems != "" {
		return fail(TextBlockKitViolated, SourcePayload, problems)
	}
	m.ExecutionDetails = append(base, NewDetail(TextStepQueued, DetailQueued, SourceInternal, "", false))
	due := r.due()
	triggered := p.CreatedAt
	if r.at.After(triggered) {
		triggered = r.at // the latency metric measures from when the message was due
	}
	return m, DeliverPayload{
		EnvironmentID: p.EnvironmentID, MessageID: m.ID, TransactionID: p.TransactionID,
		SubscriberID: sub.SubscriberID, SubscriberObjID: sub.ID, ProviderID: in.ProviderID,
		IntegrationID: in.ID, IntegrationIdentifier: in.Identifier, WebhookCiphertext: ch.Credentials.WebhookURL,
		Text: text, Blocks: blocks, Overrides: overrides,
		TriggeredAt: triggered, NotBefore: due,
	}, true
}

// blockProblems checks the blocks Slack would receive (the overrides' blocks
// replace the template's) against Block Kit's limits.
func blockProblems(blocks json.RawMessage, overrides map[string]any) string {
	payload := []byte(blocks)
	if ob, ok := overrides["blocks"]; ok {
		raw, err := json.Marshal(map[string]any{"blocks": ob})
		if err != nil {
			return "overrides.blocks cannot be encoded"
		}
		payload = raw
	}
	if len(bytes.TrimSpace(payload)) == 0 {
		return ""
	}
	return strings.Join(blockkit.Messages(blockkit.Validate(payload)), "; ")
}

func errorID(text string) string {
	switch text {
	case TextNoIntegration:
		return "no_active_integration"
	case TextWebhookMissing:
		return "webhook_url_missing"
	case TextContentFailed:
		return "content_not_generated"
	case TextBlockKitViolated:
		return errorIDBlockKit
	}
	return "error"
}

// pickChannel chooses the subscriber's channel for a step: one whose
// integration is active, has a sender and matches the step's provider and
// integration identifier, preferring one with a webhook URL.
func (w *Worker) pickChannel(sub *subscriber.Subscriber, step workflow.Step, active map[primitive.ObjectID]*integration.Integration) (*subscriber.Channel, *integration.Integration, string) {
	var noWebhook *integration.Integration
	for i := range sub.Channels {
		ch := &sub.Channels[i]
		in := active[ch.IntegrationID]
		if in == nil || in.Channel != integration.ChannelChat || w.Senders[in.ProviderID] == nil {
			continue
		}
		if step.ProviderID != "" && in.ProviderID != step.ProviderID {
			continue
		}
		if step.IntegrationIdentifier != "" && in.Identifier != step.IntegrationIdentifier {
			continue
		}
		if ch.Credentials.WebhookURL == "" {
			if noWebhook == nil {
				noWebhook = in
			}
			continue
		}
		return ch, in, ""
	}
	if noWebhook != nil {
		return nil, noWebhook, TextWebhookMissing
	}
	return nil, nil, TextNoIntegration
}

// providerOverrides merges overrides.chat then overrides.<providerId>.
func providerOverrides(o map[string]any, providerID string) map[string]any {
	out := map[string]any{}
	for _, k := range []string{"chat", providerID} {
		if m, ok := o[k].(map[string]any); ok {
			for kk, v := range m {
				out[kk] = v
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
