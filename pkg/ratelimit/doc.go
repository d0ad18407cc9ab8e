// Package ratelimit enforces Herald's rate limits in Redis, so they hold
// across every API and worker process: at most one message per second per
// webhook (Slack's limit, with a small burst) and a configurable trigger rate
// per environment. A caller over a limit is told how long to wait; nothing
// here sleeps.
package ratelimit
