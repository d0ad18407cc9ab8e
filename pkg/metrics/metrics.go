package metrics

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/heraldhq/herald/pkg/notify"
)

// Outcomes of a delivery attempt.
const (
	OutcomeSent        = "sent"
	OutcomePermanent   = "permanent"
	OutcomeTransient   = "transient"
	OutcomeRateLimited = "rate_limited"
)

// Metrics is one process's metrics.
type Metrics struct {
	Registry        *prometheus.Registry
	triggers        *prometheus.CounterVec
	deliveries      *prometheus.CounterVec
	latency         *prometheus.HistogramVec
	providerLatency *prometheus.HistogramVec
}

// New registers Herald's metrics (and Go/process collectors) on a fresh registry.
func New(providers ...string) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		triggers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "herald", Name: "triggers_total",
			Help: "Trigger requests by result (accepted, rejected) and HTTP status.",
		}, []string{"result", "status"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "herald", Name: "deliveries_total",
			Help: "Delivery attempts by provider, outcome (sent, permanent, transient, rate_limited) and reason (provider HTTP status or error class).",
		}, []string{"provider", "outcome", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "herald", Name: "delivery_latency_seconds",
			Help:    "Time from the trigger being accepted to the provider's answer, for successful deliveries.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200},
		}, []string{"provider"}),
		providerLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "herald", Name: "provider_request_seconds",
			Help:    "Duration of one provider HTTP attempt.",
			Buckets: prometheus.DefBuckets,
		}, []string{"provider"}),
	}
	m.Registry.MustRegister(m.triggers, m.deliveries, m.latency, m.providerLatency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range []string{"accepted", "rejected"} {
		m.triggers.WithLabelValues(r, map[string]string{"accepted": "201", "rejected": "400"}[r])
	}
	for _, p := range providers {
		for _, o := range []string{OutcomeSent, OutcomePermanent, OutcomeTransient, OutcomeRateLimited} {
			reason := ""
			if o == OutcomeSent {
				reason = "200"
			}
			m.deliveries.WithLabelValues(p, o, reason)
		}
		m.latency.WithLabelValues(p)
		m.providerLatency.WithLabelValues(p)
	}
	return m
}

// Handler serves the registry in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// CountTriggers is echo middleware counting trigger requests by outcome.
func (m *Metrics) CountTriggers(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if !strings.HasPrefix(c.Path(), "/v1/events/trigger") || c.Request().Method != http.MethodPost {
			return err
		}
		status := c.Response().Status
		var he *echo.HTTPError
		var coder interface{ StatusCode() int }
		switch {
		case err == nil:
		case errors.As(err, &coder):
			status = coder.StatusCode()
		case errors.As(err, &he):
			status = he.Code
		default:
			status = http.StatusInternalServerError
		}
		result := "accepted"
		if status >= 300 {
			result = "rejected"
		}
		m.triggers.WithLabelValues(result, strconv.Itoa(status)).Inc()
		return err
	}
}

// ObserveDelivery records one delivery attempt's outcome; triggeredAt, when
// known and the attempt succeeded, feeds the trigger-to-answer latency.
func (m *Metrics) ObserveDelivery(provider string, err error, triggeredAt time.Time) {
	if err == nil {
		m.deliveries.WithLabelValues(provider, OutcomeSent, "200").Inc()
		if !triggeredAt.IsZero() {
			m.latency.WithLabelValues(provider).Observe(time.Since(triggeredAt).Seconds())
		}
		return
	}
	ne := notify.AsError(err)
	outcome := OutcomeTransient
	switch ne.Kind {
	case notify.Permanent:
		outcome = OutcomePermanent
	case notify.RateLimited:
		outcome = OutcomeRateLimited
	}
	reason := "network"
	if ne.StatusCode > 0 {
		reason = strconv.Itoa(ne.StatusCode)
	} else if errors.Is(err, context.DeadlineExceeded) {
		reason = "timeout"
	}
	m.deliveries.WithLabelValues(provider, outcome, reason).Inc()
}

// InstrumentSender wraps a provider's Sender to record every attempt.
func (m *Metrics) InstrumentSender(provider string, s notify.Sender) notify.Sender {
	return notify.SenderFunc(func(ctx context.Context, msg notify.Message) (notify.Result, error) {
		start := time.Now()
		res, err := s.Send(ctx, msg)
		m.providerLatency.WithLabelValues(provider).Observe(time.Since(start).Seconds())
		m.ObserveDelivery(provider, err, msg.TriggeredAt)
		return res, err
	})
}

// queueCollector reads queue depth from asynq at scrape time.
type queueCollector struct {
	in   *asynq.Inspector
	desc *prometheus.Desc
}

// WatchQueues adds a gauge herald_queue_tasks{queue,state} read from asynq on each scrape.
func (m *Metrics) WatchQueues(in *asynq.Inspector) {
	m.Registry.MustRegister(&queueCollector{in: in, desc: prometheus.NewDesc("herald_queue_tasks",
		"Tasks in each asynq queue by state (pending, active, scheduled, retry, archived).", []string{"queue", "state"}, nil)})
}

func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- q.desc }

func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	names, err := q.in.Queues()
	if err != nil {
		return
	}
	for _, name := range names {
		info, err := q.in.GetQueueInfo(name)
		if err != nil {
			continue
		}
		for state, n := range map[string]int{"pending": info.Pending, "active": info.Active, "scheduled": info.Scheduled, "retry": info.Retry, "archived": info.Archived} {
			ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, float64(n), name, state)
		}
	}
}
