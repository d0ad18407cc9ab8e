// Package slack delivers chat messages to Slack incoming webhooks. It posts
// {text, blocks, ...overrides} once per Send and classifies Slack's answer
// (for example 404 no_service, 410 channel_is_archived: permanent; 429:
// rate limited; 5xx and network errors: transient), keeping Slack's response
// body for the delivery log and never revealing the webhook URL.
package slack
