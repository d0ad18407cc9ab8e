package delivery

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/secret"
	"github.com/heraldhq/herald/pkg/subscriber"
)

// errorIDProvider is the message errorId of a provider failure.
const errorIDProvider = "unexpected_provider_error"

func rawJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// HandleDeliver sends one message with one attempt and records the outcome
// in one write. Transient failures are returned for asynq to retry;
// permanent ones skip retries.
func (w *Worker) HandleDeliver(ctx context.Context, t *asynq.Task) error {
	var p DeliverPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("delivery: bad deliver payload: %v: %w", err, asynq.SkipRetry)
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, ok := asynq.GetMaxRetry(ctx)
	if !ok {
		maxRetry = DeliverMaxRetry
	}
	isRetry := retried > 0
	log := w.Logger.With("transaction_id", p.TransactionID, "subscriber_id", p.SubscriberID,
		"provider", p.ProviderID, "attempt", retried+1, "message_id", p.MessageID.Hex())

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
		w.record(ctx, log, p, Attempt{Status: StatusError, ErrorID: "missing_credentials", ErrorText: reason, Details: details})
		return fmt.Errorf("delivery: %s: %w", reason, asynq.SkipRetry)
	}
	details = append(details, NewDetail(TextMessageCreated, DetailPending, SourceInternal, "", isRetry))

	res, err := sender.Send(ctx, notify.Message{
		WebhookURL: secret.String(url), Text: p.Text, Blocks: p.Blocks, Overrides: p.Overrides,
		TransactionID: p.TransactionID, SubscriberID: p.SubscriberID, TriggeredAt: p.TriggeredAt,
	})
	if err == nil {
		details = append(details, NewDetail(TextMessageSent, DetailSuccess, SourceInternal,
			rawJSON(map[string]any{"statusCode": res.StatusCode, "body": res.Body}), isRetry))
		w.record(ctx, log, p, Attempt{Status: StatusSent, Details: details, Delivered: true})
		log.Debug("message sent", "status", res.StatusCode)
		return nil
	}
	ne := notify.AsError(err)
	final := !ne.Retryable() || retried >= maxRetry
	raw := map[string]any{"statusCode": ne.StatusCode, "body": ne.Body, "kind": ne.Kind.String()}
	if ne.Reason != "" {
		raw["reason"] = ne.Reason
	}
	if !final {
		raw["willRetry"] = true
	}
	details = append(details, NewDetail(TextProviderError, DetailFailed, SourceInternal, rawJSON(raw), isRetry))
	status := StatusPending
	if final {
		status = StatusError
	}
	w.record(ctx, log, p, Attempt{Status: status, ErrorID: errorIDProvider, ErrorText: ne.Error(), Details: details})
	log.Info("send failed", "error", ne.Error(), "final", final)
	if ne.Kind == notify.Permanent && (ne.StatusCode == 404 || ne.StatusCode == 410) {
		// The webhook is gone (revoked, channel archived): the subscriber must reconnect.
		if err := w.Subscribers.MarkChannel(ctx, p.EnvironmentID, p.SubscriberID, p.IntegrationID,
			subscriber.StatusNeedsReconnect, ne.Body); err != nil {
			log.Warn("could not mark channel", "error", err.Error())
		}
	}
	if !ne.Retryable() {
		return fmt.Errorf("%w: %w", ne, asynq.SkipRetry)
	}
	return ne
}

// record writes an attempt; a failed write is logged, not retried, so that a
// message already sent is never sent again.
func (w *Worker) record(ctx context.Context, log interface {
	Error(string, ...any)
}, p DeliverPayload, a Attempt) {
	if err := w.Log.RecordAttempt(context.WithoutCancel(ctx), p.MessageID, a); err != nil {
		log.Error("could not record delivery attempt", "error", err.Error())
	}
}
