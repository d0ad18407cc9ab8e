package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/environment"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/subscriber"
	"github.com/heraldhq/herald/pkg/topic"
)

// Trigger limits.
const (
	MaxBulkEvents       = 100
	MaxTransactionIDLen = 256
	enqueueTimeout      = 3 * time.Second
	queueRetryAfterSecs = "5"
	triggerStatusOK     = "processed"
	statusNotActive     = "trigger_not_active"
	statusNoSteps       = "no_workflow_steps_defined"
	statusNoActiveSteps = "no_workflow_active_steps_defined"
	statusError         = "error"
)

// triggerRoutes registers the trigger API.
func (s *Server) triggerRoutes(api *echo.Group) {
	api.POST("/events/trigger", s.trigger)
	api.POST("/events/trigger/bulk", s.triggerBulk)
	api.POST("/events/trigger/broadcast", s.triggerBroadcast)
}

type triggerBody struct {
	Name          *string         `json:"name"`
	To            json.RawMessage `json:"to"`
	Payload       json.RawMessage `json:"payload"`
	Overrides     json.RawMessage `json:"overrides"`
	TransactionID *string         `json:"transactionId"`
	Actor         json.RawMessage `json:"actor"`
	Tenant        json.RawMessage `json:"tenant"`
}

type triggerResult struct {
	Acknowledged  bool     `json:"acknowledged"`
	Status        string   `json:"status"`
	TransactionID string   `json:"transactionId,omitempty"`
	Error         []string `json:"error,omitempty"`
}

func (s *Server) trigger(c echo.Context) error {
	var body triggerBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	return s.answerTrigger(c, &body, false)
}

// triggerBroadcast answers POST /v1/events/trigger/broadcast: the workflow
// runs for every subscriber of the environment. `to` is not read.
func (s *Server) triggerBroadcast(c echo.Context) error {
	var body triggerBody
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	return s.answerTrigger(c, &body, true)
}

func (s *Server) answerTrigger(c echo.Context, body *triggerBody, broadcast bool) error {
	res, replay, err := s.triggerOne(c.Request().Context(), Env(c), body, broadcast)
	if err != nil {
		return s.triggerErr(c, err)
	}
	if replay {
		c.Response().Header().Set(ReplayHeader, "true")
	}
	// What data() writes, without its map and stream encoder (hot path).
	raw, err := json.Marshal(res)
	if err != nil {
		return errInternal(err)
	}
	out := make([]byte, 0, len(raw)+10)
	out = append(append(append(out, `{"data":`...), raw...), '}')
	return c.JSONBlob(http.StatusCreated, out)
}

// triggerErr adds Retry-After to 503s (the queue is unreachable).
func (s *Server) triggerErr(c echo.Context, err error) error {
	var apiErr *Error
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusServiceUnavailable {
		c.Response().Header().Set("Retry-After", queueRetryAfterSecs)
	}
	return err
}

func (s *Server) triggerBulk(c echo.Context) error {
	var body struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := decodeJSON(c, &body); err != nil {
		return err
	}
	if len(body.Events) == 0 || len(body.Events) > MaxBulkEvents {
		return errValidation([]string{fmt.Sprintf("events must contain from 1 to %d elements", MaxBulkEvents)})
	}
	out := make([]triggerResult, 0, len(body.Events))
	for _, raw := range body.Events {
		var ev triggerBody
		var err error
		if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
			err = errBadRequest("event must be an object")
		} else if jerr := json.Unmarshal(raw, &ev); jerr != nil {
			err = errBadRequest(describeJSONError(raw, jerr))
		} else {
			var res triggerResult
			res, _, err = s.triggerOne(c.Request().Context(), Env(c), &ev, false)
			if err == nil {
				out = append(out, res)
				continue
			}
		}
		var apiErr *Error
		if !errors.As(err, &apiErr) || apiErr.Status >= 500 {
			// The queue or database is down: fail the request so the client retries.
			return s.triggerErr(c, err)
		}
		r := triggerResult{Acknowledged: false, Status: statusError, Error: messages(apiErr.Message)}
		if ev.TransactionID != nil {
			r.TransactionID = *ev.TransactionID
		}
		out = append(out, r)
	}
	return data(c, http.StatusCreated, out)
}

func messages(m any) []string {
	switch v := m.(type) {
	case []string:
		return v
	case string:
		return []string{v}
	}
	return []string{fmt.Sprint(m)}
}

// triggerRequest is a trigger body that passed validation.
type triggerRequest struct {
	name       string
	recipients []delivery.Recipient
	topics     []string
	actorID    string
	payload    json.RawMessage // a JSON object, or nil
	overrides  map[string]any
	txID       string
}

// parseTrigger validates a trigger body without touching the database or
// the queue (inline webhook URLs are encrypted here). A validation problem
// is a 400; only an encryption failure is another error. A broadcast has no
// `to`.
func (s *Server) parseTrigger(b *triggerBody, broadcast bool) (triggerRequest, error) {
	var problems []string
	name := ""
	if b.Name == nil || strings.TrimSpace(*b.Name) == "" {
		problems = append(problems, "name should not be empty")
	} else {
		name = *b.Name
	}
	var recipients []delivery.Recipient
	var topics []string
	if !broadcast {
		var more []string
		var err error
		recipients, topics, more, err = s.parseRecipients(b.To)
		if err != nil {
			return triggerRequest{}, err
		}
		problems = append(problems, more...)
	}
	actorID, more := parseActor(b.Actor)
	problems = append(problems, more...)
	payload, ok := rawObjectOrNull(b.Payload)
	if !ok {
		problems = append(problems, "payload must be an object")
	}
	overrides, ok := objectOrNull(b.Overrides)
	if !ok {
		problems = append(problems, "overrides must be an object")
	}
	txID := ""
	if b.TransactionID != nil {
		txID = strings.TrimSpace(*b.TransactionID)
		if txID == "" || len(txID) > MaxTransactionIDLen {
			problems = append(problems, fmt.Sprintf("transactionId must be 1 to %d characters", MaxTransactionIDLen))
		}
	} else {
		txID = uuid.NewString()
	}
	if len(problems) > 0 {
		return triggerRequest{}, errValidation(problems)
	}
	return triggerRequest{name: name, recipients: recipients, topics: topics, actorID: actorID,
		payload: payload, overrides: overrides, txID: txID}, nil
}

// triggerOne validates a trigger and enqueues it. It reads cached data, the
// topics named in `to` (one query) and the transactionId's Redis key. A
// transactionId already used in the environment within IdempotencyWindow
// answers with the original result (replay true) and enqueues nothing.
func (s *Server) triggerOne(ctx context.Context, env *environment.Environment, b *triggerBody, broadcast bool) (triggerResult, bool, error) {
	req, err := s.parseTrigger(b, broadcast)
	if err != nil {
		return triggerResult{}, false, err
	}
	name, txID := req.name, req.txID
	var cl *claim
	if b.TransactionID != nil {
		var replay *triggerResult
		var err error
		cl, replay, err = s.claimTransaction(ctx, env.ID, txID)
		if err != nil {
			return triggerResult{}, false, err
		}
		if replay != nil {
			return *replay, true, nil
		}
	}
	res, err := s.enqueueTrigger(ctx, env, name, txID, delivery.TriggerPayload{
		Recipients: req.recipients, Topics: req.topics, Broadcast: broadcast, ActorID: req.actorID,
		RawPayload: req.payload, Overrides: req.overrides, Actor: nonNullRaw(b.Actor), Tenant: nonNullRaw(b.Tenant),
	})
	if err != nil || res.Status != triggerStatusOK {
		// Nothing was enqueued: the client may retry with the same id.
		if rerr := cl.release(ctx); rerr != nil {
			s.Logger.Warn("transactionId claim not released", "transaction_id", txID, "error", rerr.Error())
		}
		return res, false, err
	}
	if ferr := cl.finish(ctx, res); ferr != nil {
		// The trigger is queued; a repeat within claimStale waits, after it
		// the trigger task id still refuses a second enqueue.
		s.Logger.Warn("transactionId result not recorded", "transaction_id", txID, "error", ferr.Error())
	}
	return res, false, nil
}

// enqueueTrigger resolves the workflow and the topics of a validated trigger
// and enqueues it; the status is processed only when it was enqueued.
func (s *Server) enqueueTrigger(ctx context.Context, env *environment.Environment, name, txID string, p delivery.TriggerPayload) (triggerResult, error) {
	wf, err := s.Workflows.FindByTrigger(ctx, env.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return triggerResult{}, errUnprocessable(fmt.Sprintf("workflow_not_found: no workflow with trigger identifier %q in this environment", name))
	}
	if err != nil {
		return triggerResult{}, errUnavailable("Database unavailable", err)
	}
	res := triggerResult{Acknowledged: true, TransactionID: txID}
	switch {
	case !wf.Active:
		res.Status = statusNotActive
		return res, nil
	case len(wf.Steps) == 0:
		res.Status = statusNoSteps
		return res, nil
	case len(wf.ActiveSteps()) == 0:
		res.Status = statusNoActiveSteps
		return res, nil
	}
	if len(p.Topics) > 0 {
		found, err := s.Topics.Existing(ctx, env.ID, p.Topics)
		if err != nil {
			return triggerResult{}, errUnavailable("Database unavailable", err)
		}
		var missing []string
		for _, k := range p.Topics {
			if !found[k] {
				missing = append(missing, strconv.Quote(k))
			}
		}
		if len(missing) > 0 {
			return triggerResult{}, errUnprocessable(fmt.Sprintf("topic_not_found: no topic with key %s in this environment", strings.Join(missing, ", ")))
		}
	}
	p.EnvironmentID, p.OrganizationID, p.WorkflowID, p.TransactionID, p.CreatedAt = env.ID, env.OrganizationID, wf.ID, txID, store.Now()
	task, err := delivery.NewTriggerTask(p)
	if err != nil {
		return triggerResult{}, errInternal(err)
	}
	ectx, cancel := context.WithTimeout(ctx, enqueueTimeout)
	defer cancel()
	if _, err := s.Queue.EnqueueContext(ectx, task); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return triggerResult{}, errUnavailable("Queue unavailable, try again later", err)
	}
	// A task id conflict means this transactionId's trigger is already
	// queued (its idempotency record was lost): that is the original result.
	res.Status = triggerStatusOK
	return res, nil
}

// parseActor reads `actor`: a subscriberId or an object with a subscriberId.
func parseActor(raw json.RawMessage) (string, []string) {
	if isNull(raw) {
		return "", nil
	}
	t := bytes.TrimSpace(raw)
	var id string
	switch t[0] {
	case '"':
		_ = json.Unmarshal(t, &id)
	case '{':
		var o struct {
			SubscriberID any `json:"subscriberId"`
		}
		_ = json.Unmarshal(t, &o)
		id, _ = o.SubscriberID.(string)
	default:
		return "", []string{"actor must be a subscriberId or a subscriber object"}
	}
	if p := subscriber.ValidateID(id); len(p) > 0 {
		out := make([]string, len(p))
		for i, m := range p {
			out[i] = "actor: " + m
		}
		return "", out
	}
	return id, nil
}

func nonNullRaw(r json.RawMessage) json.RawMessage {
	if isNull(r) {
		return nil
	}
	return r
}

// rawObjectOrNull checks an optional JSON object without decoding it (the
// body it came from was decoded, so it is valid JSON): the trigger task
// carries it as it came.
func rawObjectOrNull(raw json.RawMessage) (json.RawMessage, bool) {
	if isNull(raw) {
		return nil, true
	}
	t := bytes.TrimSpace(raw)
	return t, t[0] == '{'
}

// objectOrNull decodes an optional JSON object.
func objectOrNull(raw json.RawMessage) (map[string]any, bool) {
	if isNull(raw) {
		return nil, true
	}
	t := bytes.TrimSpace(raw)
	if t[0] != '{' {
		return nil, false
	}
	var m map[string]any
	if err := json.Unmarshal(t, &m); err != nil {
		return nil, false
	}
	return m, true
}

// parseRecipients reads `to`: a subscriberId, a subscriber object, a topic
// ({type:"Topic", topicKey}), or an array of these. It returns the
// subscribers and the topic keys, each without duplicates. Webhook URLs of
// inline subscribers are encrypted here so the queue never holds them in
// plaintext.
func (s *Server) parseRecipients(raw json.RawMessage) ([]delivery.Recipient, []string, []string, error) {
	if isNull(raw) {
		return nil, nil, []string{"to should not be empty"}, nil
	}
	t := bytes.TrimSpace(raw)
	var items []json.RawMessage
	if t[0] == '[' {
		if err := json.Unmarshal(t, &items); err != nil {
			return nil, nil, []string{"to must be a subscriberId, a subscriber object, a topic or an array of these"}, nil
		}
		if len(items) == 0 {
			return nil, nil, []string{"to should not be empty"}, nil
		}
	} else {
		items = []json.RawMessage{t}
	}
	var out []delivery.Recipient
	var topics []string
	seenTopic := map[string]bool{}
	var problems []string
	for i, it := range items {
		r, key, p, err := s.parseRecipient(it)
		if err != nil {
			return nil, nil, nil, err
		}
		if len(p) > 0 {
			prefix := "to: "
			if len(items) > 1 || t[0] == '[' {
				prefix = fmt.Sprintf("to[%d]: ", i)
			}
			for _, m := range p {
				problems = append(problems, prefix+m)
			}
			continue
		}
		if key != "" {
			if !seenTopic[key] {
				seenTopic[key] = true
				topics = append(topics, key)
			}
			continue
		}
		out = append(out, r)
	}
	return out, topics, problems, nil
}

// parseRecipient reads one entry of `to`: a subscriber, or a topic whose key
// it returns.
func (s *Server) parseRecipient(raw json.RawMessage) (delivery.Recipient, string, []string, error) {
	t := bytes.TrimSpace(raw)
	switch {
	case len(t) > 0 && t[0] == '"':
		var id string
		if err := json.Unmarshal(t, &id); err != nil {
			return delivery.Recipient{}, "", []string{"invalid subscriberId"}, nil
		}
		if p := subscriber.ValidateID(id); len(p) > 0 {
			return delivery.Recipient{}, "", p, nil
		}
		return delivery.Recipient{SubscriberID: id}, "", nil, nil
	case len(t) > 0 && t[0] == '{':
	default:
		return delivery.Recipient{}, "", []string{"must be a subscriberId string or a subscriber object"}, nil
	}
	var probe struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(t, &probe)
	if strings.EqualFold(probe.Type, "Topic") {
		var tb struct {
			TopicKey any `json:"topicKey"`
		}
		_ = json.Unmarshal(t, &tb)
		key, _ := tb.TopicKey.(string)
		if p := topic.ValidateKey(key); len(p) > 0 {
			for i := range p {
				p[i] = "topic" + strings.ToUpper(p[i][:1]) + p[i][1:]
			}
			return delivery.Recipient{}, "", p, nil
		}
		return delivery.Recipient{}, key, nil, nil
	}
	var sb subscriberBody
	if err := json.Unmarshal(t, &sb); err != nil {
		return delivery.Recipient{}, "", []string{describeJSONError(t, err)}, nil
	}
	problems := subscriber.ValidateID(sb.id())
	prof, more := sb.profile()
	problems = append(problems, more...)
	var channels []delivery.InlineChannel
	for _, cb := range sb.Channels {
		if p := cb.validate(); len(p) > 0 {
			problems = append(problems, p...)
			continue
		}
		enc, err := s.Cipher.Encrypt(cb.Credentials.WebhookURL)
		if err != nil {
			return delivery.Recipient{}, "", nil, errInternal(err)
		}
		channels = append(channels, delivery.InlineChannel{
			ProviderID: cb.ProviderID, IntegrationIdentifier: cb.IntegrationIdentifier,
			WebhookCiphertext: enc, Channel: cb.Credentials.Channel,
		})
	}
	if len(problems) > 0 {
		return delivery.Recipient{}, "", problems, nil
	}
	r := delivery.Recipient{SubscriberID: sb.id(), Channels: channels}
	if hasProfile(sb) || len(channels) > 0 {
		r.Profile = &delivery.Profile{
			FirstName: prof.FirstName, LastName: prof.LastName, Email: prof.Email, Phone: prof.Phone,
			Avatar: prof.Avatar, Locale: prof.Locale, Data: prof.Data, HasData: prof.HasData,
		}
	}
	return r, "", nil, nil
}

func hasProfile(b subscriberBody) bool {
	return b.FirstName != nil || b.LastName != nil || b.Email != nil || b.Phone != nil ||
		b.Avatar != nil || b.Locale != nil || !isNull(b.Data)
}
