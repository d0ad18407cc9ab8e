package herald

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/heraldhq/herald/pkg/dashboard"
	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/environment"
	"github.com/heraldhq/herald/pkg/slackoauth"
	"github.com/heraldhq/herald/pkg/store"
)

// NewDashboard builds the operations dashboard on the services.
func (s *Services) NewDashboard(oauth *slackoauth.Service) (*dashboard.Dashboard, error) {
	d := dashboard.Deps{
		Logger: s.Logger, Cipher: s.Cipher, Environments: s.Environments, Subscribers: s.Subscribers,
		Activity:     &activity{log: s.Deliveries, retrier: &delivery.Retrier{Log: s.Deliveries, Subscribers: s.Subscribers, Queue: s.Queue}},
		Queues:       newQueueStats(s.Inspector),
		SecureCookie: strings.HasPrefix(s.Config.PublicURL, "https://"),
	}
	if oauth != nil {
		d.Links = shareLinks{oauth}
	}
	return dashboard.New(d)
}

// activity adapts the delivery log to the dashboard.
type activity struct {
	log     *delivery.Log
	retrier *delivery.Retrier
}

func (a *activity) Feed(ctx context.Context, env primitive.ObjectID, f dashboard.FeedFilter, page, limit int) ([]dashboard.FeedRow, int64, map[string]int64, error) {
	msgs, total, counts, err := a.log.Activity(ctx, env, delivery.ActivityFilter{
		Status: f.Status, TemplateIdentifier: f.Workflow, SubscriberID: f.SubscriberID,
		TransactionID: f.TransactionID, From: f.From, To: f.To,
	}, page, limit)
	if err != nil {
		return nil, 0, nil, err
	}
	rows := make([]dashboard.FeedRow, 0, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		rows = append(rows, dashboard.FeedRow{
			NotificationID: m.NotificationID.Hex(), MessageID: m.ID.Hex(), CreatedAt: m.CreatedAt,
			Workflow: m.TemplateIdentifier, SubscriberID: m.SubscriberID, TransactionID: m.TransactionID,
			Channel: m.Channel, Provider: m.ProviderID, Status: m.ActivityStatus(),
		})
	}
	return rows, total, counts, nil
}

func (a *activity) Notification(ctx context.Context, env primitive.ObjectID, id string) (*dashboard.NotificationView, error) {
	oid, err := store.ParseID(id)
	if err != nil {
		return nil, err
	}
	n, err := a.log.GetNotification(ctx, env, oid)
	if err != nil {
		return nil, err
	}
	msgs, err := a.log.MessagesOf(ctx, env, []primitive.ObjectID{n.ID}, "")
	if err != nil {
		return nil, err
	}
	payload, _ := json.MarshalIndent(n.Payload, "", "  ")
	v := &dashboard.NotificationView{
		ID: n.ID.Hex(), Workflow: n.TemplateIdentifier, SubscriberID: n.SubscriberID,
		TransactionID: n.TransactionID, CreatedAt: n.CreatedAt, Payload: string(payload),
	}
	for i := range msgs {
		v.Jobs = append(v.Jobs, jobView(&msgs[i]))
	}
	return v, nil
}

// rawFacts are the fields the timeline lifts out of a detail's raw JSON.
type rawFacts struct {
	StatusCode  int        `json:"statusCode"`
	NextRetryAt *time.Time `json:"nextRetryAt"`
}

func jobView(m *delivery.Message) dashboard.JobView {
	j := dashboard.JobView{
		MessageID: m.ID.Hex(), Step: m.StepName, Channel: m.Channel, Provider: m.ProviderID,
		Status: m.ActivityStatus(), Attempts: m.Attempts, Content: m.Content,
	}
	j.Retryable = m.Status == delivery.StatusError
	attempt := 0
	for _, d := range m.ExecutionDetails {
		if d.Detail == delivery.TextStartSending {
			attempt++
		}
		var facts rawFacts
		if strings.HasPrefix(d.Raw, "{") {
			_ = json.Unmarshal([]byte(d.Raw), &facts)
		}
		if facts.NextRetryAt != nil && j.Status == delivery.ActivityRetrying {
			j.NextRetry = facts.NextRetryAt
		}
		j.Details = append(j.Details, dashboard.DetailView{
			CreatedAt: d.CreatedAt, Detail: d.Detail, Status: d.Status, Source: d.Source,
			Raw: d.Raw, IsRetry: d.IsRetry, Attempt: attempt, StatusCode: facts.StatusCode,
		})
	}
	return j
}

func (a *activity) Retry(ctx context.Context, env primitive.ObjectID, messageID string) error {
	oid, err := store.ParseID(messageID)
	if err != nil {
		return err
	}
	_, err = a.retrier.Retry(ctx, env, oid)
	if errors.Is(err, delivery.ErrNotRetryable) {
		return errors.New("the message is no longer failed (it may already be retrying)")
	}
	return err
}

// queueStats reads asynq's inspector and derives per-minute rates from the
// change of its daily counters between samples.
type queueStats struct {
	in   *asynq.Inspector
	mu   sync.Mutex
	prev map[string]sample
}

type sample struct {
	at                time.Time
	processed, failed int
}

func newQueueStats(in *asynq.Inspector) *queueStats {
	return &queueStats{in: in, prev: map[string]sample{}}
}

func (q *queueStats) Stats(ctx context.Context) ([]dashboard.QueueStat, error) {
	names, err := q.in.Queues()
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]dashboard.QueueStat, 0, len(names))
	now := time.Now()
	for _, name := range names {
		info, err := q.in.GetQueueInfo(name)
		if err != nil {
			return nil, err
		}
		st := dashboard.QueueStat{
			Name: name, Size: info.Size, Pending: info.Pending, Active: info.Active, Scheduled: info.Scheduled,
			Retry: info.Retry, Archived: info.Archived, Completed: info.Completed, Paused: info.Paused,
		}
		if p, ok := q.prev[name]; ok && now.Sub(p.at) >= 5*time.Second && info.Processed >= p.processed {
			mins := now.Sub(p.at).Minutes()
			st.ProcessedPerMinute = int(float64(info.Processed-p.processed) / mins)
			st.FailedPerMinute = int(float64(info.Failed-p.failed) / mins)
		}
		if p, ok := q.prev[name]; !ok || now.Sub(p.at) >= 5*time.Second {
			q.prev[name] = sample{at: now, processed: info.Processed, failed: info.Failed}
		}
		out = append(out, st)
	}
	return out, nil
}

// shareLinks builds a subscriber's "Add to Slack" link.
type shareLinks struct{ oauth *slackoauth.Service }

func (l shareLinks) SlackConnectURL(ctx context.Context, env *environment.Environment, subscriberID string) (string, error) {
	u, err := l.oauth.ShareableURL(ctx, env, subscriberID, "")
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return u, err
}
