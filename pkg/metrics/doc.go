// Package metrics holds Herald's Prometheus metrics: triggers accepted and
// rejected, deliveries by provider and outcome, delivery latency from trigger
// to provider answer, and queue depth read from asynq at scrape time. Each
// process builds its own registry (no globals) and pre-creates its series so
// dashboards see zeros, not gaps.
package metrics
