package delivery

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/heraldhq/herald/pkg/filter"
	"github.com/heraldhq/herald/pkg/integration"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/subscriber"
	"github.com/heraldhq/herald/pkg/workflow"
)

// Statuses of messages that were not sent on their own.
const (
	// StatusCanceled: filtered out by the step's filters, or canceled with
	// DELETE /v1/events/trigger/:transactionId.
	StatusCanceled = "canceled"
	// StatusMerged: the event was digested into another event's message.
	StatusMerged = "merged"
)

// Execution detail texts of filters, delays, digests and cancel (Novu's
// wording where Novu has one).
const (
	TextStepFiltered     = "Step was filtered based on steps filters"
	TextStepDelayed      = "Step delayed"
	TextDelayFailed      = "Delay date could not be read from the payload"
	TextStartDigesting   = "Start digesting"
	TextDigestTriggered  = "Digest triggered events"
	TextDigestMerged     = "Digest was merged with other digest"
	TextStepCanceled     = "Step canceled"
	TextBlockKitViolated = "Message blocks break Slack's Block Kit limits"
)

// Error ids of the failures above.
const (
	errorIDDelayFailed = "delay_date_invalid"
	errorIDBlockKit    = "blockkit_limits"
)

// stepPlan is a workflow's active steps with their filters decoded once per batch.
type stepPlan struct {
	steps     []workflow.Step
	filters   [][]filter.Filter
	filterErr []error
}

func newPlan(steps []workflow.Step) *stepPlan {
	pl := &stepPlan{steps: steps, filters: make([][]filter.Filter, len(steps)), filterErr: make([]error, len(steps))}
	for i, s := range steps {
		pl.filters[i], pl.filterErr[i] = s.ParseFilters()
	}
	return pl
}

// stepRun is one subscriber's walk through the steps of one event (or, after
// a digest, of the digested events).
type stepRun struct {
	p      TriggerPayload
	wf     *workflow.Workflow
	sub    *subscriber.Subscriber
	nid    primitive.ObjectID
	data   map[string]any
	active map[primitive.ObjectID]*integration.Integration
	// at is when the next step is due: the trigger time plus the delays so far.
	at time.Time
	// pre are details added to every following chat message (delays, digest).
	pre []Detail
	// failure, when set, fails every following chat step (a delay that
	// could not be computed).
	failure *Detail
	// digested is set when walking the steps after a digest.
	digested bool
}

// prepared is one message and, when it can be delivered, its deliver task.
type prepared struct {
	msg  Message
	task DeliverPayload
	ok   bool
}

// stepResult is what a walk produced: messages to insert (with their
// tasks) and, when it reached a digest step, the event to add to a digest.
type stepResult struct {
	prepared []prepared
	join     *digestJoin
}

// walkSteps runs the plan's steps from index from for one subscriber.
func (w *Worker) walkSteps(pl *stepPlan, r stepRun, from int) stepResult {
	var res stepResult
	for i := from; i < len(pl.steps); i++ {
		step := pl.steps[i]
		switch step.Kind() {
		case workflow.StepTypeDelay:
			if r.failure != nil {
				continue
			}
			until, raw, err := delayUntil(step, r.at, r.p.Payload)
			if err != nil {
				d := NewDetail(TextDelayFailed, DetailFailed, SourcePayload, err.Error(), false)
				r.failure = &d
				continue
			}
			r.at = until
			r.pre = append(r.pre, NewDetail(TextStepDelayed, DetailPending, SourceInternal, raw, false))
		case workflow.StepTypeDigest:
			if r.digested || r.failure != nil {
				continue
			}
			join := w.newJoin(r, step)
			res.join = &join
			detail := NewDetail(TextStartDigesting, DetailPending, SourceInternal, rawJSON(map[string]any{
				"amount": step.Metadata.Amount, "unit": step.Metadata.Unit, "digestKey": step.Metadata.DigestKey,
				"digestValue": join.KeyValue, "eventAt": join.EventAt,
			}), false)
			for _, next := range pl.steps[i+1:] {
				if next.Kind() == workflow.StepTypeChat {
					res.prepared = append(res.prepared, prepared{msg: w.placeholder(r, next, detail)})
				}
			}
			return res
		case workflow.StepTypeChat:
			res.prepared = append(res.prepared, w.runChat(pl, i, r))
		}
	}
	return res
}

// runChat evaluates a chat step's filters and prepares its message.
func (w *Worker) runChat(pl *stepPlan, i int, r stepRun) prepared {
	step := pl.steps[i]
	if r.failure != nil {
		m := w.newMessage(r, step)
		m.Status, m.ErrorID, m.ErrorText = StatusError, errorIDDelayFailed, r.failure.Raw
		m.ExecutionDetails = append(m.ExecutionDetails, r.pre...)
		m.ExecutionDetails = append(m.ExecutionDetails, *r.failure)
		return prepared{msg: m}
	}
	if fs := pl.filters[i]; len(fs) > 0 || pl.filterErr[i] != nil {
		passed, result := false, filter.Result{}
		raw := ""
		if pl.filterErr[i] != nil {
			raw = rawJSON(map[string]any{"error": pl.filterErr[i].Error()})
		} else {
			sub, _ := r.data["subscriber"].(map[string]any)
			passed, result = filter.Evaluate(fs, filter.Data{Payload: r.p.Payload, Subscriber: sub})
			raw = rawJSON(map[string]any{"passed": passed, "summary": result.String(), "filters": result.Filters})
		}
		if !passed {
			m := w.newMessage(r, step)
			m.Status = StatusCanceled
			m.ExecutionDetails = append(m.ExecutionDetails, r.pre...)
			m.ExecutionDetails = append(m.ExecutionDetails, NewDetail(TextStepFiltered, DetailPending, SourceInternal, raw, false))
			return prepared{msg: m}
		}
	}
	m, dp, ok := w.prepare(r, step)
	return prepared{msg: m, task: dp, ok: ok}
}

// newMessage is a pending chat message of step for the run's subscriber,
// with its "Step created" detail.
func (w *Worker) newMessage(r stepRun, step workflow.Step) Message {
	created := NewDetail(TextStepCreated, DetailPending, SourceInternal, "", false)
	p, sub := r.p, r.sub
	return Message{
		ID: MessageID(p.EnvironmentID, p.TransactionID, sub.SubscriberID, step.ID), EnvironmentID: p.EnvironmentID,
		OrganizationID: p.OrganizationID, NotificationID: r.nid, TemplateID: r.wf.ID, TemplateIdentifier: r.wf.TriggerIdentifier,
		StepID: step.ID, StepName: step.Name, SubscriberObjID: sub.ID, SubscriberID: sub.SubscriberID,
		TransactionID: p.TransactionID, Channel: workflow.StepTypeChat, Status: StatusPending,
		DeliveredAt: []time.Time{}, CreatedAt: created.CreatedAt, UpdatedAt: created.CreatedAt,
		ExecutionDetails: []Detail{created},
	}
}

// placeholder is the pending message of a chat step after a digest: the
// digest task fills it in (the first event's) or marks it merged (the others').
func (w *Worker) placeholder(r stepRun, step workflow.Step, digesting Detail) Message {
	m := w.newMessage(r, step)
	m.ExecutionDetails = append(m.ExecutionDetails, r.pre...)
	m.ExecutionDetails = append(m.ExecutionDetails, digesting)
	return m
}

// delayUntil computes when a delay step ends, starting at at, and the raw
// text of its "Step delayed" detail.
func delayUntil(step workflow.Step, at time.Time, payload map[string]any) (time.Time, string, error) {
	m := step.Metadata
	if m == nil {
		return at, "", fmt.Errorf("the delay step has no metadata")
	}
	if m.Type != workflow.DelayScheduled {
		until := m.After(at)
		return until, rawJSON(map[string]any{"type": workflow.DelayRegular, "amount": m.Amount, "unit": m.Unit, "until": until}), nil
	}
	v, ok := filter.Lookup(payload, m.DelayPath)
	if !ok {
		return at, "", fmt.Errorf("payload.%s is missing; a scheduled delay needs an ISO 8601 date there", m.DelayPath)
	}
	s, isStr := v.(string)
	if !isStr {
		return at, "", fmt.Errorf("payload.%s is %v, not an ISO 8601 date string", m.DelayPath, v)
	}
	until, err := parseDate(s)
	if err != nil {
		return at, "", fmt.Errorf("payload.%s is %q, not an ISO 8601 date (e.g. 2030-01-02T15:04:05Z)", m.DelayPath, s)
	}
	if until.Sub(at) > workflow.MaxWait {
		return at, "", fmt.Errorf("payload.%s is %s, more than 366 days ahead", m.DelayPath, s)
	}
	raw := map[string]any{"type": workflow.DelayScheduled, "delayPath": m.DelayPath, "until": until}
	if until.Before(at) {
		// A date in the past sends at once, as Novu does.
		raw["until"], raw["past"] = at, true
		until = at
	}
	return until, rawJSON(raw), nil
}

func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not a date")
}

// due returns when a run's messages are due, never before now.
func (r stepRun) due() time.Time {
	if now := store.Now(); r.at.Before(now) {
		return time.Time{}
	}
	return r.at
}

var _ = json.Marshal
