package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/ratelimit"
	"github.com/heraldhq/herald/pkg/retry"
	"github.com/heraldhq/herald/pkg/secret"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/subscriber"
)

// errorIDProvider is the message errorId of a provider failure.
const errorIDProvider = "unexpected_provider_error"

// Execution detail texts of the delivery policy.
const (
	TextChannelNeedsReconnect = "Channel needs reconnect"
	TextAlreadySent           = "Message sent (recorded after a redelivery)"
)

// Redis keys of the delivery state. Values of msgStateKey: "s" once the
// provider accepted the message, "a" once an attempt failed.
const (
	stateSent      = "s"
	stateAttempted = "a"
	stateTTL       = 48 * time.Hour
	// recordRetryDelay is how soon a sent message whose record failed is
	// recorded again (from Redis's sent mark, without sending).
	recordRetryDelay = 2 * time.Second
	reconnectTTL     = 7 * 24 * time.Hour
)

// MaxRateLimited is how many 429 answers to one message are waited out
// without spending the retry schedule; later ones count as failed attempts,
// so a webhook that always answers 429 still ends in the dead letter.
const MaxRateLimited = 20

func msgStateKey(id string) string { return "herald:msg:" + id }

func reconnectKey(p DeliverPayload) string {
	return "herald:reconnect:" + p.SubscriberObjID.Hex() + ":" + p.IntegrationID.Hex()
}

func rawJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// DeferError asks the queue to run a task again at At without counting a
// failed attempt (rate limits: ours and the provider's 429).
type DeferError struct {
	At     time.Time
	Reason string
}

func (e *DeferError) Error() string {
	return fmt.Sprintf("deferred until %s: %s", e.At.UTC().Format(time.RFC3339), e.Reason)
}

// retryError is a counted, transient failure to retry at a set time (the
// step of the retry schedule the handler recorded as nextRetryAt).
type retryError struct {
	at  time.Time
	err error
}

// dueAt is when a task delayed by d runs again. asynq keeps retry times in
// whole seconds (rounded down), so the time is rounded up to the next second:
// a retry is never early, and at most a second late.
func dueAt(d time.Duration) time.Time {
	return time.Now().Add(d).Truncate(time.Second).Add(time.Second)
}

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// IsFailure is asynq's IsFailure: a deferral does not count as a failed
// attempt, so asynq does not increment the task's retry count for it.
func IsFailure(err error) bool {
	var d *DeferError
	return !errors.As(err, &d)
}

// needsReconnect reports whether a provider answer means the subscriber's
// channel is gone or forbidden (Slack: 403 action_prohibited, 404 no_service
// or channel_not_found, 410 channel_is_archived).
func needsReconnect(ne *notify.Error) bool {
	if ne.Kind != notify.Permanent {
		return false
	}
	switch ne.StatusCode {
	case http.StatusForbidden, http.StatusNotFound, http.StatusGone:
		return true
	}
	return false
}

// schedule is the retry schedule of p's environment.
func (w *Worker) schedule(ctx context.Context, p DeliverPayload) retry.Schedule {
	def := w.RetrySchedule
	if def == nil {
		def = retry.Default
	}
	if w.Environments == nil {
		return def
	}
	env, err := w.Environments.FindByID(ctx, p.EnvironmentID)
	if err != nil {
		return def
	}
	return env.RetrySchedule(def)
}

// HandleDeliver sends one message with one attempt and records the outcome
// in one write. The provider's answer was classified at the provider
// boundary (notify.Error): transient failures are retried on the
// environment's retry schedule, rate limits are deferred without counting an
// attempt, permanent failures (and an exhausted schedule) end the task in
// asynq's archive with the message in status error.
func (w *Worker) HandleDeliver(ctx context.Context, t *asynq.Task) error {
	var p DeliverPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("delivery: bad deliver payload: %v: %w", err, asynq.SkipRetry)
	}
	retried, _ := asynq.GetRetryCount(ctx)
	log := w.Logger.With("transaction_id", p.TransactionID, "subscriber_id", p.SubscriberID,
		"provider", p.ProviderID, "attempt", retried+1, "message_id", p.MessageID.Hex())

	// One round trip: was it sent already (a redelivery after a crash or a
	// lease expiry), did an attempt fail before, is the channel marked?
	var state, marked, canceled string
	if w.Redis != nil {
		vals, err := w.Redis.MGet(ctx, msgStateKey(p.MessageID.Hex()), reconnectKey(p), cancelKey(p.EnvironmentID, p.TransactionID)).Result()
		if err != nil {
			log.Warn("could not read delivery state", "error", err.Error())
		} else {
			state, _ = vals[0].(string)
			marked, _ = vals[1].(string)
			canceled, _ = vals[2].(string)
		}
	}
	if state != stateSent && retried > 0 {
		// Redis may have lost or refused the mark (it was down as the
		// message went out); the database record is the other witness.
		if m, err := w.Log.GetMessage(ctx, p.EnvironmentID, p.MessageID); err == nil && m.Status == StatusSent {
			log.Info("redelivered task skipped: message recorded as sent")
			return nil
		}
	}
	if state == stateSent {
		if err := w.recordAlreadySent(ctx, log, p); err != nil {
			return &DeferError{At: time.Now().Add(recordRetryDelay), Reason: "record the sent message once the database answers"}
		}
		return nil
	}
	isRetry := retried > 0 || state == stateAttempted
	if canceled != "" && !p.ManualRetry {
		d := NewDetail(TextStepCanceled, DetailWarning, SourceInternal, `{"reason":"the transaction was canceled before this message was sent"}`, isRetry)
		if err := w.Log.recordCanceled(context.WithoutCancel(ctx), p.MessageID, draftOf(p), d); err != nil {
			log.Error("could not record a canceled message", "error", err.Error())
			return &DeferError{At: time.Now().Add(recordRetryDelay), Reason: "record the canceled message once the database answers"}
		}
		log.Info("not sent: transaction canceled")
		return nil
	}

	details := []Detail{
		NewDetail(TextStartSending, DetailPending, SourceInternal, "", isRetry),
		NewDetail(TextIntegrationSelected, DetailPending, SourceInternal,
			rawJSON(map[string]string{"providerId": p.ProviderID, "identifier": p.IntegrationIdentifier, "_integrationId": p.IntegrationID.Hex()}), isRetry),
	}
	sender := w.Senders[p.ProviderID]
	url, derr := w.Cipher.Decrypt(p.WebhookCiphertext)
	if sender == nil || derr != nil || url == "" {
		text, reason := TextWebhookMissing, "the webhook URL could not be decrypted"
		if sender == nil {
			text, reason = TextNoIntegration, "no sender is configured for provider "+p.ProviderID
		}
		details = append(details, NewDetail(text, DetailFailed, SourceCredentials, reason, isRetry))
		w.record(ctx, log, p, Attempt{Status: StatusError, ErrorID: "missing_credentials", ErrorText: reason, Details: details, Retry: isRetry})
		return fmt.Errorf("delivery: %s: %w", reason, asynq.SkipRetry)
	}
	if marked != "" {
		current, blocked, reason := w.checkChannel(ctx, log, p, url)
		if blocked {
			text := "channel needs reconnect: the subscriber must reconnect " + p.ProviderID + " (set new credentials or run Add to Slack again) before messages can be delivered"
			details = append(details, NewDetail(TextChannelNeedsReconnect, DetailFailed, SourceCredentials,
				rawJSON(map[string]any{"reason": text, "providerAnswer": reason}), isRetry))
			w.record(ctx, log, p, Attempt{Status: StatusError, ErrorID: ErrorIDNeedsReconnect, ErrorText: text, Details: details, Retry: isRetry})
			log.Info("not sent: channel needs reconnect")
			return fmt.Errorf("delivery: %s: %w", text, asynq.SkipRetry)
		}
		url = current
	}

	// Per-webhook rate limit, shared by every worker through Redis. A
	// refused delivery is handed the webhook's next free slot and comes back
	// then; it does not hold a worker slot while it waits.
	if w.Limiter != nil && !w.WebhookRate.IsZero() {
		wait, err := w.Limiter.Reserve(ctx, ratelimit.WebhookKey(url), p.MessageID.Hex(), w.WebhookRate)
		if err != nil {
			log.Warn("webhook rate limit unavailable; sending", "error", err.Error())
		} else if wait > 0 {
			log.Debug("webhook rate limit: deferred", "wait_ms", wait.Milliseconds())
			return &DeferError{At: dueAt(wait), Reason: "webhook rate limit"}
		}
	}
	details = append(details, NewDetail(TextMessageCreated, DetailPending, SourceInternal, "", isRetry))

	res, err := sender.Send(ctx, notify.Message{
		WebhookURL: secret.String(url), Text: p.Text, Blocks: p.Blocks, Overrides: p.Overrides,
		TransactionID: p.TransactionID, SubscriberID: p.SubscriberID, TriggeredAt: p.TriggeredAt,
	})
	if err == nil {
		// Mark it sent before recording: if the record is lost (crash), a
		// redelivered task finds the mark and does not send again.
		marked := false
		if w.Redis != nil {
			if err := w.Redis.Set(context.WithoutCancel(ctx), msgStateKey(p.MessageID.Hex()), stateSent, stateTTL).Err(); err != nil {
				log.Warn("could not mark message sent", "error", err.Error())
			} else {
				marked = true
			}
		}
		details = append(details, NewDetail(TextMessageSent, DetailSuccess, SourceInternal,
			rawJSON(map[string]any{"statusCode": res.StatusCode, "body": res.Body}), isRetry))
		if err := w.tryRecord(ctx, p, Attempt{Status: StatusSent, Details: details, Delivered: true, Retry: isRetry}); err != nil {
			log.Error("could not record delivery attempt", "error", err.Error())
			if marked {
				// The database is away. Redis says sent, so running the task
				// again records the message as sent without sending it again.
				return &DeferError{At: time.Now().Add(recordRetryDelay), Reason: "record the sent message once the database answers"}
			}
		}
		log.Debug("message sent", "status", res.StatusCode)
		return nil
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		// The worker is shutting down: asynq puts the task back in the queue;
		// this was not the provider's failure.
		log.Info("send interrupted by shutdown; the delivery returns to the queue")
		return ctx.Err()
	}
	// Providers redact; the webhook is redacted here again in case one did not.
	ne := notify.AsError(err).Redacted(notify.URLSecrets(url)...)
	raw := map[string]any{"statusCode": ne.StatusCode, "body": ne.Body, "kind": ne.Kind.String()}
	if ne.Reason != "" {
		raw["reason"] = ne.Reason
	}
	attempt := Attempt{Status: StatusPending, ErrorID: errorIDProvider, ErrorText: ne.Error(), Retry: isRetry}
	var ret error
	kind := ne.Kind
	if kind == notify.RateLimited && w.Redis != nil {
		key := msgStateKey(p.MessageID.Hex()) + ":429"
		n, err := w.Redis.Incr(ctx, key).Result()
		if err == nil {
			_ = w.Redis.Expire(ctx, key, stateTTL).Err()
			if n > MaxRateLimited {
				kind = notify.Transient
				raw["rateLimitedTimes"] = n
			}
		}
	}
	switch kind {
	case notify.RateLimited:
		// Slack's 429: wait as told, and do not spend a retry on it.
		wait := ne.RetryAfter
		if wait <= 0 {
			wait = w.schedule(ctx, p).Delay(retried + 1)
		}
		if wait <= 0 {
			wait = time.Second
		}
		if w.Limiter != nil {
			if err := w.Limiter.Hold(ctx, ratelimit.WebhookKey(url), w.WebhookRate, wait); err != nil {
				log.Warn("could not hold the webhook's rate limit", "error", err.Error())
			}
		}
		at := dueAt(wait)
		raw["willRetry"] = true
		raw["nextRetryAt"] = at.UTC()
		ret = &DeferError{At: at, Reason: ne.Error()}
	case notify.Permanent:
		attempt.Status = StatusError
		if needsReconnect(ne) {
			attempt.ErrorID = ErrorIDNeedsReconnect
			raw["needsReconnect"] = true
		}
		ret = fmt.Errorf("%w: %w", ne, asynq.SkipRetry)
	default:
		sched := w.schedule(ctx, p)
		if retried >= sched.MaxRetries() {
			attempt.Status = StatusError
			raw["retriesExhausted"] = true
			raw["retries"] = retried
			ret = fmt.Errorf("%w: retries exhausted: %w", ne, asynq.SkipRetry)
		} else {
			at := dueAt(sched.Delay(retried + 1))
			raw["willRetry"] = true
			raw["nextRetryAt"] = at.UTC()
			ret = &retryError{at: at, err: ne}
		}
	}
	attempt.Details = append(details, NewDetail(TextProviderError, DetailFailed, SourceInternal, rawJSON(raw), isRetry))
	if attempt.Status == StatusPending && w.Redis != nil {
		_ = w.Redis.Set(context.WithoutCancel(ctx), msgStateKey(p.MessageID.Hex()), stateAttempted, stateTTL).Err()
	}
	if attempt.ErrorID == ErrorIDNeedsReconnect {
		// Mark first: once the message shows the error, the channel shows it too.
		w.markReconnect(ctx, log, p, url, ne)
	}
	w.record(ctx, log, p, attempt)
	log.Info("send failed", "error", ne.Error(), "final", attempt.Status == StatusError)
	return ret
}

// checkChannel is called when the subscriber's channel was marked
// needs_reconnect. It reads the subscriber: a channel still marked blocks
// the delivery; a reconnected one lifts the mark and the delivery goes to
// its current webhook.
func (w *Worker) checkChannel(ctx context.Context, log *slog.Logger, p DeliverPayload, url string) (current string, blocked bool, reason string) {
	sub, err := w.Subscribers.Get(ctx, p.EnvironmentID, p.SubscriberID)
	if err != nil {
		log.Warn("could not check the channel's status", "error", err.Error())
		return url, false, ""
	}
	for _, ch := range sub.Channels {
		if ch.IntegrationID != p.IntegrationID {
			continue
		}
		if ch.Status == subscriber.StatusNeedsReconnect {
			return url, true, ch.StatusReason
		}
		if cur, err := w.Cipher.Decrypt(ch.Credentials.WebhookURL); err == nil && cur != "" {
			url = cur
		}
	}
	if w.Redis != nil {
		_ = w.Redis.Del(ctx, reconnectKey(p)).Err()
	}
	return url, false, ""
}

// markReconnect marks the subscriber's channel needs_reconnect, unless its
// credentials changed since this delivery was queued.
func (w *Worker) markReconnect(ctx context.Context, log *slog.Logger, p DeliverPayload, url string, ne *notify.Error) {
	ctx = context.WithoutCancel(ctx)
	sub, err := w.Subscribers.Get(ctx, p.EnvironmentID, p.SubscriberID)
	if err != nil {
		log.Warn("could not mark channel", "error", err.Error())
		return
	}
	for _, ch := range sub.Channels {
		if ch.IntegrationID != p.IntegrationID {
			continue
		}
		if cur, err := w.Cipher.Decrypt(ch.Credentials.WebhookURL); err != nil || cur != url {
			log.Info("channel credentials changed since the delivery was queued; not marking it")
			return
		}
	}
	reason := fmt.Sprintf("%d %s", ne.StatusCode, ne.Body)
	if err := w.Subscribers.MarkChannel(ctx, p.EnvironmentID, p.SubscriberID, p.IntegrationID,
		subscriber.StatusNeedsReconnect, reason); err != nil {
		log.Warn("could not mark channel", "error", err.Error())
		return
	}
	if w.Redis != nil {
		if err := w.Redis.Set(ctx, reconnectKey(p), "1", reconnectTTL).Err(); err != nil {
			log.Warn("could not cache the channel mark", "error", err.Error())
		}
	}
}

// recordAlreadySent handles a redelivered task whose message the provider
// already accepted: nothing is sent; if the crash came before the log was
// written, the message is recorded as sent now.
func (w *Worker) recordAlreadySent(ctx context.Context, log *slog.Logger, p DeliverPayload) error {
	ctx = context.WithoutCancel(ctx)
	now := store.Now()
	detail := NewDetail(TextAlreadySent, DetailSuccess, SourceInternal,
		rawJSON(map[string]string{"reason": "the provider accepted this message before the worker stopped; not sent again"}), true)
	res, err := w.Log.messages.UpdateOne(ctx,
		bson.M{"_id": p.MessageID, "status": bson.M{"$ne": StatusSent}},
		bson.M{"$set": bson.M{"status": StatusSent, "updatedAt": now, "errorId": "", "errorText": ""},
			"$push": bson.M{"executionDetails": detail, "deliveredAt": now}})
	recorded := err == nil && res.ModifiedCount > 0
	if err == nil && !recorded && p.Record != nil {
		// Not updated: either recorded as sent already, or never written
		// (the first attempt's insert was lost); inserting tells which.
		err = w.Log.insertDraft(ctx, draftOf(p), Attempt{Status: StatusSent, Details: []Detail{detail}, Delivered: true}, now)
		recorded = err == nil
		if errors.Is(err, errExists) {
			err = nil
		}
	}
	if err != nil {
		log.Error("could not record an already sent message", "error", err.Error())
		return err
	}
	log.Info("redelivered task skipped: message already sent", "recorded_now", recorded)
	return nil
}

// draftOf is the payload's unwritten message with its content, or nil.
func draftOf(p DeliverPayload) *Message {
	if p.Record == nil {
		return nil
	}
	m := *p.Record
	m.Content, m.Blocks = p.Text, string(p.Blocks)
	return &m
}

// record writes an attempt; a failed write is logged, not retried, so that a
// message already sent is never sent again.
func (w *Worker) record(ctx context.Context, log interface {
	Error(string, ...any)
}, p DeliverPayload, a Attempt) {
	if err := w.tryRecord(ctx, p, a); err != nil {
		log.Error("could not record delivery attempt", "error", err.Error())
	}
}

// tryRecord writes an attempt and returns the write's error.
func (w *Worker) tryRecord(ctx context.Context, p DeliverPayload, a Attempt) error {
	return w.Log.RecordAttempt(context.WithoutCancel(ctx), p.MessageID, draftOf(p), a)
}
